"""Vetting lasts a year; a month before it ends, the steward and the caseworkers hear once."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from portal.audit.services import record_event
from portal.roster.models import StewardProfile
from portal.roster.services._common import REMIND_BEFORE_EXPIRY


def expiring_unreminded(now: datetime.datetime):
    return StewardProfile.objects.filter(
        status=StewardProfile.Status.VETTED,
        vetting_expires_at__gt=now,
        vetting_expires_at__lte=now + REMIND_BEFORE_EXPIRY,
        expiry_reminder_sent_at__isnull=True,
    )


def remind_expiring_vetting(*, now: datetime.datetime | None = None) -> list[int]:
    """Claim, once per vetting period, each steward whose vetting ends within 30 days, and queue
    the reminder to them and to the caseworkers. Returns the claimed steward ids.

    Each claim is a conditional update (only a row still unreminded changes), each in its own
    transaction with its mail queued on commit, so concurrent or retried runs never mail twice.
    """
    from portal.roster import notifications

    now = now or timezone.now()
    claimed = []
    for steward_id in expiring_unreminded(now).values_list("pk", flat=True):
        with transaction.atomic():
            won = StewardProfile.objects.filter(
                pk=steward_id, expiry_reminder_sent_at__isnull=True
            ).update(expiry_reminder_sent_at=now)
            if won != 1:
                continue
            steward = StewardProfile.objects.get(pk=steward_id)
            record_event(actor=None, action="steward.expiry_reminded", obj=steward)
            notifications.queue_expiry_reminder(steward_id=steward_id)
        claimed.append(steward_id)
    return claimed
