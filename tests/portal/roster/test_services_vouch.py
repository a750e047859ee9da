"""`record_vouch`: who may vouch for whom, and that a refused vouch changes nothing."""

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.models import ConcernAlert
from cases.services.concerns import record_identity_of_concern
from portal.audit.models import AuditEvent
from portal.lib.errors import Refused
from portal.roster.models import StewardProfile, Vouch
from portal.roster.services import clear_hold, record_vouch
from tests.factories import StewardProfileFactory, VettedStewardFactory

DAY = datetime.timedelta(days=1)
STATEMENT = "We co-maintained zlib bindings for four years; I have met her in person."


def vouch(voucher, vouchee, **overrides):
    args = {
        "voucher": voucher,
        "vouchee": vouchee,
        "actor": voucher.user,
        "statement": STATEMENT,
    }
    args.update(overrides)
    return record_vouch(**args)


def test_vetted_steward_vouches(voucher_a, applicant):
    made = vouch(voucher_a, applicant)
    assert Vouch.objects.get() == made
    assert made.statement == STATEMENT
    event = AuditEvent.objects.get(action="steward.vouched")
    assert event.object_id == str(applicant.public_id)
    assert event.data == {"voucher": str(voucher_a.public_id)}


def test_vouching_as_someone_else_is_refused(voucher_a, applicant, voucher_b):
    with pytest.raises(Refused, match="only vouch as yourself"):
        vouch(voucher_a, applicant, actor=voucher_b.user)
    assert not Vouch.objects.exists()


def test_self_vouching_is_refused(voucher_a):
    with pytest.raises(Refused, match="cannot vouch for yourself"):
        vouch(voucher_a, voucher_a)
    assert not Vouch.objects.exists()


def test_database_refuses_a_self_vouch_too(voucher_a):
    with pytest.raises(IntegrityError), transaction.atomic():
        Vouch.objects.create(voucher=voucher_a, vouchee=voucher_a, statement="x")


def test_duplicate_vouch_is_refused(voucher_a, applicant):
    vouch(voucher_a, applicant)
    with pytest.raises(Refused, match="already vouched for newcomer"):
        vouch(voucher_a, applicant)
    assert Vouch.objects.count() == 1
    assert AuditEvent.objects.filter(action="steward.vouched").count() == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"status": "applied", "vetted_at": None, "vetting_expires_at": None},
            "Only vetted stewards can vouch",
        ),
        ({"status": "suspended"}, "suspended stewards cannot vouch"),
        ({"is_on_hold": True}, "on hold"),
        ({"vetting_expires_at": timezone.now() - DAY}, "vetting has expired"),
        (
            {"vetted_at": timezone.now() - 30 * DAY},
            "only after 90 days of being vetted",
        ),
    ],
)
def test_voucher_not_vetted_long_enough_now_is_refused(
    voucher_a, applicant, fields, message
):
    StewardProfile.objects.filter(pk=voucher_a.pk).update(**fields)
    voucher_a.refresh_from_db()
    with pytest.raises(Refused, match=message):
        vouch(voucher_a, applicant)
    assert not Vouch.objects.exists()
    assert not AuditEvent.objects.filter(action="steward.vouched").exists()


def test_refusal_tells_a_new_steward_when_they_may_vouch(voucher_a, applicant):
    vetted_at = timezone.now() - 10 * DAY
    StewardProfile.objects.filter(pk=voucher_a.pk).update(vetted_at=vetted_at)
    voucher_a.refresh_from_db()
    with pytest.raises(Refused, match=f"from {(vetted_at + 90 * DAY):%Y-%m-%d}"):
        vouch(voucher_a, applicant)


def test_unvetted_applicants_cannot_vouch_for_each_other(applicant):
    other = StewardProfileFactory(handle="sockpuppet")
    with pytest.raises(Refused, match="Only vetted stewards can vouch"):
        vouch(other, applicant)
    assert not Vouch.objects.exists()


def test_vouch_for_a_suspended_steward_is_refused(voucher_a, applicant):
    StewardProfile.objects.filter(pk=applicant.pk).update(status="suspended")
    with pytest.raises(Refused, match="newcomer is suspended"):
        vouch(voucher_a, applicant)
    assert not Vouch.objects.exists()


def test_vouch_without_a_statement_is_refused(voucher_a, applicant):
    with pytest.raises(Refused, match="statement is required"):
        vouch(voucher_a, applicant, statement="  ")
    assert not Vouch.objects.exists()


def test_voucher_of_concern_is_refused_held_and_the_case_alerted(
    case, caseworker, voucher_a, applicant
):
    concern = record_identity_of_concern(
        case=case, actor=caseworker, identity="github:ada"
    )
    with pytest.raises(Refused, match="until a caseworker has reviewed your profile"):
        vouch(voucher_a, applicant)
    assert not Vouch.objects.exists()
    voucher_a.refresh_from_db()
    # The vouch is refused, but the hold and the alert stay: they are the point of screening.
    assert voucher_a.is_on_hold
    assert voucher_a.hold_reason_code == "identity-of-concern"
    alert = ConcernAlert.objects.get(concern=concern, source=ConcernAlert.Source.VOUCH)
    assert alert.subject == "ada"


def test_voucher_cleared_by_a_caseworker_can_vouch_again(
    case, caseworker, voucher_a, applicant
):
    record_identity_of_concern(case=case, actor=caseworker, identity="github:ada")
    with pytest.raises(Refused):
        vouch(voucher_a, applicant)
    voucher_a.refresh_from_db()
    clear_hold(
        steward=voucher_a, actor=caseworker, note="A namesake; checked by video."
    )
    assert vouch(voucher_a, applicant).voucher == voucher_a
    voucher_a.refresh_from_db()
    assert not voucher_a.is_on_hold


def test_two_vetted_stewards_can_vouch_for_one_applicant(
    voucher_a, voucher_b, applicant
):
    vouch(voucher_a, applicant)
    vouch(voucher_b, applicant)
    assert set(
        applicant.vouches_received.values_list("voucher__handle", flat=True)
    ) == {
        "ada",
        "bo",
    }


def test_vouch_for_a_vetted_peer_is_allowed(voucher_a):
    peer = VettedStewardFactory(handle="peer")
    assert vouch(voucher_a, peer).vouchee == peer
