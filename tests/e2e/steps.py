"""Steps more than one browser test takes."""

import re

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD
from tests.totp import fresh_code

CASE_URL = re.compile(r"/cases/[0-9a-f-]{36}/$")


def sign_in(page: Page, base_url: str, email: str, totp_secret: str = "") -> None:
    """Sign in through the real form; with `totp_secret`, type the app's code when asked."""
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if totp_secret:
        expect(
            page.get_by_role("heading", name="Two-Factor Authentication")
        ).to_be_visible()
        expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
        page.get_by_label("Code").fill(fresh_code(totp_secret))
        page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
