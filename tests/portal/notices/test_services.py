import datetime
import threading

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.lib.errors import Refused
from portal.notices import services
from portal.notices.models import Delivery, Subscription
from portal.notices.services.subscriptions import CONFIRMATION_RESEND_INTERVAL
from portal.notices.tokens import make_confirm_token, make_unsubscribe_token
from tests.factories import SubscriptionFactory
from tests.portal.notices.conftest import publish

pytestmark = pytest.mark.django_db

# --- request_subscription ---------------------------------------------------------------------


def test_request_subscription_creates_a_pending_row_and_mails_after_commit(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as callbacks:
        subscription = services.request_subscription(email="  Reader@Example.NET ")
    assert subscription.status == Subscription.Status.PENDING
    assert subscription.email == "reader@example.net"
    assert subscription.confirmed_at is None
    assert len(callbacks) == 1
    assert AuditEvent.objects.filter(action="subscription.requested").count() == 1


def test_request_for_an_active_address_creates_nothing_and_sends_nothing(
    django_capture_on_commit_callbacks,
):
    active = SubscriptionFactory(
        email="reader@example.net", confirmed_at=timezone.now()
    )
    with django_capture_on_commit_callbacks() as callbacks:
        result = services.request_subscription(email="Reader@example.net")
    assert result is None
    assert list(Subscription.objects.values_list("pk", "status")) == [
        (active.pk, Subscription.Status.ACTIVE)
    ]
    assert callbacks == []
    assert not AuditEvent.objects.exists()


def test_request_for_a_pending_address_resends_without_a_new_row(
    django_capture_on_commit_callbacks,
):
    first = services.request_subscription(email="reader@example.net")
    Subscription.objects.filter(pk=first.pk).update(
        confirmation_sent_at=timezone.now() - CONFIRMATION_RESEND_INTERVAL
    )
    with django_capture_on_commit_callbacks() as callbacks:
        again = services.request_subscription(email="reader@example.net")
    assert again.pk == first.pk
    assert Subscription.objects.count() == 1
    assert len(callbacks) == 1


def test_repeated_requests_within_the_interval_send_no_more_mail(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as callbacks:
        services.request_subscription(email="reader@example.net")
        services.request_subscription(email="reader@example.net")
        services.request_subscription(email="READER@example.net")
    assert len(callbacks) == 1
    assert Subscription.objects.count() == 1


def test_stale_claims_are_requeued_and_fresh_ones_left_alone(
    caseworker, second_caseworker
):
    SubscriptionFactory.create_batch(2)
    notice = publish(caseworker, second_caseworker)
    stale, fresh = Delivery.objects.filter(revision=notice.latest_revision).order_by(
        "pk"
    )
    assert services.claim_delivery(stale.pk) and services.claim_delivery(fresh.pk)
    Delivery.objects.filter(pk=stale.pk).update(
        claimed_at=timezone.now()
        - datetime.timedelta(seconds=settings.DELIVERY_STALE_CLAIM_SECONDS)
        - datetime.timedelta(seconds=1)
    )
    assert services.requeue_stale_deliveries() == [stale.pk]
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.status, fresh.status) == (
        Delivery.Status.PENDING,
        Delivery.Status.SENDING,
    )
    # The requeued row can be claimed again, exactly once.
    assert services.claim_delivery(stale.pk)
    assert not services.claim_delivery(stale.pk)


def test_an_unsubscribed_address_can_subscribe_again():
    old = SubscriptionFactory(email="reader@example.net")
    services.unsubscribe(token=make_unsubscribe_token(old))
    new = services.request_subscription(email="reader@example.net")
    assert new.pk != old.pk
    assert new.status == Subscription.Status.PENDING


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_first_requests_for_one_address_both_answer():
    outcome = {}

    def request_again():
        try:
            outcome["subscription"] = services.request_subscription(
                email="reader@example.net"
            )
        except Exception as exc:  # noqa: BLE001 - reported to the test thread
            outcome["error"] = exc
        finally:
            connection.close()

    other = threading.Thread(target=request_again)
    with transaction.atomic():
        services.request_subscription(email="reader@example.net")
        other.start()
        other.join(timeout=1)
    other.join(timeout=10)
    assert "error" not in outcome, outcome
    assert Subscription.objects.count() == 1


# --- confirm_subscription ---------------------------------------------------------------------


@pytest.fixture
def pending():
    return SubscriptionFactory(status=Subscription.Status.PENDING)


def test_valid_confirmation_token_activates(pending):
    subscription = services.confirm_subscription(token=make_confirm_token(pending))
    pending.refresh_from_db()
    assert subscription.pk == pending.pk
    assert pending.status == Subscription.Status.ACTIVE
    assert pending.confirmed_at is not None
    assert (
        AuditEvent.objects.filter(
            action="subscription.confirmed", object_id=str(pending.public_id)
        ).count()
        == 1
    )


def test_reused_confirmation_token_is_refused_and_changes_nothing(pending):
    token = make_confirm_token(pending)
    services.confirm_subscription(token=token)
    pending.refresh_from_db()
    confirmed_at = pending.confirmed_at
    with pytest.raises(Refused, match="already been used"):
        services.confirm_subscription(token=token)
    pending.refresh_from_db()
    assert pending.status == Subscription.Status.ACTIVE
    assert pending.confirmed_at == confirmed_at
    assert AuditEvent.objects.filter(action="subscription.confirmed").count() == 1


def test_expired_confirmation_token_is_refused(pending, settings):
    token = make_confirm_token(pending)
    # Every link is now older than the age allowed.
    settings.SUBSCRIPTION_CONFIRM_MAX_AGE = -1
    with pytest.raises(Refused, match="expired"):
        services.confirm_subscription(token=token)
    pending.refresh_from_db()
    assert pending.status == Subscription.Status.PENDING
    assert pending.confirmed_at is None


def test_confirmation_token_pointed_at_another_subscription_is_refused(pending):
    victim = SubscriptionFactory(status=Subscription.Status.PENDING)
    mine = make_confirm_token(pending)
    theirs = make_confirm_token(victim)
    # Keep my signature, swap in their payload.
    forged = theirs.split(":", 1)[0] + ":" + mine.split(":", 1)[1]
    assert forged not in (mine, theirs)
    with pytest.raises(Refused, match="not valid"):
        services.confirm_subscription(token=forged)
    with pytest.raises(Refused, match="not valid"):
        services.confirm_subscription(
            token=mine[:-1] + ("A" if mine[-1] != "A" else "B")
        )
    assert set(Subscription.objects.values_list("status", flat=True)) == {
        Subscription.Status.PENDING
    }


def test_unsubscribe_token_does_not_confirm(pending):
    with pytest.raises(Refused, match="not valid"):
        services.confirm_subscription(token=make_unsubscribe_token(pending))
    pending.refresh_from_db()
    assert pending.status == Subscription.Status.PENDING


# --- unsubscribe ------------------------------------------------------------------------------


def test_unsubscribe_is_idempotent_and_stops_pending_mail(
    caseworker, second_caseworker
):
    subscription = SubscriptionFactory()
    bystander = SubscriptionFactory()
    sent_notice = publish(caseworker, second_caseworker, project_name="sent")
    Delivery.objects.filter(revision=sent_notice.latest_revision).update(
        status=Delivery.Status.SENT
    )
    pending_notice = publish(caseworker, second_caseworker, project_name="pending")
    token = make_unsubscribe_token(subscription)

    services.unsubscribe(token=token)
    subscription.refresh_from_db()
    unsubscribed_at = subscription.unsubscribed_at
    assert subscription.status == Subscription.Status.UNSUBSCRIBED
    assert unsubscribed_at is not None
    mine = dict(subscription.deliveries.values_list("revision__notice_id", "status"))
    assert mine == {
        sent_notice.pk: Delivery.Status.SENT,
        pending_notice.pk: Delivery.Status.FAILED,
    }
    assert (
        subscription.deliveries.get(revision__notice=pending_notice).last_error
        == "unsubscribed before sending"
    )
    assert (
        bystander.deliveries.get(revision__notice=pending_notice).status
        == Delivery.Status.PENDING
    )

    again = services.unsubscribe(token=token)
    subscription.refresh_from_db()
    assert again.pk == subscription.pk
    assert subscription.unsubscribed_at == unsubscribed_at
    assert AuditEvent.objects.filter(action="subscription.cancelled").count() == 1


def test_tampered_unsubscribe_token_is_refused():
    subscription = SubscriptionFactory()
    token = make_unsubscribe_token(subscription)
    with pytest.raises(Refused, match="not valid"):
        services.unsubscribe(token=token[:-1] + ("A" if token[-1] != "A" else "B"))
    with pytest.raises(Refused, match="not valid"):
        services.unsubscribe(token=make_confirm_token(subscription))
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE


# --- the outbox -------------------------------------------------------------------------------


def test_a_delivery_is_claimed_exactly_once(published_notice):
    delivery = Delivery.objects.create(
        subscription=SubscriptionFactory(), revision=published_notice.latest_revision
    )
    assert services.claim_delivery(delivery.pk) is True
    assert services.claim_delivery(delivery.pk) is False
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENDING
    services.finish_delivery(delivery_id=delivery.pk, attempts=1)
    assert services.claim_delivery(delivery.pk) is False
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.sent_at is not None
