"""The assignment pages through the client: the approvals list and four-eyes button, the
steward's report form, clearing a block, and the digests surviving a change of secret key."""

import datetime

import pytest
from django.core.management import call_command
from django.urls import reverse

from cases import matching, screening, services
from cases.models import Assignment, HandoverReport, IdentityOfConcern
from portal.roster import services as roster_services
from tests.cases.stewards import ask_for_steward, make_steward


@pytest.fixture
def awaiting(case, maintainer, caseworker):
    stella = make_steward("stella-ruiz")
    steward_request = ask_for_steward(case, maintainer, scope=["triage", "release"])
    assignment = services.propose_assignment(
        request=steward_request, steward=stella, actor=caseworker
    )
    services.respond_to_assignment(assignment=assignment, actor=maintainer, accept=True)
    return assignment


def test_the_approvals_list_hides_ones_own_proposals(
    client, awaiting, caseworker, second_caseworker
):
    url = reverse("cases:approvals")
    client.force_login(caseworker)
    assert "stella-ruiz" not in client.get(url).content.decode()
    response = client.post(
        reverse("cases:approve-assignment", args=[awaiting.public_id])
    )
    assert response.status_code == 400
    assert "another caseworker must approve" in response.content.decode()
    client.force_login(second_caseworker)
    page = client.get(url).content.decode()
    assert "stella-ruiz" in page and "Release" in page
    response = client.post(
        reverse("cases:approve-assignment", args=[awaiting.public_id])
    )
    assert response.status_code == 302
    awaiting.refresh_from_db()
    assert awaiting.status == Assignment.Status.ACTIVE


def test_the_approvals_list_is_for_caseworkers(client, awaiting, maintainer):
    client.force_login(maintainer)
    assert client.get(reverse("cases:approvals")).status_code == 403
    url = reverse("cases:approve-assignment", args=[awaiting.public_id])
    assert client.post(url).status_code == 403
    awaiting.refresh_from_db()
    assert awaiting.status == Assignment.Status.AWAITING_APPROVAL


def test_the_steward_files_the_report_through_the_page(
    client, awaiting, second_caseworker, maintainer
):
    services.approve_assignment(assignment=awaiting, actor=second_caseworker)
    steward_user = awaiting.steward.user
    url = reverse("cases:file-report", args=[awaiting.public_id])
    client.force_login(maintainer)
    assert client.get(url).status_code == 403
    client.force_login(steward_user)
    assert client.get(url).status_code == 200
    bad = client.post(url, {"releases": "2.4.0"})
    assert bad.status_code == 400
    assert "Say which access you returned" in bad.content.decode()
    assert not HandoverReport.objects.exists()
    response = client.post(
        url,
        {
            "releases": "2.4.0, signed with my key",
            "changes_merged": "Fuzzing fixes",
            "access_granted": "maintain on GitHub",
            "access_returned": "removed on the last day",
        },
    )
    assert response.status_code == 302
    client.force_login(maintainer)
    page = client.get(reverse("cases:assignment", args=[awaiting.public_id]))
    assert "2.4.0, signed with my key" in page.content.decode()


def test_a_caseworker_clears_a_blocked_proposal_through_the_page(
    client, case, maintainer, caseworker
):
    services.record_identity_of_concern(
        case=case, actor=caseworker, identity="github:look-alike"
    )
    steward = make_steward("look-alike", forge_accounts=["github:look-alike"])
    steward_request = ask_for_steward(case, maintainer)
    assignment = services.propose_assignment(
        request=steward_request, steward=steward, actor=caseworker
    )
    assert assignment.is_blocked
    client.force_login(maintainer)
    page = client.get(reverse("cases:assignment", args=[assignment.public_id]))
    assert "Accept the steward" not in page.content.decode()
    client.force_login(caseworker)
    url = reverse("cases:clear-assignment-block", args=[assignment.public_id])
    assert client.post(url, {"note": ""}).status_code == 400
    assert client.post(url, {"note": "Checked by video call."}).status_code == 302
    assignment.refresh_from_db()
    assert not assignment.is_blocked


def test_clearing_the_roster_hold_lets_matching_include_the_steward(
    case, maintainer, caseworker, second_caseworker
):
    services.record_identity_of_concern(
        case=case, actor=caseworker, identity="github:held-one"
    )
    steward = make_steward(
        "held-one", forge_accounts=["github:held-one"], is_on_hold=True
    )
    steward_request = ask_for_steward(case, maintainer)
    codes = {
        e.code
        for c in matching.evaluate(steward_request, steward_ids=[steward.pk])
        for e in c.exclusions
    }
    assert codes == {"on-hold"}
    roster_services.clear_hold(
        steward=steward, actor=second_caseworker, note="Not the same person."
    )
    [candidate] = matching.evaluate(steward_request, steward_ids=[steward.pk])
    assert candidate.exclusions == []
    # A concern recorded after the clearance counts again.
    services.record_identity_of_concern(
        case=case, actor=caseworker, identity="email:held-one@stewards.example.net"
    )
    [candidate] = matching.evaluate(steward_request, steward_ids=[steward.pk])
    assert [e.code for e in candidate.exclusions] == ["identity-of-concern"]


def test_digests_are_recomputed_after_the_secret_key_changes(
    settings, case, caseworker, capsys
):
    services.record_identity_of_concern(
        case=case, actor=caseworker, identity="github:jiat75"
    )
    services.clear_identities(
        identities=["github:jiat75"], actor=caseworker, note="Reviewed."
    )
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40
    assert not IdentityOfConcern.objects.filter(
        identity_digest=screening.digest("github:jiat75")
    ).exists()
    call_command("redigest_identities", old_secret_key=old)
    assert "1 identities re-digested" in capsys.readouterr().out
    assert IdentityOfConcern.objects.filter(
        identity_digest=screening.digest("github:jiat75")
    ).exists()
    # The clearance moved along: the identity stays cleared.
    assert not screening.uncleared_concerns(["github:jiat75"]).exists()


def test_the_end_reminder_window_is_a_week(case, maintainer, caseworker):
    stella = make_steward("stella-ruiz")
    steward_request = ask_for_steward(case, maintainer)
    assignment = services.propose_assignment(
        request=steward_request, steward=stella, actor=caseworker
    )
    services.respond_to_assignment(assignment=assignment, actor=maintainer, accept=True)
    assignment.refresh_from_db()
    eight_before = assignment.ends_on - datetime.timedelta(days=8)
    assert services.remind_assignment_endings(today=eight_before) == []
    assert services.remind_assignment_endings(
        today=assignment.ends_on - datetime.timedelta(days=7)
    ) == [assignment.pk]
