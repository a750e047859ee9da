"""The outbox: one Delivery row per subscription and revision, claimed before every send.

Publishing writes the rows in its own transaction; workers send them. A row moves
pending → sending (claimed by exactly one worker) → sent, or back to pending with a later
`next_attempt_at`, or to failed. Retries are scheduled in the database, not in the broker, so a
broker that loses or repeats a message can delay a delivery but never lose or double it.
"""

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.audit.services import record_event
from portal.lib.errors import Refused
from portal.notices.models import Delivery, NoticeRevision, Subscription

BATCH = 1000
# How many deliveries one send task handles: one SMTP connection, one claim each.
SEND_BATCH = 50
# A pending row this much past its time was not picked up: its message was lost or not sent.
DISPATCH_GRACE = datetime.timedelta(seconds=60)


def subscriptions_for(revision_content: dict):
    """Active subscriptions whose filter matches a revision's project, ecosystem or purls."""
    # SECURITY: one filter(Q(...)) so the OR cannot widen through a multi-valued relation.
    return Subscription.objects.filter(
        Q(status=Subscription.Status.ACTIVE)
        & (
            Q(filter_kind=Subscription.Filter.ALL)
            | Q(
                filter_kind=Subscription.Filter.ECOSYSTEM,
                filter_value=revision_content["ecosystem"],
            )
            | Q(
                filter_kind=Subscription.Filter.PROJECT,
                filter_value=revision_content["project_name"].lower(),
            )
            | Q(
                filter_kind=Subscription.Filter.PURL,
                filter_value__in=revision_content["purls"],
            )
        )
    )


def write_deliveries(revision: NoticeRevision) -> int:
    """Inside the publishing transaction: one pending row per matching subscription."""
    now = timezone.now()
    ids = subscriptions_for(revision.content).values_list("pk", flat=True)
    count, batch = 0, []
    for subscription_id in ids.iterator(chunk_size=BATCH):
        batch.append(
            Delivery(
                subscription_id=subscription_id, revision=revision, next_attempt_at=now
            )
        )
        if len(batch) >= BATCH:
            Delivery.objects.bulk_create(batch, ignore_conflicts=True)
            count += len(batch)
            batch = []
    # A row that already exists (a redelivered revision) is never written twice.
    Delivery.objects.bulk_create(batch, ignore_conflicts=True)
    return count + len(batch)


def claim_delivery(delivery_id: int) -> bool:
    """Move one delivery from pending to sending. True for exactly one caller, however many retry.

    A row whose next attempt is still in the future is not claimed: a broker that hands out an
    old message again (a visibility timeout, a restarted worker) must not cut a backoff short.
    """
    now = timezone.now()
    return (
        Delivery.objects.filter(
            Q(pk=delivery_id, status=Delivery.Status.PENDING)
            & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        ).update(status=Delivery.Status.SENDING, claimed_at=now)
        == 1
    )


def finish_delivery(
    *, delivery_id: int, attempts: int, status_code: int | None = None
) -> None:
    Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.SENT,
        sent_at=timezone.now(),
        attempts=attempts,
        last_status_code=status_code,
        last_error="",
    )


def release_delivery(
    *,
    delivery_id: int,
    error: str,
    attempts: int,
    retry_at: datetime.datetime | None,
    status_code: int | None = None,
) -> None:
    """Put a delivery whose send failed back for `retry_at`, or mark it failed when None."""
    Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.FAILED if retry_at is None else Delivery.Status.PENDING,
        next_attempt_at=retry_at,
        attempts=attempts,
        last_error=error[:500],
        last_status_code=status_code,
    )


def due_deliveries(*, now: datetime.datetime | None = None) -> list[int]:
    """Pending deliveries whose time has come and gone by the grace period (retries, lost sends)."""
    now = now or timezone.now()
    return list(
        Delivery.objects.filter(
            status=Delivery.Status.PENDING, next_attempt_at__lte=now - DISPATCH_GRACE
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[: BATCH * 10]
    )


def requeue_stale_deliveries(
    *,
    older_than: datetime.timedelta | None = None,
    now: datetime.datetime | None = None,
) -> list[int]:
    """Put deliveries whose worker died after claiming them back to pending; return their ids.

    Delivery is at least once: a worker that sent but died before recording it has its row sent
    again, with the same webhook-id, so receivers can tell. A live worker's claim is never taken
    over: sends are killed (time limit) well before a claim counts as stale.
    """
    older_than = older_than or datetime.timedelta(
        seconds=settings.DELIVERY_STALE_CLAIM_SECONDS
    )
    cutoff = (now or timezone.now()) - older_than
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=Delivery.Status.SENDING, claimed_at__lt=cutoff)
            .values_list("pk", flat=True)[:BATCH]
        )
        Delivery.objects.filter(pk__in=ids, status=Delivery.Status.SENDING).update(
            status=Delivery.Status.PENDING,
            last_error="requeued after a stale claim",
            next_attempt_at=timezone.now(),
        )
    return ids


@transaction.atomic
def disable_gone_webhook(*, subscription_id: int, status_code: int) -> None:
    """The receiver answered 410 Gone: stop sending to it until its owner turns it back on."""
    subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
    if subscription.status == Subscription.Status.ACTIVE:
        subscription.status = Subscription.Status.DISABLED
        subscription.disabled_reason = f"The receiver answered {status_code} Gone; turn the webhook on again to resume."
        subscription.save(update_fields=["status", "disabled_reason"])
        subscription.deliveries.filter(status=Delivery.Status.PENDING).update(
            status=Delivery.Status.FAILED, last_error="webhook disabled (410 Gone)"
        )
        record_event(actor=None, action="webhook.disabled", obj=subscription)


@transaction.atomic
def redeliver(*, delivery: Delivery, actor, source_ip: str | None = None) -> Delivery:
    """The webhook's owner asks for a sent or dead delivery again, with the same webhook-id.

    Refuses someone else's delivery, a webhook that is off, and a delivery still on its way.
    After commit a task sends it; it gets the whole retry schedule again.
    """
    from portal.notices.tasks import send_deliveries_task

    delivery = (
        Delivery.objects.select_for_update()
        .select_related("subscription")
        .get(pk=delivery.pk)
    )
    if delivery.subscription.owner_id != actor.pk:
        raise Refused("This delivery is not to one of your webhooks.")
    if delivery.subscription.status != Subscription.Status.ACTIVE:
        raise Refused("Turn the webhook on before asking for a redelivery.")
    if delivery.status in (Delivery.Status.PENDING, Delivery.Status.SENDING):
        raise Refused("This delivery is already on its way.")
    delivery.status = Delivery.Status.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.last_error = ""
    # A new round with the full retry schedule: a delivery that was dead would otherwise get
    # one attempt and be given up (and its owner mailed) again at once.
    delivery.attempts = 0
    delivery.save(update_fields=["status", "next_attempt_at", "last_error", "attempts"])
    record_event(
        actor=actor, action="delivery.redelivered", obj=delivery, source_ip=source_ip
    )
    transaction.on_commit(lambda: send_deliveries_task.delay([delivery.pk]))
    return delivery
