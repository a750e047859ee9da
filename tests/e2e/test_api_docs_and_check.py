"""In a real browser: the API docs page runs under the strict CSP, and the dependency check works."""

import pytest
from playwright.sync_api import expect

from tests.portal.notices.publishing import publish

pytestmark = pytest.mark.usefixtures("journey_db")


def _csp_violations(page) -> list[str]:
    messages = []
    page.on(
        "console",
        lambda message: (
            messages.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    return messages


def test_api_docs_render_every_operation_without_a_csp_violation(live_server, page):
    violations = _csp_violations(page)
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=15000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/notices" in text for text in paths)
    assert any("/api/v1/log/proof/consistency" in text for text in paths)
    assert violations == []


def test_dependency_check_page_shows_the_notice_for_a_pasted_purl(
    live_server, page, caseworker, second_caseworker
):
    notice = publish(caseworker, second_caseworker).notice
    violations = _csp_violations(page)
    page.goto(f"{live_server.url}/check/")
    page.get_by_label("…or paste the document").fill("pkg:pypi/tinyzip@1.4.1\n")
    page.get_by_role("button", name="Check", exact=True).click()
    row = page.locator("table tbody tr").first
    expect(row).to_contain_text(notice.reference)
    expect(row).to_contain_text("Yes, on 2026-11-18")
    assert violations == []
