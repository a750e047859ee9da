"""Every write to notices, subscriptions and deliveries. Never imports `cases`."""

import datetime

from django.db import transaction
from django.utils import timezone

from portal.accounts.roles import is_caseworker
from portal.audit.services import record_event
from portal.lib.errors import Refused
from portal.lib.locks import serialize
from portal.notices.models import Delivery, HandoverNotice, Subscription
from portal.notices.tokens import (
    TokenExpired,
    TokenInvalid,
    read_confirm_token,
    read_unsubscribe_token,
)

_BATCH = 1000
CONFIRMATION_RESEND_INTERVAL = datetime.timedelta(minutes=10)
# A claim older than this belongs to a worker that died mid-send.
STALE_CLAIM_AFTER = datetime.timedelta(minutes=15)


@transaction.atomic
def draft_notice(
    *,
    actor,
    project_name: str,
    ecosystem: str,
    repository_url: str,
    purls: list[str],
    window_start: datetime.date,
    window_end: datetime.date | None,
    steward_name: str,
    steward_handle: str,
    guidance: str,
    source_ip: str | None = None,
) -> HandoverNotice:
    """Write a notice awaiting a second caseworker's approval. Nothing is public yet."""
    if not is_caseworker(actor):
        raise Refused("Only caseworkers draft handover notices.")
    if window_end is not None and window_end < window_start:
        raise Refused("The expected end of the window is before its start.")
    notice = HandoverNotice.objects.create(
        project_name=project_name,
        ecosystem=ecosystem,
        repository_url=repository_url,
        purls=purls,
        window_start=window_start,
        window_end=window_end,
        steward_name=steward_name,
        steward_handle=steward_handle,
        guidance=guidance,
        drafted_by=actor,
    )
    record_event(actor=actor, action="notice.drafted", obj=notice, source_ip=source_ip)
    return notice


def _next_reference(year: int) -> str:
    prefix = f"HN-{year}-"
    last = (
        HandoverNotice.objects.filter(reference__startswith=prefix)
        .order_by("-reference")
        .values_list("reference", flat=True)
        .first()
    )
    number = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{number:04d}"


@transaction.atomic
def approve_notice(
    *, notice: HandoverNotice, actor, source_ip: str | None = None
) -> HandoverNotice:
    """Publish a notice once a second caseworker approves it.

    Refuses the drafter, non-caseworkers and notices already published. In the same transaction it
    writes one `Delivery` per active subscription; after commit a task sends them.
    """
    from portal.notices.tasks import dispatch_deliveries_task

    if not is_caseworker(actor):
        raise Refused("Only caseworkers approve handover notices.")
    # Serialise approvals: the yearly reference counter must not hand out a number twice.
    serialize("notice-reference")
    notice = HandoverNotice.objects.select_for_update().get(pk=notice.pk)
    if notice.status != HandoverNotice.Status.AWAITING_APPROVAL:
        raise Refused("This notice has already been published.")
    if notice.drafted_by_id == actor.pk:
        raise Refused("You drafted this notice; another caseworker must approve it.")
    now = timezone.now()
    notice.reference = _next_reference(now.year)
    notice.status = HandoverNotice.Status.PUBLISHED
    notice.approved_by = actor
    notice.published_at = now
    notice.save(update_fields=["reference", "status", "approved_by", "published_at"])

    subscription_ids = Subscription.objects.filter(
        status=Subscription.Status.ACTIVE
    ).values_list("pk", flat=True)
    batch: list[Delivery] = []
    for subscription_id in subscription_ids.iterator(chunk_size=_BATCH):
        batch.append(Delivery(subscription_id=subscription_id, notice=notice))
        if len(batch) >= _BATCH:
            Delivery.objects.bulk_create(batch)
            batch = []
    Delivery.objects.bulk_create(batch)

    record_event(actor=actor, action="notice.approved", obj=notice, source_ip=source_ip)
    transaction.on_commit(lambda: dispatch_deliveries_task.delay(notice.pk))
    return notice


@transaction.atomic
def request_subscription(
    *, email: str, source_ip: str | None = None
) -> Subscription | None:
    """Start double opt-in for `email`; after commit a task mails the confirmation link.

    Answers the same way whether or not the address is already subscribed, so the form cannot
    be used to learn who subscribes: an active subscription is left alone and gets no mail.
    """
    from portal.notices.tasks import send_confirmation_task

    email = email.strip().lower()
    # SECURITY: two first requests for one address must not race to the unique constraint.
    serialize(f"subscription:{email}")
    subscription = (
        Subscription.objects.select_for_update()
        .exclude(status=Subscription.Status.UNSUBSCRIBED)
        .filter(email=email)
        .first()
    )
    if subscription is not None and subscription.status == Subscription.Status.ACTIVE:
        return None
    now = timezone.now()
    if subscription is None:
        subscription = Subscription.objects.create(email=email)
        record_event(
            actor=None,
            action="subscription.requested",
            obj=subscription,
            source_ip=source_ip,
        )
    elif (
        subscription.confirmation_sent_at is not None
        and now - subscription.confirmation_sent_at < CONFIRMATION_RESEND_INTERVAL
    ):
        # The form must not become a way to flood someone's inbox.
        return subscription
    subscription.confirmation_sent_at = now
    subscription.save(update_fields=["confirmation_sent_at"])
    transaction.on_commit(lambda: send_confirmation_task.delay(subscription.pk))
    return subscription


def find_subscription_to_confirm(token: str) -> Subscription:
    """Read a confirmation link; raise Refused with a message a person can act on."""
    try:
        public_id = read_confirm_token(token)
    except TokenExpired:
        raise Refused(
            "This confirmation link has expired. Subscribe again and we will send you a new one."
        ) from None
    except TokenInvalid:
        raise Refused(
            "This confirmation link is not valid. Check that you copied the whole link."
        ) from None
    subscription = Subscription.objects.filter(public_id=public_id).first()
    if subscription is None or subscription.status == Subscription.Status.UNSUBSCRIBED:
        raise Refused(
            "This confirmation link is no longer valid. Subscribe again to get a new one."
        )
    if subscription.status == Subscription.Status.ACTIVE:
        raise Refused(
            "This confirmation link has already been used; your subscription is active."
        )
    return subscription


@transaction.atomic
def confirm_subscription(*, token: str, source_ip: str | None = None) -> Subscription:
    """Activate the subscription a confirmation link names. A link works once, and only in time."""
    subscription = find_subscription_to_confirm(token)
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if subscription.status != Subscription.Status.PENDING:
        raise Refused(
            "This confirmation link has already been used; your subscription is active."
        )
    subscription.status = Subscription.Status.ACTIVE
    subscription.confirmed_at = timezone.now()
    subscription.save(update_fields=["status", "confirmed_at"])
    record_event(
        actor=None,
        action="subscription.confirmed",
        obj=subscription,
        source_ip=source_ip,
    )
    return subscription


def find_subscription_to_cancel(token: str) -> Subscription:
    try:
        public_id = read_unsubscribe_token(token)
    except TokenInvalid:
        raise Refused(
            "This unsubscribe link is not valid. Check that you copied the whole link."
        ) from None
    subscription = Subscription.objects.filter(public_id=public_id).first()
    if subscription is None:
        raise Refused(
            "This unsubscribe link is not valid. Check that you copied the whole link."
        )
    return subscription


@transaction.atomic
def unsubscribe(*, token: str, source_ip: str | None = None) -> Subscription:
    """End a subscription from its one-click link. Doing it twice is harmless; pending mail stops."""
    subscription = find_subscription_to_cancel(token)
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if subscription.status != Subscription.Status.UNSUBSCRIBED:
        subscription.status = Subscription.Status.UNSUBSCRIBED
        subscription.unsubscribed_at = timezone.now()
        subscription.save(update_fields=["status", "unsubscribed_at"])
        subscription.deliveries.filter(status=Delivery.Status.PENDING).update(
            status=Delivery.Status.FAILED, last_error="unsubscribed before sending"
        )
        record_event(
            actor=None,
            action="subscription.cancelled",
            obj=subscription,
            source_ip=source_ip,
        )
    return subscription


def claim_delivery(delivery_id: int) -> bool:
    """Move one delivery from pending to sending. True for exactly one caller, however many retry."""
    return (
        Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.SENDING, claimed_at=timezone.now()
        )
        == 1
    )


def requeue_stale_deliveries(
    *, older_than: datetime.timedelta = STALE_CLAIM_AFTER
) -> list[int]:
    """Put deliveries whose worker died after claiming them back to pending; return their ids.

    Delivery is at least once: a worker that sent the mail but died before recording it will have
    its row sent again. It is never lost, and a live worker's claim is never taken over.
    """
    cutoff = timezone.now() - older_than
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=Delivery.Status.SENDING, claimed_at__lt=cutoff)
            .values_list("pk", flat=True)[:_BATCH]
        )
        Delivery.objects.filter(pk__in=ids, status=Delivery.Status.SENDING).update(
            status=Delivery.Status.PENDING, last_error="requeued after a stale claim"
        )
    return ids


def finish_delivery(*, delivery_id: int) -> None:
    Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.SENT, sent_at=timezone.now()
    )


def release_delivery(
    *, delivery_id: int, error: str, attempts: int, give_up: bool
) -> None:
    """Put a delivery whose send failed back in the queue, or mark it failed for good."""
    Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.FAILED if give_up else Delivery.Status.PENDING,
        attempts=attempts,
        last_error=error[:500],
    )
