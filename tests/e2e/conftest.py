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


@pytest.fixture
def journey_db(transactional_db, django_db_serialized_rollback):
    """The live server reads the database from another thread, so the test must commit.

    Serialized rollback restores what the migrations put in the database (the role groups)
    before the test, since a transactional test empties every table when it ends.
    """


@pytest.fixture(scope="session")
def browser(django_db_setup):
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs the rest of the session in a context of its own, where Django
    # opens new connection objects. They lack the database contents serialized when the test
    # database was created, so serialized rollback (`journey_db`) would silently restore nothing
    # (no content types, permissions or role groups) once an earlier transactional test has
    # emptied the tables.
    serialized = {
        alias: connections[alias]._test_serialized_contents
        for alias in connections
        if hasattr(connections[alias], "_test_serialized_contents")
    }
    with sync_playwright() as playwright:
        for alias, contents in serialized.items():
            connections[alias]._test_serialized_contents = contents
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
