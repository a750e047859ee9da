"""Take the screenshots in docs/screenshots/ from a running demo portal. Not a test.

    make run                                   # in one shell: the demo server with demo data
    .venv/bin/python tests/e2e/screenshots.py http://127.0.0.1:8000

Signs in as the demo users of fixtures/demo.toml (Maya, a maintainer; Cara, a caseworker) and
saves full-page PNGs at a 1280x800 viewport. Home and notices are shown as an anonymous visitor
sees them.
"""

import sys
import tomllib
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.e2e import chromium  # noqa: E402 - run as a script, so the project root is added first
from tests.totp import fresh_code  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"
DEMO = tomllib.loads((ROOT / "fixtures" / "demo.toml").read_text(encoding="utf-8"))
PASSWORD = DEMO["password"]
# Demo caseworkers sign in with an authenticator code too (their secrets are public demo data).
TOTP_SECRETS = {
    u["email"]: u["totp_secret"] for u in DEMO["users"] if "totp_secret" in u
}
MAINTAINER = "maya@example.org"
CASEWORKER = "cara@example.org"


def shoot(page: Page, name: str) -> None:
    path = OUT / name
    page.screenshot(path=str(path), full_page=True)
    print(f"wrote {path.relative_to(ROOT)}")


def open_as(browser: Browser, base_url: str, email: str | None) -> Page:
    """A page in a fresh context, signed in as `email` through the real form (or anonymous)."""
    page = browser.new_context(viewport=chromium.VIEWPORT, base_url=base_url).new_page()
    if email:
        page.goto("/accounts/login/")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        if email in TOTP_SECRETS:
            page.get_by_label("Code").fill(fresh_code(TOTP_SECRETS[email]))
            page.get_by_role("button", name="Sign In").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return page


def main(base_url: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = chromium.launch(playwright)
        try:
            visitor = open_as(browser, base_url, None)
            visitor.goto("/")
            expect(
                visitor.get_by_role("heading", name="Steady", exact=True)
            ).to_be_visible()
            shoot(visitor, "home.png")
            visitor.get_by_role("navigation", name="Main").get_by_role(
                "link", name="Notices"
            ).click()
            shoot(visitor, "notices.png")

            maya = open_as(browser, base_url, MAINTAINER)
            maya.goto("/cases/new/")
            expect(maya.get_by_role("heading", name="Ask for help")).to_be_visible()
            shoot(maya, "case-form.png")
            maya.goto("/cases/")
            maya.get_by_role("row").filter(has_text="tinyzip").get_by_role(
                "link"
            ).first.click()
            expect(
                maya.get_by_role("heading", name="Case about tinyzip")
            ).to_be_visible()
            shoot(maya, "case-detail.png")

            cara = open_as(browser, base_url, CASEWORKER)
            cara.get_by_role("navigation", name="Main").get_by_role(
                "link", name="Triage queue"
            ).click()
            expect(cara.get_by_role("heading", name="Triage queue")).to_be_visible()
            shoot(cara, "queue.png")
            cara.get_by_role("navigation", name="Main").get_by_role(
                "link", name="Steward roster"
            ).click()
            shoot(cara, "roster.png")
            cara.get_by_role("navigation", name="Main").get_by_role(
                "link", name="Assigned cases"
            ).click()
            cara.get_by_role("row").filter(has_text="tinyzip").get_by_role(
                "link"
            ).first.click()
            cara.get_by_role("link", name="Matching stewards").first.click()
            shoot(cara, "matching.png")

            visitor.goto("/notices/")
            visitor.get_by_role("row").filter(has_text="tinyzip").get_by_role(
                "link"
            ).first.click()
            shoot(visitor, "notice-detail.png")
            visitor.goto("/check/")
            shoot(visitor, "check.png")
        finally:
            browser.close()


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8000")
