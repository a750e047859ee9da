"""Identities of concern: matched across the portal, alerting the caseworkers of each case that
recorded them, and never handing case data to whoever asked."""

import dataclasses

import pytest
from django.core import mail

from cases import screening
from cases import services as case_services
from cases.models import Category, ConcernAlert, HelpWanted, IdentityOfConcern, Urgency
from cases.services.concerns import clear_identities, record_identity_of_concern
from portal.lib.errors import Refused
from tests.cases.stewards import run_after_commit
from tests.conftest import CANARY_NARRATIVE


@pytest.fixture
def second_case(other_maintainer, other_project, second_caseworker):
    case = case_services.open_case(
        actor=other_maintainer,
        project=other_project,
        category=Category.HARASSMENT,
        urgency=Urgency.NORMAL,
        help_wanted=[HelpWanted.INTERVENTION],
        narrative="Second case words: amber-lynx-2209.",
    )
    return case_services.assign_caseworker(
        case=case, caseworker=second_caseworker, actor=second_caseworker
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("GitHub:JiaT75", "github:jiat75"),
        ("  gitlab:some.one ", "gitlab:some.one"),
        ("codeberg:@helper", "codeberg:helper"),
        ("Jigar.Kumar@Example.ORG", "email:jigar.kumar@example.org"),
        ("email:a@b.org", "email:a@b.org"),
    ],
)
def test_identities_are_normalised(raw, expected):
    assert screening.normalise_identity(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "twitter:someone", "github:-bad-", "email:not-an-address", "github:a b"]
)
def test_malformed_identities_are_refused_with_a_reason(raw):
    with pytest.raises(ValueError) as info:
        screening.normalise_identity(raw)
    assert str(info.value)


def test_an_unknown_identity_is_clear_and_writes_nothing(case):
    verdict = screening.screen_identities(
        identities=["github:nobody"], source="roster-application", subject="nobody"
    )
    assert verdict == screening.Verdict(is_of_concern=False, reason_code="")
    assert not ConcernAlert.objects.exists()


def test_a_recorded_identity_is_of_concern_and_alerts_the_case(
    case, caseworker, django_capture_on_commit_callbacks
):
    record_identity_of_concern(case=case, actor=caseworker, identity="github:JiaT75")
    with django_capture_on_commit_callbacks() as callbacks:
        verdict = screening.screen_identities(
            identities=["email:ok@example.org", "github:jiat75"],
            source="roster-application",
            subject="jia-helper",
        )
    run_after_commit(callbacks)
    assert verdict.is_of_concern
    assert verdict.reason_code == "identity-of-concern"
    alert = ConcernAlert.objects.get()
    assert alert.case == case
    assert alert.source == "roster-application"
    assert alert.subject == "jia-helper"
    [message] = mail.outbox
    assert message.to == [caseworker.email]
    assert "a steward application" in message.body
    assert str(case.public_id) in message.body
    assert CANARY_NARRATIVE not in message.body
    assert "jia" not in message.body.lower()


def test_the_verdict_carries_no_case_data(case, caseworker):
    record_identity_of_concern(case=case, actor=caseworker, identity="github:jiat75")
    verdict = screening.screen_identities(
        identities=["github:jiat75"], source="vouch", subject="x"
    )
    assert {f.name for f in dataclasses.fields(verdict)} == {
        "is_of_concern",
        "reason_code",
    }
    assert str(case.public_id) not in repr(verdict)


def test_screening_the_same_identity_again_does_not_alert_twice(case, caseworker):
    record_identity_of_concern(case=case, actor=caseworker, identity="github:jiat75")
    for _ in range(2):
        screening.screen_identities(
            identities=["github:jiat75"], source="vouch", subject="jia-helper"
        )
    assert ConcernAlert.objects.count() == 1


def test_an_identity_on_a_second_case_alerts_the_caseworkers_of_both(
    case, second_case, caseworker, second_caseworker, django_capture_on_commit_callbacks
):
    record_identity_of_concern(case=case, actor=caseworker, identity="github:jiat75")
    with django_capture_on_commit_callbacks() as callbacks:
        record_identity_of_concern(
            case=second_case, actor=second_caseworker, identity="GitHub:JiaT75"
        )
    run_after_commit(callbacks)
    first_alert = ConcernAlert.objects.get(case=case)
    second_alert = ConcernAlert.objects.get(case=second_case)
    assert first_alert.source == second_alert.source == "case"
    assert first_alert.subject == second_alert.subject == ""
    by_recipient = {m.to[0]: m.body for m in mail.outbox}
    assert set(by_recipient) == {caseworker.email, second_caseworker.email}
    # Each mail links to the reader's own case and says nothing of the other one.
    assert str(case.public_id) in by_recipient[caseworker.email]
    assert str(second_case.public_id) not in by_recipient[caseworker.email]
    assert str(second_case.public_id) in by_recipient[second_caseworker.email]
    assert str(case.public_id) not in by_recipient[second_caseworker.email]
    for body in by_recipient.values():
        assert "amber-lynx" not in body and CANARY_NARRATIVE not in body


def test_only_the_cases_caseworkers_record_identities(
    case, maintainer, unassigned_caseworker
):
    for actor in (maintainer, unassigned_caseworker):
        with pytest.raises(Refused):
            record_identity_of_concern(case=case, actor=actor, identity="github:x")
    assert not IdentityOfConcern.objects.exists()


def test_a_malformed_or_duplicate_identity_is_refused(case, caseworker):
    with pytest.raises(Refused, match="not a valid github user name"):
        record_identity_of_concern(case=case, actor=caseworker, identity="github:-x-")
    record_identity_of_concern(case=case, actor=caseworker, identity="github:jiat75")
    with pytest.raises(Refused, match="already recorded"):
        record_identity_of_concern(
            case=case, actor=caseworker, identity="GITHUB:jiat75"
        )
    assert IdentityOfConcern.objects.count() == 1


def test_a_cleared_identity_stops_counting_until_recorded_again(
    case, second_case, caseworker, second_caseworker
):
    record_identity_of_concern(case=case, actor=caseworker, identity="github:jiat75")
    clear_identities(
        identities=["github:jiat75"],
        actor=second_caseworker,
        note="Different person, checked by video call.",
    )
    assert not screening.screen_identities(
        identities=["github:jiat75"], source="vouch", subject="x"
    ).is_of_concern
    record_identity_of_concern(
        case=second_case, actor=second_caseworker, identity="github:jiat75"
    )
    assert screening.screen_identities(
        identities=["github:jiat75"], source="vouch", subject="x"
    ).is_of_concern


def test_clearing_needs_a_caseworker_and_a_note(case, caseworker, maintainer):
    record_identity_of_concern(case=case, actor=caseworker, identity="github:jiat75")
    with pytest.raises(Refused):
        clear_identities(identities=["github:jiat75"], actor=maintainer, note="fine")
    with pytest.raises(Refused, match="Say why"):
        clear_identities(identities=["github:jiat75"], actor=caseworker, note="  ")
    assert screening.screen_identities(
        identities=["github:jiat75"], source="vouch", subject="x"
    ).is_of_concern


def test_an_unknown_source_is_a_programming_error(db):
    with pytest.raises(ValueError):
        screening.screen_identities(identities=[], source="gossip", subject="")
