import logging
import random
import smtplib

from celery import shared_task
from django.utils import timezone

from cases.notifications import assignment_notification_email, case_notification_email
from cases.services import warn_first_response
from cases.services.assignments import (
    end_finished_assignments,
    remind_assignment_endings,
)

log = logging.getLogger(__name__)

_TRANSPORT_ERRORS = (smtplib.SMTPException, OSError)


def _backoff(attempt: int) -> int:
    """Seconds before the next try: exponential with jitter, capped at an hour."""
    return min(3600, 2**attempt * 15) + random.randint(0, 15)  # noqa: S311 - jitter, not secrecy


@shared_task
def warn_first_response_task() -> int:
    """Beat: warn about first-response clocks running out. Returns how many warnings were new."""
    written = warn_first_response(now=timezone.now())
    if written:
        log.info("wrote %d first-response warnings", len(written))
    return len(written)


@shared_task(bind=True, max_retries=5, time_limit=300)
def send_case_notification_task(self, event: str, case_id: int, user_id: int) -> None:
    """Mail one person that `event` happened on a case. No case text; access checked at send."""
    message = case_notification_email(event=event, case_id=case_id, user_id=user_id)
    if message is None:
        return
    try:
        message.send()
    except _TRANSPORT_ERRORS as exc:
        log.warning("case notification %s to user %s failed: %r", event, user_id, exc)
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(bind=True, max_retries=5, time_limit=300)
def send_assignment_notification_task(
    self, event: str, assignment_id: int, user_id: int
) -> None:
    """Mail one person that `event` happened on an assignment. No case text; access checked at send."""
    message = assignment_notification_email(
        event=event, assignment_id=assignment_id, user_id=user_id
    )
    if message is None:
        return
    try:
        message.send()
    except _TRANSPORT_ERRORS as exc:
        log.warning(
            "assignment notification %s to user %s failed: %r", event, user_id, exc
        )
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task
def remind_assignment_endings_task() -> int:
    """Beat: end assignments whose period is over, and remind people a week before an end."""
    ended = end_finished_assignments(today=timezone.localdate())
    reminded = remind_assignment_endings(today=timezone.localdate())
    if ended or reminded:
        log.info("ended %d assignments, reminded %d", len(ended), len(reminded))
    return len(reminded)
