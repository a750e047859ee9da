"""Subscriptions: email (double opt-in, one-click unsubscribe) and webhooks (signed-in owners)."""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.audit.services import record_event
from portal.lib.errors import Refused
from portal.lib.locks import serialize
from portal.lib.netguard import WebhookURLRefused, check_webhook_url
from portal.lib.webhooks import generate_secret
from portal.notices.models import Delivery, Subscription
from portal.notices.tokens import (
    TokenExpired,
    TokenInvalid,
    read_confirm_token,
    read_unsubscribe_token,
)

CONFIRMATION_RESEND_INTERVAL = datetime.timedelta(minutes=10)
MAX_WEBHOOKS_PER_OWNER = 20


def _live(queryset):
    return queryset.exclude(
        status__in=[Subscription.Status.UNSUBSCRIBED, Subscription.Status.DISABLED]
    )


@transaction.atomic
def request_subscription(
    *,
    email: str,
    filter_kind: str = Subscription.Filter.ALL,
    filter_value: str = "",
    source_ip: str | None = None,
) -> Subscription | None:
    """Start double opt-in for `email` and this filter; after commit a task mails the link.

    Answers the same way whether or not the address is already subscribed, so the form cannot
    be used to learn who subscribes: an active subscription is left alone and gets no mail.
    """
    from portal.notices.tasks import send_confirmation_task

    email = email.strip().lower()
    # SECURITY: two first requests for one address must not race to the unique constraint.
    serialize(f"subscription:{email}")
    subscription = (
        _live(Subscription.objects.select_for_update())
        .filter(
            channel=Subscription.Channel.EMAIL,
            email=email,
            filter_kind=filter_kind,
            filter_value=filter_value,
        )
        .first()
    )
    if subscription is not None and subscription.status == Subscription.Status.ACTIVE:
        return None
    now = timezone.now()
    if subscription is None:
        subscription = Subscription.objects.create(
            channel=Subscription.Channel.EMAIL,
            email=email,
            filter_kind=filter_kind,
            filter_value=filter_value,
        )
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
    subscription = Subscription.objects.filter(
        public_id=public_id, channel=Subscription.Channel.EMAIL
    ).first()
    if subscription is None or subscription.status in (
        Subscription.Status.UNSUBSCRIBED,
        Subscription.Status.DISABLED,
    ):
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
    subscription = Subscription.objects.filter(
        public_id=public_id, channel=Subscription.Channel.EMAIL
    ).first()
    if subscription is None:
        raise Refused(
            "This unsubscribe link is not valid. Check that you copied the whole link."
        )
    return subscription


def _stop_pending(subscription: Subscription, reason: str) -> None:
    subscription.deliveries.filter(status=Delivery.Status.PENDING).update(
        status=Delivery.Status.FAILED, last_error=reason
    )


@transaction.atomic
def unsubscribe(*, token: str, source_ip: str | None = None) -> Subscription:
    """End a subscription from its one-click link. Doing it twice is harmless; pending mail stops."""
    subscription = find_subscription_to_cancel(token)
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if subscription.status != Subscription.Status.UNSUBSCRIBED:
        subscription.status = Subscription.Status.UNSUBSCRIBED
        subscription.unsubscribed_at = timezone.now()
        subscription.save(update_fields=["status", "unsubscribed_at"])
        _stop_pending(subscription, "unsubscribed before sending")
        record_event(
            actor=None,
            action="subscription.cancelled",
            obj=subscription,
            source_ip=source_ip,
        )
    return subscription


# --- Webhooks --------------------------------------------------------------------------------
def checked_webhook_url(url: str):
    """The URL checked against SSRF rules, or Refused saying why it cannot be used."""
    try:
        return check_webhook_url(url, allow_loopback=settings.WEBHOOK_ALLOW_LOOPBACK)
    except WebhookURLRefused as exc:
        raise Refused(str(exc)) from None


@transaction.atomic
def create_webhook(
    *,
    owner,
    url: str,
    filter_kind: str = Subscription.Filter.ALL,
    filter_value: str = "",
    source_ip: str | None = None,
) -> tuple[Subscription, str]:
    """Register a webhook for a signed-in owner; return it and its secret (shown only once).

    Refuses URLs that are not https or that reach a loopback, private, link-local or otherwise
    internal address (checked again before every send, see tasks).
    """
    if not owner.is_authenticated:
        raise Refused("Sign in to register a webhook.")
    checked_webhook_url(url)
    serialize(f"webhooks:{owner.pk}")
    if (
        _live(Subscription.objects.filter(owner=owner, channel="webhook")).count()
        >= MAX_WEBHOOKS_PER_OWNER
    ):
        raise Refused(
            f"You have {MAX_WEBHOOKS_PER_OWNER} webhooks already; remove one before adding another."
        )
    secret = generate_secret()
    subscription = Subscription.objects.create(
        channel=Subscription.Channel.WEBHOOK,
        url=url,
        owner=owner,
        secrets=[secret],
        filter_kind=filter_kind,
        filter_value=filter_value,
        status=Subscription.Status.ACTIVE,
        confirmed_at=timezone.now(),
    )
    record_event(
        actor=owner, action="webhook.created", obj=subscription, source_ip=source_ip
    )
    return subscription, secret


def _owned_webhook(subscription: Subscription, actor) -> Subscription:
    locked = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if locked.owner_id != actor.pk or locked.channel != Subscription.Channel.WEBHOOK:
        raise Refused("This webhook is not yours.")
    return locked


@transaction.atomic
def rotate_webhook_secret(
    *, subscription: Subscription, actor, source_ip: str | None = None
) -> str:
    """Start signing with a new secret; until `retire_old_secret`, both secrets sign every send."""
    subscription = _owned_webhook(subscription, actor)
    if len(subscription.secrets) > 1:
        raise Refused(
            "A rotation is already under way: retire the old secret first, then rotate again."
        )
    secret = generate_secret()
    subscription.secrets = [secret, *subscription.secrets]
    subscription.save(update_fields=["secrets"])
    record_event(
        actor=actor,
        action="webhook.secret_rotated",
        obj=subscription,
        source_ip=source_ip,
    )
    return secret


@transaction.atomic
def retire_old_secret(
    *, subscription: Subscription, actor, source_ip: str | None = None
) -> Subscription:
    """End a rotation: only the newest secret signs from now on."""
    subscription = _owned_webhook(subscription, actor)
    if len(subscription.secrets) < 2:
        raise Refused("There is no old secret to retire.")
    subscription.secrets = subscription.secrets[:1]
    subscription.save(update_fields=["secrets"])
    record_event(
        actor=actor,
        action="webhook.secret_retired",
        obj=subscription,
        source_ip=source_ip,
    )
    return subscription


@transaction.atomic
def remove_webhook(
    *, subscription: Subscription, actor, source_ip: str | None = None
) -> Subscription:
    """Stop sending to a webhook. Its delivery log stays."""
    subscription = _owned_webhook(subscription, actor)
    if subscription.status != Subscription.Status.DISABLED:
        subscription.status = Subscription.Status.DISABLED
        subscription.disabled_reason = "Removed by its owner."
        subscription.save(update_fields=["status", "disabled_reason"])
        _stop_pending(subscription, "webhook removed before sending")
        record_event(
            actor=actor, action="webhook.removed", obj=subscription, source_ip=source_ip
        )
    return subscription


@transaction.atomic
def enable_webhook(
    *, subscription: Subscription, actor, source_ip: str | None = None
) -> Subscription:
    """Turn a webhook that answered 410 (or was removed) back on, after checking its URL again."""
    subscription = _owned_webhook(subscription, actor)
    checked_webhook_url(subscription.url)
    if subscription.status == Subscription.Status.DISABLED:
        subscription.status = Subscription.Status.ACTIVE
        subscription.disabled_reason = ""
        subscription.save(update_fields=["status", "disabled_reason"])
        record_event(
            actor=actor, action="webhook.enabled", obj=subscription, source_ip=source_ip
        )
    return subscription
