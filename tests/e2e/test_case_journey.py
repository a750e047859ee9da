"""A case's first journey, through the browser: a maintainer asks for help, a caseworker takes it."""

import pytest
from playwright.sync_api import expect

from portal.accounts import roles
from portal.projects.services import register_project
from tests.e2e.steps import CASE_URL, sign_in
from tests.factories import UserFactory
from tests.totp import enrol, secret_of

NARRATIVE = "Someone keeps pushing me to hand over the release keys: amber-heron-9052."


@pytest.fixture
def maya(journey_db):
    user = UserFactory(email="maya@example.org", display_name="Maya Maintainer")
    roles.grant_role(user, roles.MAINTAINER)
    register_project(
        actor=user,
        name="tinyzip",
        ecosystem="generic",
        repository_url="https://github.com/example/tinyzip",
        purls=["pkg:github/example/tinyzip"],
    )
    return user


@pytest.fixture
def cara(journey_db):
    """A caseworker with an authenticator app, as every caseworker must have."""
    user = UserFactory(email="cara@example.org", display_name="Cara Caseworker")
    roles.grant_role(user, roles.CASEWORKER)
    enrol(user)
    return user


def test_maintainer_opens_a_case_and_a_caseworker_takes_it(
    live_server, new_page, maya, cara
):
    # The maintainer asks for help.
    page = new_page()
    sign_in(page, live_server.url, maya.email)
    page.get_by_role("link", name="Ask for help").click()
    expect(page).to_have_url(f"{live_server.url}/cases/new/")
    expect(page.get_by_role("heading", name="Ask for help")).to_be_visible()

    expect(page.get_by_label("Project").locator("option:checked")).to_contain_text(
        "tinyzip"
    )
    page.get_by_label("What is going on").select_option(
        label="Harassment or pressure campaign"
    )
    page.get_by_label("Urgency").select_option(label="High")
    page.get_by_label("An interim steward").check()
    page.get_by_label("In your own words").fill(NARRATIVE)
    page.get_by_role("button", name="Open my case").click()

    expect(page).to_have_url(CASE_URL)
    expect(
        page.get_by_text("Your case is open. A caseworker will answer you here.")
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Case about tinyzip")).to_be_visible()
    expect(page.get_by_text(NARRATIVE)).to_be_visible()
    case_url = page.url

    # A caseworker, in a browser of their own, signs in with password and authenticator code
    # and finds it in the queue without reading it.
    page = new_page()
    sign_in(page, live_server.url, cara.email, totp_secret=secret_of(cara))
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Triage queue"
    ).click()
    expect(page.get_by_role("heading", name="Triage queue")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="tinyzip")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Harassment or pressure campaign")
    expect(row).to_contain_text("High")
    expect(row).to_contain_text("nobody")
    expect(page.get_by_text(NARRATIVE)).to_have_count(0)
    assert NARRATIVE not in page.content()

    # They take it, and only then can they read it.
    row.get_by_role("button", name="Assign the tinyzip case to me").click()
    expect(page).to_have_url(case_url)
    expect(page.get_by_text("The case is assigned to you.")).to_be_visible()
    expect(page.get_by_role("heading", name="Case about tinyzip")).to_be_visible()
    expect(page.get_by_text(NARRATIVE)).to_be_visible()
