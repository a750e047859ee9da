import logging
import random
import smtplib

from celery import shared_task
from django.utils import timezone

from portal.roster.notifications import roster_email
from portal.roster.services import remind_expiring_vetting

log = logging.getLogger(__name__)

_TRANSPORT_ERRORS = (smtplib.SMTPException, OSError)


def _backoff(attempt: int) -> int:
    """Seconds before the next try: exponential with jitter, capped at an hour."""
    return min(3600, 2**attempt * 15) + random.randint(0, 15)  # noqa: S311 - jitter, not secrecy


@shared_task
def remind_expiring_vetting_task() -> int:
    """Beat: remind stewards (and caseworkers) 30 days before vetting expires. Returns how many
    stewards were newly claimed; each is reminded once per vetting period."""
    claimed = remind_expiring_vetting(now=timezone.now())
    if claimed:
        log.info("queued vetting expiry reminders for %d stewards", len(claimed))
    return len(claimed)


@shared_task(bind=True, max_retries=5, time_limit=300)
def send_roster_mail_task(self, kind: str, steward_id: int, user_id: int) -> None:
    """Mail one person about one steward. Re-checked at send time."""
    message = roster_email(kind=kind, steward_id=steward_id, user_id=user_id)
    if message is None:
        return
    try:
        message.send()
    except _TRANSPORT_ERRORS as exc:
        log.warning("roster mail %s to user %s failed: %r", kind, user_id, exc)
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
