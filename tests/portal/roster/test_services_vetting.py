"""`vet_steward`, the one function that decides vetting: every rule, and that a refusal writes nothing."""

import datetime

import pytest
from django.utils import timezone

from portal.accounts import roles
from portal.audit.models import AuditEvent
from portal.lib.errors import Refused
from portal.roster.models import StewardProfile
from portal.roster.services import (
    clear_hold,
    record_identity_check,
    record_suspension,
    vet_steward,
    vetting_problems,
)
from tests.factories import (
    IdentityCheckFactory,
    UserFactory,
    VettedStewardFactory,
    VouchFactory,
)

DAY = datetime.timedelta(days=1)


def checked(steward, caseworker):
    return record_identity_check(
        steward=steward,
        actor=caseworker,
        method="video-document",
        checked_on=timezone.localdate(),
    )


def vouched(applicant, *vouchers):
    for voucher in vouchers:
        VouchFactory(voucher=voucher, vouchee=applicant)


def assert_unchanged(applicant):
    applicant.refresh_from_db()
    assert applicant.status == StewardProfile.Status.APPLIED
    assert applicant.vetted_at is None and applicant.vetted_by is None
    assert not AuditEvent.objects.filter(action="steward.vetted").exists()


@pytest.fixture
def ready(applicant, caseworker, voucher_a, voucher_b):
    """An applicant with an identity check by `caseworker` and two qualifying vouches."""
    checked(applicant, caseworker)
    vouched(applicant, voucher_a, voucher_b)
    return applicant


def test_second_caseworker_vets_a_checked_and_twice_vouched_applicant(
    ready, second_caseworker
):
    before = timezone.now()
    steward = vet_steward(steward=ready, actor=second_caseworker)
    steward.refresh_from_db()
    assert steward.status == StewardProfile.Status.VETTED
    assert steward.is_vetted
    assert steward.vetted_by == second_caseworker
    assert before <= steward.vetted_at <= timezone.now()
    assert steward.vetting_expires_at == steward.vetted_at + 365 * DAY
    assert roles.has_role(
        UserFactory._meta.model.objects.get(pk=steward.user_id), "steward"
    )
    event = AuditEvent.objects.get(action="steward.vetted")
    assert event.data["vouchers"] == ["ada", "bo"]
    assert event.actor == second_caseworker


def test_caseworker_who_recorded_the_identity_check_cannot_approve(ready, caseworker):
    with pytest.raises(Refused, match="You recorded the identity check"):
        vet_steward(steward=ready, actor=caseworker)
    assert_unchanged(ready)


def test_only_the_latest_identity_check_decides_who_may_not_approve(
    ready, caseworker, second_caseworker
):
    checked(ready, second_caseworker)
    with pytest.raises(Refused, match="You recorded the identity check"):
        vet_steward(steward=ready, actor=second_caseworker)
    assert vet_steward(steward=ready, actor=caseworker).status == "vetted"


@pytest.mark.parametrize("who", ["steward", "maintainer", "stranger"])
def test_only_caseworkers_approve(request, ready, who):
    actor = request.getfixturevalue(who)
    with pytest.raises(Refused, match="Only caseworkers approve vetting"):
        vet_steward(steward=ready, actor=actor)
    assert_unchanged(ready)


def test_no_identity_check_is_refused(applicant, voucher_a, voucher_b, caseworker):
    vouched(applicant, voucher_a, voucher_b)
    with pytest.raises(Refused, match="No identity check is recorded"):
        vet_steward(steward=applicant, actor=caseworker)
    assert_unchanged(applicant)


def test_identity_check_over_a_year_old_does_not_count(
    applicant, voucher_a, voucher_b, caseworker, second_caseworker
):
    IdentityCheckFactory(
        steward=applicant,
        recorded_by=caseworker,
        checked_on=timezone.localdate() - 366 * DAY,
    )
    vouched(applicant, voucher_a, voucher_b)
    with pytest.raises(Refused, match="more than a year old"):
        vet_steward(steward=applicant, actor=second_caseworker)
    assert_unchanged(applicant)


def test_one_vouch_is_not_enough(applicant, caseworker, second_caseworker, voucher_a):
    checked(applicant, caseworker)
    vouched(applicant, voucher_a)
    with pytest.raises(Refused, match="has 1"):
        vet_steward(steward=applicant, actor=second_caseworker)
    assert_unchanged(applicant)


def test_voucher_vetted_89_days_ago_does_not_count_but_90_days_does(
    applicant, caseworker, second_caseworker, voucher_a
):
    checked(applicant, caseworker)
    recent = VettedStewardFactory(handle="recent", vetted_at=timezone.now() - 89 * DAY)
    vouched(applicant, voucher_a, recent)
    with pytest.raises(Refused) as refused:
        vet_steward(steward=applicant, actor=second_caseworker)
    assert "has 1" in refused.value.messages[0]
    assert "recent has been vetted for less than 90 days" in refused.value.messages[0]
    assert_unchanged(applicant)

    StewardProfile.objects.filter(pk=recent.pk).update(
        vetted_at=timezone.now() - 90 * DAY - datetime.timedelta(minutes=1)
    )
    assert vet_steward(steward=applicant, actor=second_caseworker).is_vetted


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {"status": "applied", "vetted_at": None, "vetting_expires_at": None},
            "bo is not vetted",
        ),
        ({"status": "suspended"}, "bo is suspended"),
        ({"is_on_hold": True}, "bo is on hold"),
        ({"vetting_expires_at": timezone.now() - DAY}, "bo's vetting has expired"),
    ],
)
def test_vouches_from_stewards_who_are_not_vetted_now_do_not_count(
    applicant, caseworker, second_caseworker, voucher_a, voucher_b, fields, reason
):
    checked(applicant, caseworker)
    vouched(applicant, voucher_a, voucher_b)
    StewardProfile.objects.filter(pk=voucher_b.pk).update(**fields)
    with pytest.raises(Refused) as refused:
        vet_steward(steward=applicant, actor=second_caseworker)
    assert "has 1" in refused.value.messages[0]
    assert reason in refused.value.messages[0]
    assert_unchanged(applicant)


def test_vouching_ring_blocks_vetting(ready, second_caseworker, voucher_a):
    # The applicant (vetted before, now lapsed) vouched for ada 100 days ago; ada now vouches back.
    VouchFactory(
        voucher=ready, vouchee=voucher_a, created_at=timezone.now() - 100 * DAY
    )
    with pytest.raises(Refused, match="ada vouched for newcomer, who vouched for them"):
        vet_steward(steward=ready, actor=second_caseworker)
    assert_unchanged(ready)


def test_vouch_given_more_than_180_days_ago_is_no_ring(
    ready, second_caseworker, voucher_a
):
    VouchFactory(
        voucher=ready, vouchee=voucher_a, created_at=timezone.now() - 181 * DAY
    )
    assert vet_steward(steward=ready, actor=second_caseworker).is_vetted


def test_ring_counts_even_when_a_third_voucher_would_suffice(
    ready, second_caseworker, voucher_a
):
    VouchFactory(vouchee=ready)  # a third qualifying voucher
    VouchFactory(voucher=ready, vouchee=voucher_a, created_at=timezone.now() - DAY)
    with pytest.raises(Refused, match="not accepted"):
        vet_steward(steward=ready, actor=second_caseworker)


def test_on_hold_applicant_is_not_vetted_until_cleared(
    ready, caseworker, second_caseworker
):
    StewardProfile.objects.filter(pk=ready.pk).update(
        is_on_hold=True, hold_reason_code="identity-of-concern"
    )
    ready.refresh_from_db()
    with pytest.raises(Refused, match="on hold"):
        vet_steward(steward=ready, actor=second_caseworker)
    assert_unchanged(ready)
    clear_hold(steward=ready, actor=caseworker, note="Different person, checked.")
    assert vet_steward(steward=ready, actor=second_caseworker).is_vetted


def test_suspended_steward_is_not_vetted_again(ready, caseworker, second_caseworker):
    record_suspension(steward=ready, actor=caseworker, reason="Pushed unreviewed code.")
    with pytest.raises(Refused, match="suspended"):
        vet_steward(steward=ready, actor=second_caseworker)
    ready.refresh_from_db()
    assert ready.status == StewardProfile.Status.SUSPENDED


def test_every_failing_rule_is_listed(applicant, caseworker):
    with pytest.raises(Refused) as refused:
        vet_steward(steward=applicant, actor=caseworker)
    messages = refused.value.messages
    assert any("No identity check" in m for m in messages)
    assert any("has 0" in m for m in messages)
    assert len(messages) == 2


def test_vetted_steward_is_not_vetted_again_before_the_renewal_window(
    ready, second_caseworker
):
    vet_steward(steward=ready, actor=second_caseworker)
    with pytest.raises(Refused, match="renewal opens 30 days before"):
        vet_steward(steward=ready, actor=second_caseworker)


def test_renewal_within_the_last_30_days_keeps_vetted_at_and_extends_a_year(
    ready, second_caseworker
):
    first_vetted = timezone.now() - 340 * DAY
    StewardProfile.objects.filter(pk=ready.pk).update(
        status="vetted",
        vetted_at=first_vetted,
        vetting_expires_at=first_vetted + 365 * DAY,
        expiry_reminder_sent_at=timezone.now() - 5 * DAY,
    )
    ready.refresh_from_db()
    steward = vet_steward(steward=ready, actor=second_caseworker)
    steward.refresh_from_db()
    assert steward.vetted_at == first_vetted
    assert steward.vetting_expires_at > timezone.now() + 364 * DAY
    assert steward.expiry_reminder_sent_at is None


def test_expired_steward_is_not_vetted_and_revetting_starts_afresh(
    ready, second_caseworker
):
    vetted_long_ago = timezone.now() - 400 * DAY
    StewardProfile.objects.filter(pk=ready.pk).update(
        status="vetted",
        vetted_at=vetted_long_ago,
        vetting_expires_at=vetted_long_ago + 365 * DAY,
    )
    ready.refresh_from_db()
    assert not ready.is_vetted and ready.is_expired
    steward = vet_steward(steward=ready, actor=second_caseworker)
    steward.refresh_from_db()
    assert steward.vetted_at > timezone.now() - DAY
    assert steward.is_vetted


def test_vetting_problems_preview_matches_the_decision(
    ready, caseworker, second_caseworker
):
    assert vetting_problems(steward=ready, actor=second_caseworker).ok
    report = vetting_problems(steward=ready, actor=caseworker)
    assert not report.ok
    assert report.qualifying_vouchers == ["ada", "bo"]


def test_identity_of_concern_recorded_after_the_application_holds_the_vetting(
    ready, case, caseworker, second_caseworker
):
    from cases.models import ConcernAlert
    from cases.services.concerns import record_identity_of_concern

    # The applicant was clear when they applied; a case names one of their accounts later.
    record_identity_of_concern(case=case, actor=caseworker, identity="github:newcomer")
    with pytest.raises(Refused, match="newcomer is on hold"):
        vet_steward(steward=ready, actor=second_caseworker)
    ready.refresh_from_db()
    assert ready.is_on_hold and ready.status == StewardProfile.Status.APPLIED
    assert not AuditEvent.objects.filter(action="steward.vetted").exists()
    assert ConcernAlert.objects.filter(
        case=case, source=ConcernAlert.Source.ROSTER_APPLICATION, subject="newcomer"
    ).exists()
    # Once a caseworker has looked into it and cleared the hold, vetting can go ahead.
    clear_hold(steward=ready, actor=caseworker, note="A namesake; met by video.")
    assert vet_steward(steward=ready, actor=second_caseworker).is_vetted


def test_screening_at_vetting_is_not_triggered_by_non_caseworkers(
    ready, case, caseworker, steward
):
    from cases.models import ConcernAlert
    from cases.services.concerns import record_identity_of_concern

    record_identity_of_concern(case=case, actor=caseworker, identity="github:newcomer")
    with pytest.raises(Refused, match="Only caseworkers"):
        vet_steward(steward=ready, actor=steward)
    ready.refresh_from_db()
    assert not ready.is_on_hold
    assert not ConcernAlert.objects.filter(
        source=ConcernAlert.Source.ROSTER_APPLICATION
    ).exists()
