"""A steward's whole way in, through the browser: an application, an identity check by one
caseworker, two vouches from long-vetted stewards, approval by a second caseworker, a match on a
maintainer's request, a proposal, and the maintainer accepting. The steward then reads the brief
and never the case."""

import datetime

import pytest
from playwright.sync_api import expect

from cases import services as case_services
from cases.models import Assignment, Category, HelpWanted, Urgency
from portal.accounts import roles
from portal.projects.services import register_project
from portal.roster.models import StewardProfile
from tests.cases.stewards import drop_broker_pools
from tests.e2e.steps import sign_in
from tests.factories import UserFactory, VettedStewardFactory, ssh_public_key_line
from tests.totp import enrol

NARRATIVE = "Two accounts keep pushing me to hand over the release keys: osprey-4410."
BRIEF = "Please triage new issues and review the fuzzing fixes: lynx-2718."


def _person(email, name, *role_names):
    user = UserFactory(email=email, display_name=name)
    for role in role_names:
        roles.grant_role(user, role)
    return user


@pytest.fixture(autouse=True)
def _fresh_broker_pools():
    # The live server runs the journey's tasks eagerly (see drop_broker_pools).
    yield
    drop_broker_pools()


@pytest.fixture
def world(journey_db):
    maya = _person("maya@example.org", "Maya Maintainer", roles.MAINTAINER)
    cara = _person("cara@example.org", "Cara Caseworker", roles.CASEWORKER)
    colin = _person("colin@example.org", "Colin Second", roles.CASEWORKER)
    secrets = {cara.email: enrol(cara), colin.email: enrol(colin)}
    project = register_project(
        actor=maya,
        name="tinyzip",
        ecosystem="generic",
        repository_url="https://github.com/example/tinyzip",
        purls=["pkg:github/example/tinyzip"],
    )
    case = case_services.open_case(
        actor=maya,
        project=project,
        category=Category.HARASSMENT,
        urgency=Urgency.HIGH,
        help_wanted=[HelpWanted.STEWARD],
        narrative=NARRATIVE,
    )
    case_services.assign_caseworker(case=case, caseworker=cara, actor=cara)
    # Two stewards the foundation vetted 200 days ago: old enough to vouch.
    vouchers = [
        VettedStewardFactory(
            user=_person(f"{handle}@example.org", handle, roles.STEWARD),
            handle=handle,
        )
        for handle in ("omar-haddad", "priya-raman")
    ]
    ada = _person("ada@example.org", "Ada Applicant")
    return {
        "maya": maya,
        "cara": cara,
        "colin": colin,
        "secrets": secrets,
        "case": case,
        "vouchers": vouchers,
        "ada": ada,
    }


def test_an_application_is_vetted_matched_proposed_and_accepted(
    live_server, new_page, world
):
    base = live_server.url
    ada_page = new_page()
    sign_in(ada_page, base, world["ada"].email)
    ada_page.goto(f"{base}/roster/apply/")
    ada_page.get_by_label("Handle").fill("ada-lovel")
    ada_page.get_by_label("Forge accounts").fill("github:ada-lovel")
    ada_page.get_by_label("Other").check()
    ada_page.get_by_label("Languages you speak").fill("English, French")
    ada_page.get_by_label("Skills").fill("c, fuzzing")
    ada_page.get_by_label("Time zone").select_option("Europe/Paris")
    ada_page.get_by_label("Hours per week").fill("10")
    ada_page.get_by_label("Most projects at once").fill("2")
    ada_page.get_by_label("Statement").fill("I maintain a C parser and fuzz it daily.")
    ada_page.get_by_label("Public signing keys").fill(
        ssh_public_key_line("ada@example.org")
    )
    ada_page.get_by_role("button", name="Apply").click()
    expect(ada_page).to_have_url(f"{base}/roster/me/")
    ada = StewardProfile.objects.get(handle="ada-lovel")
    steward_url = f"{base}/roster/{ada.public_id}/"

    # The first caseworker checks who Ada is.
    cara_page = new_page()
    sign_in(cara_page, base, world["cara"].email, world["secrets"]["cara@example.org"])
    cara_page.goto(steward_url)
    cara_page.get_by_label("How the identity was checked").select_option(
        "video-document"
    )
    cara_page.get_by_role("button", name="Record identity check").click()
    expect(cara_page.get_by_text("recorded by Cara Caseworker")).to_be_visible()
    # Cara recorded the check, so she cannot approve; and the vouches are missing anyway.
    cara_page.get_by_role("button", name="Approve vetting").click()
    expect(cara_page.get_by_role("alert")).to_contain_text("Not vetted")
    assert not StewardProfile.objects.get(pk=ada.pk).is_vetted

    # Two long-vetted stewards vouch.
    for voucher in world["vouchers"]:
        page = new_page()
        sign_in(page, base, voucher.user.email)
        page.goto(f"{steward_url}vouch/")
        page.get_by_label("Why you vouch for them").fill(
            "We have reviewed each other's patches for three years."
        )
        page.get_by_role("button", name="Vouch for ada-lovel").click()
        expect(
            page.get_by_text("Your vouch for ada-lovel is recorded.")
        ).to_be_visible()

    # A second caseworker approves.
    colin_page = new_page()
    sign_in(
        colin_page, base, world["colin"].email, world["secrets"]["colin@example.org"]
    )
    colin_page.goto(steward_url)
    colin_page.get_by_role("button", name="Approve vetting").click()
    expect(colin_page.locator(".message.success")).to_contain_text(
        "ada-lovel is vetted until"
    )
    assert StewardProfile.objects.get(pk=ada.pk).is_vetted

    # The maintainer asks for a steward on her case.
    maya_page = new_page()
    sign_in(maya_page, base, world["maya"].email)
    case_url = f"{base}/cases/{world['case'].public_id}/"
    maya_page.goto(case_url)
    maya_page.get_by_role("link", name="Ask for an interim steward").click()
    maya_page.get_by_label("Triage").check()
    maya_page.get_by_label("Review").check()
    start = datetime.date.today() + datetime.timedelta(days=3)
    maya_page.get_by_label("From").fill(start.isoformat())
    maya_page.get_by_label("Until").fill(
        (start + datetime.timedelta(days=60)).isoformat()
    )
    maya_page.get_by_label("Skills").fill("c, fuzzing")
    maya_page.get_by_label("Hours per week").fill("6")
    maya_page.get_by_label("Your time zone").fill("Europe/Berlin")
    maya_page.get_by_label("Brief for the steward").fill(BRIEF)
    maya_page.get_by_role("button", name="Ask for a steward").click()
    expect(
        maya_page.get_by_text("Your request is with your caseworker")
    ).to_be_visible()

    # The caseworker sees Ada ranked and proposes her.
    cara_page.goto(case_url)
    cara_page.get_by_role("link", name="Matching stewards").click()
    ranked = cara_page.locator("#ranked")
    expect(ranked).to_contain_text("ada-lovel")
    cara_page.get_by_role("button", name="Propose ada-lovel").click()
    expect(cara_page.get_by_text("ada-lovel is proposed")).to_be_visible()

    # The maintainer accepts.
    maya_page.goto(case_url)
    maya_page.locator("#stewards").get_by_role("link", name="ada-lovel").click()
    maya_page.get_by_role("button", name="Accept the steward").click()
    expect(maya_page.get_by_text("Accepted. The assignment is active.")).to_be_visible()
    expect(maya_page.locator("#assignment-status")).to_have_text("Active")
    assert Assignment.objects.get().status == Assignment.Status.ACTIVE

    # Ada reads her brief, and nothing else of the case.
    ada_page.goto(f"{base}/cases/assignments/")
    ada_page.get_by_role("link", name="tinyzip").click()
    expect(ada_page.get_by_text(BRIEF)).to_be_visible()
    expect(ada_page.get_by_text("osprey-4410")).to_have_count(0)
    response = ada_page.goto(case_url)
    assert response.status == 404
