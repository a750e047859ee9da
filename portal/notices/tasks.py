"""Workers: fan a published revision out to its deliveries, send them, and sweep the outbox.

Tasks carry row ids only. Every send claims its row first (pending → sending), so a message the
broker delivers twice, or a batch re-run after its worker was killed, never sends a row twice.
"""

import datetime
import logging
import random
import smtplib

from celery import shared_task
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from portal.lib import webhooks
from portal.notices.emails import (
    confirmation_email,
    dead_webhook_email,
    notice_email,
    objection_email,
)
from portal.notices.models import Delivery, Objection, Subscription
from portal.notices.services import (
    apply_due_revisions,
    claim_delivery,
    disable_gone_webhook,
    due_deliveries,
    finish_delivery,
    release_delivery,
    requeue_stale_deliveries,
)
from portal.notices.services.outbox import SEND_BATCH

log = logging.getLogger(__name__)

# A send batch that takes longer is killed, well before its claims count as stale.
SEND_TIME_LIMIT = 300
_TRANSPORT_ERRORS = (smtplib.SMTPException, OSError)


def _email_backoff(attempt: int) -> float:
    """Seconds before the next try of an email: exponential with jitter, capped at an hour."""
    return min(3600, 2**attempt * 15) + random.uniform(0, 15)  # noqa: S311 - jitter, not secrecy


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
        raise self.retry(
            exc=exc, countdown=_email_backoff(self.request.retries)
        ) from exc


def _queue_in_batches(ids) -> int:
    count, batch = 0, []
    for delivery_id in ids:
        batch.append(delivery_id)
        if len(batch) >= SEND_BATCH:
            send_deliveries_task.delay(batch)
            count += len(batch)
            batch = []
    if batch:
        send_deliveries_task.delay(batch)
    return count + len(batch)


@shared_task
def dispatch_revision_task(revision_id: int) -> int:
    """Queue the pending deliveries of a revision, in batches. Returns how many were queued."""
    ids = (
        Delivery.objects.filter(revision_id=revision_id, status=Delivery.Status.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    count = _queue_in_batches(ids.iterator(chunk_size=2000))
    log.info("queued %d deliveries for revision %s", count, revision_id)
    return count


@shared_task(time_limit=SEND_TIME_LIMIT)
def send_deliveries_task(delivery_ids: list[int]) -> int:
    """Send a batch of deliveries: emails over one SMTP connection, webhooks one by one."""
    sent = 0
    connection = None
    try:
        for delivery_id in delivery_ids:
            if not claim_delivery(delivery_id):
                continue
            delivery = Delivery.objects.select_related(
                "revision__notice", "subscription"
            ).get(pk=delivery_id)
            if delivery.subscription.status != Subscription.Status.ACTIVE:
                release_delivery(
                    delivery_id=delivery_id,
                    error="subscription no longer active",
                    attempts=delivery.attempts,
                    retry_at=None,
                )
                continue
            if delivery.subscription.is_webhook:
                sent += _send_webhook(delivery)
            else:
                if connection is None:
                    connection = mail.get_connection()
                sent += _send_email(delivery, connection)
    finally:
        if connection is not None:
            connection.close()
    return sent


def _send_email(delivery: Delivery, connection) -> int:
    attempts = delivery.attempts + 1
    try:
        notice_email(delivery.revision, delivery.subscription, connection).send()
    except _TRANSPORT_ERRORS as exc:
        give_up = attempts >= settings.DELIVERY_MAX_ATTEMPTS
        retry_at = (
            None
            if give_up
            else timezone.now() + datetime.timedelta(seconds=_email_backoff(attempts))
        )
        release_delivery(
            delivery_id=delivery.pk,
            error=repr(exc),
            attempts=attempts,
            retry_at=retry_at,
        )
        log.warning("delivery %s failed (attempt %d): %r", delivery.pk, attempts, exc)
        # A broken connection must not fail the rest of the batch.
        try:
            connection.close()
        except _TRANSPORT_ERRORS:
            pass
        connection.connection = None
        return 0
    finish_delivery(delivery_id=delivery.pk, attempts=attempts)
    return 1


def _signature_url(revision) -> str:
    return settings.SITE_URL + reverse(
        "notices:revision_signature", args=[revision.notice.reference, revision.number]
    )


def _send_webhook(delivery: Delivery) -> int:
    attempts = delivery.attempts + 1
    subscription = delivery.subscription
    payload = bytes(delivery.revision.document)
    headers = webhooks.build_headers(
        msg_id=delivery.webhook_id, payload=payload, secrets=subscription.secrets
    )
    headers["steady-signature-url"] = _signature_url(delivery.revision)
    result = webhooks.deliver(
        subscription.url,
        payload,
        headers,
        allow_loopback=settings.WEBHOOK_ALLOW_LOOPBACK,
        ca_file=settings.WEBHOOK_CA_FILE,
        timeout=settings.WEBHOOK_TIMEOUT,
    )
    if result.outcome == webhooks.Outcome.DELIVERED:
        finish_delivery(
            delivery_id=delivery.pk, attempts=attempts, status_code=result.status
        )
        return 1
    if result.outcome == webhooks.Outcome.GONE:
        release_delivery(
            delivery_id=delivery.pk,
            error=result.error,
            attempts=attempts,
            retry_at=None,
            status_code=result.status,
        )
        disable_gone_webhook(subscription_id=subscription.pk, status_code=result.status)
        return 0
    # DELIVERY_MAX_ATTEMPTS rules webhooks as it rules email; the library's schedule gives the
    # delays and its last delay repeats if the setting allows more attempts than it lists.
    give_up = (
        result.outcome == webhooks.Outcome.FAILED
        or attempts >= settings.DELIVERY_MAX_ATTEMPTS
    )
    delay = (
        None
        if give_up
        else webhooks.retry_delay(
            min(attempts, webhooks.MAX_ATTEMPTS - 1), retry_after=result.retry_after
        )
    )
    release_delivery(
        delivery_id=delivery.pk,
        error=result.error,
        attempts=attempts,
        retry_at=(
            None
            if delay is None
            else timezone.now() + datetime.timedelta(seconds=delay)
        ),
        status_code=result.status,
    )
    if delay is None:
        log.warning(
            "webhook delivery %s is dead after %d attempts", delivery.pk, attempts
        )
        tell_owner_of_dead_delivery_task.delay(delivery.pk)
    return 0


@shared_task(bind=True, max_retries=5, time_limit=SEND_TIME_LIMIT)
def tell_owner_of_dead_delivery_task(self, delivery_id: int) -> None:
    """Mail a webhook's owner that a delivery was given up, with a link to its delivery log."""
    delivery = Delivery.objects.select_related(
        "subscription__owner", "revision__notice"
    ).get(pk=delivery_id)
    try:
        dead_webhook_email(delivery).send()
    except _TRANSPORT_ERRORS as exc:
        raise self.retry(
            exc=exc, countdown=_email_backoff(self.request.retries)
        ) from exc


@shared_task(bind=True, max_retries=5, time_limit=SEND_TIME_LIMIT)
def tell_caseworkers_of_objection_task(self, objection_id: int) -> None:
    objection = Objection.objects.select_related("revision__notice").get(
        pk=objection_id
    )
    message = objection_email(objection)
    if message is None:
        return
    try:
        message.send()
    except _TRANSPORT_ERRORS as exc:
        raise self.retry(
            exc=exc, countdown=_email_backoff(self.request.retries)
        ) from exc


@shared_task
def dispatch_due_deliveries_task() -> int:
    """Beat: queue pending deliveries whose time has come (retries, and sends whose message was lost)."""
    return _queue_in_batches(due_deliveries())


@shared_task
def requeue_stale_deliveries_task() -> int:
    """Beat: give rows stuck in "sending" (their worker died) back to a worker. Returns how many."""
    ids = requeue_stale_deliveries()
    if ids:
        log.warning("requeued %d deliveries with stale claims", len(ids))
        _queue_in_batches(ids)
    return len(ids)


@shared_task
def apply_due_revisions_task() -> int:
    """Beat: revisions whose public objection period has passed take effect."""
    return apply_due_revisions()
