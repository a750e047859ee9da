"""A new caseworker's first triage, through the browser: no case until an authenticator app is on."""

import re

import pytest
from playwright.sync_api import expect

from cases import services as case_services
from cases.models import Category, HelpWanted, Urgency
from portal.accounts import roles
from portal.accounts.mfa import GATE_MESSAGE
from portal.projects.services import register_project
from tests.e2e.steps import CASE_URL, sign_in
from tests.factories import PASSWORD, UserFactory
from tests.totp import fresh_code, secret_of

NARRATIVE = "They want the signing key by Friday or they will fork: teal-finch-3318."


@pytest.fixture
def open_case(journey_db):
    maya = UserFactory(email="maya@example.org", display_name="Maya Maintainer")
    roles.grant_role(maya, roles.MAINTAINER)
    project = register_project(
        actor=maya,
        name="tinyzip",
        ecosystem="generic",
        repository_url="https://github.com/example/tinyzip",
        purls=["pkg:github/example/tinyzip"],
    )
    return case_services.open_case(
        actor=maya,
        project=project,
        category=Category.HARASSMENT,
        urgency=Urgency.HIGH,
        help_wanted=[HelpWanted.STEWARD],
        narrative=NARRATIVE,
    )


@pytest.fixture
def nia(journey_db):
    """A caseworker who has never enrolled a second factor."""
    user = UserFactory(email="nia@example.org", display_name="Nia Newcomer")
    roles.grant_role(user, roles.CASEWORKER)
    return user


def test_caseworker_enrols_an_authenticator_app_before_triage(
    live_server, page, open_case, nia
):
    sign_in(page, live_server.url, nia.email)

    # The queue is held until a second factor is on; allauth first asks for the password again.
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Triage queue"
    ).click()
    expect(page.get_by_role("heading", name="Confirm Access")).to_be_visible()
    expect(page.get_by_text(GATE_MESSAGE)).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(
        f"{live_server.url}/accounts/2fa/totp/activate/?next=%2Fcases%2Fqueue%2F"
    )
    expect(
        page.get_by_role("heading", name="Activate Authenticator App")
    ).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("^[A-Z2-7]{32}$"))).to_be_visible()
    # What a person types into their phone app, read off the page as they would.
    secret = page.get_by_label("Authenticator secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    page.get_by_label("Authenticator code").fill(fresh_code(secret))
    page.get_by_role("button", name="Activate").click()

    expect(page.get_by_text("Authenticator app activated.")).to_be_visible()
    expect(page.get_by_role("heading", name="Recovery Codes")).to_be_visible()
    codes = page.get_by_label("Unused codes").input_value().split()
    assert len(codes) == 10
    assert secret_of(nia) == secret

    # Back to the page they asked for, and on to the work.
    page.get_by_role("link", name="continue to the page you asked for").click()
    expect(page).to_have_url(f"{live_server.url}/cases/queue/")
    expect(page.get_by_role("heading", name="Triage queue")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="tinyzip")
    expect(row).to_have_count(1)
    assert NARRATIVE not in page.content()

    row.get_by_role("button", name="Assign the tinyzip case to me").click()
    expect(page).to_have_url(CASE_URL)
    expect(page.get_by_text("The case is assigned to you.")).to_be_visible()
    expect(page.get_by_text(NARRATIVE)).to_be_visible()
