"""Browser tests: real headless Chromium driven through Playwright's sync API.

Playwright cannot download its own browsers here, so it drives Debian's Chromium.
"""

import os
from pathlib import Path

import pytest

from tests.e2e import chromium

# Playwright's sync API runs an event loop in the main thread; without this Django would refuse
# ORM calls made from the test (factories, services, assertions) as "async unsafe".
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """Mark every test in this folder `e2e` (the marker is declared in pyproject.toml)."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = chromium.launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(browser):
    """Open a page in a fresh browser context (its own cookies: one signed-in person each).

    Every context opened through this factory is closed after the test.
    """
    contexts = []

    def open_page():
        context = browser.new_context(viewport=chromium.VIEWPORT)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    """A page in a browser context of its own, closed after the test."""
    return new_page()
