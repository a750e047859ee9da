"""Who reaches the steward pages. The assigned steward reads the brief and nothing else of the
case; everyone who may not see the case gets the same 404 and changes nothing."""

import datetime
from types import SimpleNamespace

import pytest
from django.urls import reverse

from cases import services
from cases.models import (
    Assignment,
    AssignmentExtension,
    ConcernAlert,
    IdentityOfConcern,
    StewardRequest,
)
from portal.audit.models import AuditEvent
from tests.cases.stewards import ask_for_steward, make_steward
from tests.conftest import CANARY_NARRATIVE

pytestmark = pytest.mark.django_db

BRIEF = "Brief for the steward: release keys are in the usual place, wombat-5120."
MESSAGE = "Shared message the steward must not see: ibis-3344."
NOTE = "Internal note the steward must not see: tapir-9021."


@pytest.fixture
def setup(case, maintainer, caseworker):
    services.post_message(case=case, actor=maintainer, body=MESSAGE)
    services.post_message(case=case, actor=caseworker, body=NOTE, internal=True)
    stella = make_steward("stella-ruiz")
    steward_request = ask_for_steward(case, maintainer, brief=BRIEF)
    assignment = services.propose_assignment(
        request=steward_request, steward=stella, actor=caseworker
    )
    services.respond_to_assignment(assignment=assignment, actor=maintainer, accept=True)
    services.record_identity_of_concern(
        case=case, actor=caseworker, identity="github:sock"
    )
    make_steward("sock", forge_accounts=["github:sock"])
    from cases import screening

    screening.screen_identities(
        identities=["github:sock"], source="roster-application", subject="sock"
    )
    return SimpleNamespace(
        case=case,
        stella=stella,
        request=steward_request,
        assignment=assignment,
        alert=ConcernAlert.objects.get(),
        another_steward=make_steward("another"),
    )


def _args(name, setup):
    if name in ("cases:steward-matching", "cases:propose-steward"):
        return [setup.request.public_id]
    if name == "cases:clear-alert":
        return [setup.case.public_id, setup.alert.public_id]
    if name in ("cases:request-steward", "cases:record-identity"):
        return [setup.case.public_id]
    return [setup.assignment.public_id]


def _data(name, setup):
    return {
        "cases:respond-assignment": {"decision": "decline"},
        "cases:propose-extension": {"new_ends_on": "2030-01-01"},
        "cases:propose-steward": {"steward": str(setup.another_steward.public_id)},
        "cases:clear-alert": {"note": "fine"},
        "cases:clear-assignment-block": {"note": "fine"},
        "cases:record-identity": {"identity": "github:other", "kind": "pressure"},
        "cases:request-steward": {
            "scope": ["triage"],
            "starts_on": "2030-01-01",
            "ends_on": "2030-02-01",
            "ecosystem": "generic",
            "hours_per_week": "5",
            "time_zone": "UTC",
            "brief": "x",
        },
        "cases:file-report": {"access_returned": "none"},
    }.get(name)


URLS = [
    ("get", "cases:assignment"),
    ("post", "cases:respond-assignment"),
    ("post", "cases:propose-extension"),
    ("post", "cases:clear-assignment-block"),
    ("get", "cases:file-report"),
    ("post", "cases:file-report"),
    ("get", "cases:steward-matching"),
    ("post", "cases:propose-steward"),
    ("get", "cases:request-steward"),
    ("post", "cases:request-steward"),
    ("post", "cases:record-identity"),
    ("post", "cases:clear-alert"),
]


def _snapshot():
    return (
        list(Assignment.objects.values()),
        list(AssignmentExtension.objects.values()),
        list(StewardRequest.objects.values("pk", "status")),
        IdentityOfConcern.objects.count(),
        AuditEvent.objects.exclude(
            action__in=["case.viewed", "assignment.viewed"]
        ).count(),
    )


def _person(request, role, setup):
    if role == "another_steward":
        return setup.another_steward.user
    return request.getfixturevalue(role)


@pytest.mark.parametrize(
    "role", ["stranger", "other_maintainer", "unassigned_caseworker", "another_steward"]
)
@pytest.mark.parametrize(("method", "name"), URLS)
def test_people_outside_the_case_get_404_and_change_nothing(
    request, client, setup, role, method, name
):
    client.force_login(_person(request, role, setup))
    before = _snapshot()
    response = getattr(client, method)(
        reverse(name, args=_args(name, setup)), data=_data(name, setup)
    )
    assert response.status_code == 404
    assert BRIEF not in response.content.decode()
    assert _snapshot() == before


def test_the_assigned_steward_reads_the_brief_and_nothing_else(client, setup):
    client.force_login(setup.stella.user)
    response = client.get(
        reverse("cases:assignment", args=[setup.assignment.public_id])
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert BRIEF in page
    assert setup.case.project.name in page
    for secret in (CANARY_NARRATIVE, MESSAGE, NOTE, "github:sock"):
        assert secret not in page
    assert (
        client.get(reverse("cases:detail", args=[setup.case.public_id])).status_code
        == 404
    )
    assert AuditEvent.objects.filter(
        action="assignment.viewed", actor=setup.stella.user
    ).exists()


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("post", "cases:respond-assignment"),
        ("post", "cases:propose-extension"),
        ("get", "cases:steward-matching"),
        ("post", "cases:propose-steward"),
        ("post", "cases:record-identity"),
    ],
)
def test_the_steward_cannot_act_for_the_maintainer_or_the_caseworker(
    client, setup, method, name
):
    client.force_login(setup.stella.user)
    before = _snapshot()
    response = getattr(client, method)(
        reverse(name, args=_args(name, setup)), data=_data(name, setup)
    )
    assert response.status_code in (400, 404)
    assert _snapshot() == before


def test_a_steward_does_not_see_a_proposal_the_maintainer_has_not_accepted(
    client, case, maintainer, caseworker
):
    steward = make_steward("pending")
    steward_request = ask_for_steward(case, maintainer, brief=BRIEF)
    assignment = services.propose_assignment(
        request=steward_request, steward=steward, actor=caseworker
    )
    client.force_login(steward.user)
    url = reverse("cases:assignment", args=[assignment.public_id])
    assert client.get(url).status_code == 404


def test_the_maintainer_accepts_through_the_page(client, case, maintainer, caseworker):
    steward = make_steward("kind-helper")
    steward_request = ask_for_steward(case, maintainer)
    assignment = services.propose_assignment(
        request=steward_request, steward=steward, actor=caseworker
    )
    client.force_login(maintainer)
    url = reverse("cases:respond-assignment", args=[assignment.public_id])
    response = client.post(url, {"decision": "accept"})
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.ACTIVE


def test_a_crafted_post_naming_an_excluded_steward_is_a_400_with_the_reason(
    client, case, maintainer, caseworker
):
    from portal.roster.models import StewardProfile

    suspended = make_steward("gone", status=StewardProfile.Status.SUSPENDED)
    steward_request = ask_for_steward(case, maintainer)
    client.force_login(caseworker)
    response = client.post(
        reverse("cases:propose-steward", args=[steward_request.public_id]),
        {"steward": str(suspended.public_id)},
    )
    assert response.status_code == 400
    assert "gone cannot be assigned: Suspended." in response.content.decode()
    assert not Assignment.objects.exists()
    response = client.post(
        reverse("cases:propose-steward", args=[steward_request.public_id]),
        {"steward": "not-a-uuid"},
    )
    assert response.status_code == 400


def test_the_maintainer_asks_for_a_steward_through_the_page(client, case, maintainer):
    client.force_login(maintainer)
    data = {
        "scope": ["triage", "release"],
        "starts_on": (datetime.date.today() + datetime.timedelta(days=2)).isoformat(),
        "ends_on": (datetime.date.today() + datetime.timedelta(days=60)).isoformat(),
        "ecosystem": "generic",
        "skills": "C, fuzzing",
        "hours_per_week": "6",
        "time_zone": "Europe/Paris",
        "brief": "Triage and release while I rest.",
    }
    response = client.post(
        reverse("cases:request-steward", args=[case.public_id]), data
    )
    assert response.status_code == 302
    created = StewardRequest.objects.get()
    assert created.skills == ["c", "fuzzing"] and created.scope == ["triage", "release"]
    bad = client.post(
        reverse("cases:request-steward", args=[case.public_id]),
        {**data, "time_zone": "Nowhere/Land"},
    )
    assert bad.status_code == 400
    assert "is not a time zone" in bad.content.decode()
    assert StewardRequest.objects.count() == 1


def test_the_case_page_shows_identities_and_alerts_to_caseworkers_only(
    client, setup, caseworker, maintainer
):
    url = reverse("cases:detail", args=[setup.case.public_id])
    client.force_login(caseworker)
    page = client.get(url).content.decode()
    assert "github:sock" in page and "a steward application" in page
    client.force_login(maintainer)
    page = client.get(url).content.decode()
    assert "github:sock" not in page and "Identities of concern" not in page
