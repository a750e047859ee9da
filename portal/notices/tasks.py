import logging
import random
import smtplib

from celery import shared_task
from django.conf import settings

from portal.notices.emails import confirmation_email, notice_email
from portal.notices.models import Delivery, Subscription
from portal.notices.services import (
    claim_delivery,
    finish_delivery,
    release_delivery,
    requeue_stale_deliveries,
)

log = logging.getLogger(__name__)

SEND_TIME_LIMIT = 300  # seconds; STALE_CLAIM_AFTER is 15 minutes
_TRANSPORT_ERRORS = (smtplib.SMTPException, OSError)


def _backoff(attempt: int) -> int:
    """Seconds before the next try: exponential with jitter, capped at an hour."""
    return min(3600, 2**attempt * 15) + random.randint(0, 15)  # noqa: S311 - jitter, not secrecy


@shared_task(bind=True, max_retries=5, time_limit=SEND_TIME_LIMIT)
def send_confirmation_task(self, subscription_id: int) -> None:
    """Mail the double opt-in link to a pending subscription."""
    subscription = Subscription.objects.filter(
        pk=subscription_id, status=Subscription.Status.PENDING
    ).first()
    if subscription is None:
        return
    try:
        confirmation_email(subscription).send()
    except _TRANSPORT_ERRORS as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task
def dispatch_deliveries_task(notice_id: int) -> int:
    """Queue one send per pending delivery of a notice. Returns how many were queued."""
    ids = Delivery.objects.filter(
        notice_id=notice_id, status=Delivery.Status.PENDING
    ).values_list("pk", flat=True)
    count = 0
    for delivery_id in ids.iterator(chunk_size=1000):
        send_delivery_task.delay(delivery_id)
        count += 1
    log.info("queued %d deliveries for notice %s", count, notice_id)
    return count


# A send that takes longer is killed, well before requeue_stale_deliveries would hand its row to
# another worker: a live worker's claim is never taken over.
@shared_task(bind=True, max_retries=None, time_limit=SEND_TIME_LIMIT)
def send_delivery_task(self, delivery_id: int) -> None:
    """Send one notice email. The claim makes a duplicate message or a retry a no-op."""
    if not claim_delivery(delivery_id):
        return
    delivery = Delivery.objects.select_related("notice", "subscription").get(
        pk=delivery_id
    )
    attempts = delivery.attempts + 1
    if delivery.subscription.status != Subscription.Status.ACTIVE:
        release_delivery(
            delivery_id=delivery_id,
            error="subscription no longer active",
            attempts=attempts,
            give_up=True,
        )
        return
    try:
        notice_email(delivery.notice, delivery.subscription).send()
    except _TRANSPORT_ERRORS as exc:
        give_up = attempts >= settings.DELIVERY_MAX_ATTEMPTS
        release_delivery(
            delivery_id=delivery_id, error=repr(exc), attempts=attempts, give_up=give_up
        )
        log.warning("delivery %s failed (attempt %d): %r", delivery_id, attempts, exc)
        if not give_up:
            raise self.retry(exc=exc, countdown=_backoff(attempts)) from exc
        return
    Delivery.objects.filter(pk=delivery_id).update(attempts=attempts)
    finish_delivery(delivery_id=delivery_id)


@shared_task
def requeue_stale_deliveries_task() -> int:
    """Beat: give rows stuck in "sending" (their worker died) back to a worker. Returns how many."""
    ids = requeue_stale_deliveries()
    for delivery_id in ids:
        send_delivery_task.delay(delivery_id)
    if ids:
        log.warning("requeued %d deliveries with stale claims", len(ids))
    return len(ids)
