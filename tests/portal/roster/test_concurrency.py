"""Concurrent writers meet a lock, not a constraint error: PostgreSQL only (SQLite has one writer)."""

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from portal.lib.errors import Refused
from portal.roster.models import StewardProfile, Vouch
from portal.roster.services import (
    apply_as_steward,
    record_identity_check,
    record_suspension,
    record_vouch,
    vet_steward,
)
from tests.factories import UserFactory, VouchFactory
from tests.portal.roster.conftest import application

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs concurrent writers (PostgreSQL)",
    ),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _in_thread(work):
    outcome = {}

    def run():
        try:
            outcome["result"] = work()
        except Exception as exc:  # noqa: BLE001 - reported to the test thread
            outcome["error"] = exc
        finally:
            connection.close()

    return threading.Thread(target=run), outcome


def _must_wait_then_finish(thread):
    thread.start()
    thread.join(timeout=1)
    assert thread.is_alive(), "the second writer must wait for the first to commit"


def test_two_identical_vouches_at_once_make_one_vouch_and_a_clear_refusal(
    voucher_a, applicant
):
    def vouch():
        return record_vouch(
            voucher=voucher_a, vouchee=applicant, actor=voucher_a.user, statement="Yes."
        )

    other, outcome = _in_thread(vouch)
    with transaction.atomic():
        vouch()
        _must_wait_then_finish(other)
    other.join(timeout=10)
    assert isinstance(outcome.get("error"), Refused), outcome
    assert "already vouched" in outcome["error"].messages[0]
    assert Vouch.objects.count() == 1


def test_two_applications_for_one_handle_at_once_are_one_profile_and_a_refusal(db):
    first, second = UserFactory(), UserFactory()
    other, outcome = _in_thread(
        lambda: apply_as_steward(user=second, **application(handle="same"))
    )
    with transaction.atomic():
        apply_as_steward(user=first, **application(handle="same"))
        _must_wait_then_finish(other)
    other.join(timeout=10)
    assert isinstance(outcome.get("error"), Refused), outcome
    assert "taken" in outcome["error"].messages[0]
    assert list(StewardProfile.objects.values_list("user_id", flat=True)) == [first.pk]


def test_voucher_suspended_during_vetting_is_not_counted(
    applicant, voucher_a, voucher_b, caseworker, second_caseworker
):
    record_identity_check(
        steward=applicant,
        actor=caseworker,
        method="in-person",
        checked_on=timezone.localdate(),
    )
    VouchFactory(voucher=voucher_a, vouchee=applicant)
    VouchFactory(voucher=voucher_b, vouchee=applicant)
    other, outcome = _in_thread(
        lambda: vet_steward(steward=applicant, actor=second_caseworker)
    )
    with transaction.atomic():
        record_suspension(steward=voucher_b, actor=caseworker, reason="Bad release.")
        _must_wait_then_finish(other)
    other.join(timeout=10)
    assert isinstance(outcome.get("error"), Refused), outcome
    assert "bo is suspended" in outcome["error"].messages[0]
    applicant.refresh_from_db()
    assert applicant.status == StewardProfile.Status.APPLIED
