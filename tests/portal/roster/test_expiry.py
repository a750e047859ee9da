"""Vetting expires after a year; 30 days before, the steward and the caseworkers hear once."""

import datetime
import time

import pytest
from django.utils import timezone

from portal.accounts import roles
from portal.celery import app
from portal.roster import notifications
from portal.roster.models import StewardProfile
from portal.roster.services import remind_expiring_vetting
from portal.roster.tasks import remind_expiring_vetting_task, send_roster_mail_task
from tests.factories import UserFactory, VettedStewardFactory

DAY = datetime.timedelta(days=1)


def expiring_in(days: float, **kwargs) -> StewardProfile:
    expires = timezone.now() + days * DAY
    return VettedStewardFactory(
        vetted_at=expires - 365 * DAY, vetting_expires_at=expires, **kwargs
    )


def queued(callbacks):
    return sorted(
        callback.args
        for callback in callbacks
        if getattr(callback, "func", None) == send_roster_mail_task.delay
    )


def test_expired_steward_is_not_vetted(db):
    assert expiring_in(1).is_vetted
    assert not expiring_in(-0.01).is_vetted


def test_steward_expiring_within_30_days_is_reminded_once(
    caseworker, second_caseworker, django_capture_on_commit_callbacks
):
    gone = UserFactory(is_active=False)
    roles.grant_role(gone, roles.CASEWORKER)
    soon = expiring_in(29)
    expiring_in(31)  # not yet
    expiring_in(-1)  # already expired: too late to remind
    with django_capture_on_commit_callbacks() as callbacks:
        assert remind_expiring_vetting() == [soon.pk]
    kind = notifications.EXPIRY_REMINDER
    assert queued(callbacks) == sorted(
        [
            (kind, soon.pk, soon.user_id),
            (kind, soon.pk, caseworker.pk),
            (kind, soon.pk, second_caseworker.pk),
        ]
    )
    soon.refresh_from_db()
    assert soon.expiry_reminder_sent_at is not None
    # A rerun (the next beat, or a retry) claims nothing and queues nothing.
    with django_capture_on_commit_callbacks() as callbacks:
        assert remind_expiring_vetting() == []
    assert queued(callbacks) == []


def test_claim_is_conditional_so_a_concurrent_run_cannot_mail_twice(
    db, django_capture_on_commit_callbacks
):
    soon = expiring_in(10)
    # Another run claimed the row after this one listed it.
    StewardProfile.objects.filter(pk=soon.pk).update(
        expiry_reminder_sent_at=timezone.now()
    )
    with django_capture_on_commit_callbacks() as callbacks:
        assert remind_expiring_vetting(now=timezone.now()) == []
    assert queued(callbacks) == []


def test_the_mail_names_the_date_and_carries_no_case_facts(caseworker, smtp_sink):
    soon = expiring_in(20, handle="ada")
    remind_expiring_vetting()
    send_roster_mail_task(notifications.EXPIRY_REMINDER, soon.pk, soon.user_id)
    send_roster_mail_task(notifications.EXPIRY_REMINDER, soon.pk, caseworker.pk)
    (to_steward,) = smtp_sink.to(soon.user.email)
    (to_caseworker,) = smtp_sink.to(caseworker.email)
    date = f"{soon.vetting_expires_at:%Y-%m-%d}"
    assert date in to_steward["Subject"]
    assert to_caseworker["Subject"] == f"Steward ada: vetting ends on {date}"
    body = to_caseworker.get_payload(0).get_payload(decode=True).decode()
    assert f"/roster/{soon.public_id}/" in body


def test_reminder_is_dropped_if_the_steward_was_renewed_or_suspended_meanwhile(
    caseworker, smtp_sink
):
    soon = expiring_in(20)
    remind_expiring_vetting()
    StewardProfile.objects.filter(pk=soon.pk).update(status="suspended")
    send_roster_mail_task(notifications.EXPIRY_REMINDER, soon.pk, caseworker.pk)
    assert smtp_sink.messages == []


def test_beat_runs_the_reminder_hourly(db):
    entry = app.conf.beat_schedule["remind-vetting-expiry"]
    assert entry["task"] == remind_expiring_vetting_task.name
    assert entry["task"] in app.tasks
    assert entry["schedule"] == 3600.0
    assert remind_expiring_vetting_task() == 0
    expiring_in(5)
    assert remind_expiring_vetting_task() == 1
    assert remind_expiring_vetting_task() == 0


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_mails_the_steward_and_caseworkers_once(
    smtp_sink, celery_worker, caseworker
):
    soon = expiring_in(15)
    remind_expiring_vetting_task.delay()
    remind_expiring_vetting_task.delay()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(smtp_sink.messages) < 2:
        time.sleep(0.1)
    time.sleep(0.5)  # room for a duplicate to show up, were there one
    assert sorted(m["To"] for m in smtp_sink.messages) == sorted(
        [soon.user.email, caseworker.email]
    )
