"""The outbox against the real database and a real HTTPS receiver on 127.0.0.1.

Send tasks are called in this process here (the worker-process proofs are in test_reliability);
what they do to rows, receivers and mailboxes is what is checked.
"""

import datetime
import threading

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.celery import app
from portal.lib import webhooks
from portal.notices import services
from portal.notices.models import Delivery, Subscription
from portal.notices.services.outbox import DISPATCH_GRACE
from portal.notices.tasks import (
    requeue_stale_deliveries_task,
    send_deliveries_task,
)
from tests.factories import SubscriptionFactory, UserFactory
from tests.portal.notices.publishing import publish
from tests.webhook_receiver import WebhookReceiver, make_tls

pytestmark = pytest.mark.django_db


@pytest.fixture
def tasks_in_process():
    """Tasks a send queues (the owner's dead-delivery mail) run here, whatever the broker."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = eager


@pytest.fixture
def tls(tmp_path_factory):
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def receiver(tls, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    settings.WEBHOOK_CA_FILE = tls.ca_file
    settings.WEBHOOK_TIMEOUT = 5.0
    with WebhookReceiver(tls) as running:
        yield running


@pytest.fixture
def owner(db):
    return UserFactory(email="dora@example.net")


def hook(receiver, owner, path="/hook", **filters):
    subscription, secret = services.create_webhook(
        owner=owner, url=receiver.url(path), **filters
    )
    receiver.add_endpoint(path, [secret])
    return subscription


def only_delivery(subscription) -> Delivery:
    (delivery,) = subscription.deliveries.all()
    return delivery


# --- Writing the outbox ----------------------------------------------------------------------


def test_publishing_writes_one_pending_delivery_per_matching_active_subscription(
    caseworker, second_caseworker
):
    everything = SubscriptionFactory(filter_kind="all")
    ecosystem = SubscriptionFactory(filter_kind="ecosystem", filter_value="pypi")
    project = SubscriptionFactory(filter_kind="project", filter_value="tinyzip")
    purl = SubscriptionFactory(filter_kind="purl", filter_value="pkg:pypi/tinyzip")
    other_ecosystem = SubscriptionFactory(filter_kind="ecosystem", filter_value="npm")
    other_project = SubscriptionFactory(filter_kind="project", filter_value="leftpadx")
    other_purl = SubscriptionFactory(filter_kind="purl", filter_value="pkg:pypi/other")
    SubscriptionFactory(status=Subscription.Status.PENDING)
    SubscriptionFactory(status=Subscription.Status.UNSUBSCRIBED)
    SubscriptionFactory(status=Subscription.Status.DISABLED)

    revision = publish(
        caseworker,
        second_caseworker,
        project_name="TinyZip",
        ecosystem="pypi",
        purls=("pkg:pypi/tinyzip", "pkg:pypi/tinyzip-cli"),
    )

    deliveries = Delivery.objects.filter(revision=revision)
    assert set(deliveries.values_list("subscription_id", flat=True)) == {
        everything.pk,
        ecosystem.pk,
        project.pk,
        purl.pk,
    }
    assert set(deliveries.values_list("status", flat=True)) == {Delivery.Status.PENDING}
    assert not Delivery.objects.filter(
        subscription__in=[other_ecosystem, other_project, other_purl]
    ).exists()


def test_each_revision_gets_its_own_delivery_for_the_same_subscription(
    caseworker, second_caseworker
):
    subscriber = SubscriptionFactory()
    first = publish(caseworker, second_caseworker, project_name="first-lib")
    second = publish(caseworker, second_caseworker, project_name="second-lib")
    assert {d.revision_id for d in subscriber.deliveries.all()} == {first.pk, second.pk}


def test_database_refuses_a_second_delivery_for_a_subscription_and_revision(
    caseworker, second_caseworker
):
    subscriber = SubscriptionFactory()
    revision = publish(caseworker, second_caseworker)

    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(subscription=subscriber, revision=revision)

    # Writing the outbox again (a retried publication step) adds nothing either.
    services.write_deliveries(revision)
    assert subscriber.deliveries.count() == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite lets one writer in at a time and fails the others at once; "
    "the race is run on PostgreSQL",
)
# serialized_rollback: later tests need the rows data migrations made (role groups).
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_outbox_writers_racing_for_one_revision_still_write_one_row_each(
    caseworker, second_caseworker
):
    subscribers = SubscriptionFactory.create_batch(40)
    revision = publish(caseworker, second_caseworker)
    Delivery.objects.all().delete()
    start = threading.Barrier(4)
    errors = []

    def write():
        try:
            start.wait()
            with transaction.atomic():
                services.write_deliveries(revision)
        except Exception as exc:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Delivery.objects.filter(revision=revision).count() == len(subscribers)


# --- Claims ----------------------------------------------------------------------------------


def test_a_delivery_is_claimed_once(caseworker, second_caseworker):
    subscriber = SubscriptionFactory()
    publish(caseworker, second_caseworker)
    delivery = only_delivery(subscriber)

    assert services.claim_delivery(delivery.pk) is True
    assert services.claim_delivery(delivery.pk) is False
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENDING
    assert delivery.claimed_at is not None


# serialized_rollback: later tests need the rows data migrations made (role groups).
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_workers_racing_for_one_delivery_have_exactly_one_winner(
    caseworker, second_caseworker
):
    subscriber = SubscriptionFactory()
    publish(caseworker, second_caseworker)
    delivery = only_delivery(subscriber)
    # Publishing committed and queued its send; whatever that did, the row is pending again.
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.PENDING, next_attempt_at=timezone.now()
    )
    start = threading.Barrier(6)
    wins = []

    def claim():
        try:
            start.wait()
            wins.append(services.claim_delivery(delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(wins) == [False] * 5 + [True]


def test_a_delivery_waiting_out_its_backoff_is_not_claimed(
    caseworker, second_caseworker
):
    subscriber = SubscriptionFactory()
    publish(caseworker, second_caseworker)
    delivery = only_delivery(subscriber)
    later = timezone.now() + datetime.timedelta(minutes=5)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=later)

    assert services.claim_delivery(delivery.pk) is False

    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert services.claim_delivery(delivery.pk) is True


def test_stale_claims_go_back_to_pending_and_live_ones_stay(
    caseworker, second_caseworker, settings
):
    settings.DELIVERY_STALE_CLAIM_SECONDS = 600
    stale, live, sent = SubscriptionFactory.create_batch(3)
    publish(caseworker, second_caseworker)
    now = timezone.now()
    for subscriber, claimed_ago, status in (
        (stale, 900, Delivery.Status.SENDING),
        (live, 60, Delivery.Status.SENDING),
        (sent, 900, Delivery.Status.SENT),
    ):
        subscriber.deliveries.update(
            status=status, claimed_at=now - datetime.timedelta(seconds=claimed_ago)
        )

    requeued = services.requeue_stale_deliveries()

    assert requeued == [only_delivery(stale).pk]
    assert only_delivery(stale).status == Delivery.Status.PENDING
    assert only_delivery(live).status == Delivery.Status.SENDING
    assert only_delivery(sent).status == Delivery.Status.SENT
    assert services.requeue_stale_deliveries() == []


def test_due_deliveries_are_pending_rows_past_their_time_and_grace(
    caseworker, second_caseworker
):
    due, early, future, sending = SubscriptionFactory.create_batch(4)
    publish(caseworker, second_caseworker)
    now = timezone.now()
    due.deliveries.update(next_attempt_at=now - DISPATCH_GRACE * 2)
    early.deliveries.update(next_attempt_at=now - DISPATCH_GRACE / 2)
    future.deliveries.update(next_attempt_at=now + datetime.timedelta(hours=1))
    sending.deliveries.update(
        status=Delivery.Status.SENDING, next_attempt_at=now - DISPATCH_GRACE * 2
    )

    assert services.due_deliveries(now=now) == [only_delivery(due).pk]
    later = now + datetime.timedelta(hours=2)
    assert set(services.due_deliveries(now=later)) == {
        only_delivery(due).pk,
        only_delivery(early).pk,
        only_delivery(future).pk,
    }


# --- Sending webhooks ------------------------------------------------------------------------


def test_webhook_delivery_carries_the_signed_bytes_and_a_verifiable_signature(
    receiver, owner, caseworker, second_caseworker
):
    subscription = hook(receiver, owner)
    revision = publish(caseworker, second_caseworker)
    delivery = only_delivery(subscription)

    assert send_deliveries_task([delivery.pk]) == 1

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert (delivery.attempts, delivery.last_status_code) == (1, 200)
    assert receiver.processed == [delivery.webhook_id]
    (request,) = receiver.requests
    assert request.verified
    assert request.body == bytes(revision.document)
    assert request.headers["steady-signature-url"].endswith(
        f"/notices/{revision.notice.reference}/revisions/{revision.number}.json.sig"
    )

    # A repeated message for a delivered row sends nothing.
    assert send_deliveries_task([delivery.pk]) == 0
    assert len(receiver.requests) == 1


def test_during_a_rotation_receivers_with_either_secret_accept(
    receiver, owner, caseworker, second_caseworker
):
    subscription = hook(receiver, owner, "/old")
    old = subscription.secrets[0]
    new = services.rotate_webhook_secret(subscription=subscription, actor=owner)
    Subscription.objects.filter(pk=subscription.pk).update(url=receiver.url("/new"))
    receiver.add_endpoint("/new", [new])
    publish(caseworker, second_caseworker, project_name="first-lib")
    receiver.set_secrets([old], path="/new")
    publish(caseworker, second_caseworker, project_name="second-lib")
    first, second = subscription.deliveries.order_by("pk")

    receiver.set_secrets([new], path="/new")
    send_deliveries_task([first.pk])
    receiver.set_secrets([old], path="/new")
    send_deliveries_task([second.pk])

    assert receiver.rejected == 0
    assert set(receiver.processed) == {first.webhook_id, second.webhook_id}
    assert set(subscription.deliveries.values_list("status", flat=True)) == {
        Delivery.Status.SENT
    }


def test_a_failed_attempt_is_retried_later_with_the_same_webhook_id(
    receiver, owner, caseworker, second_caseworker
):
    subscription = hook(receiver, owner)
    publish(caseworker, second_caseworker)
    delivery = only_delivery(subscription)
    receiver.answer(503, times=1, then=200)

    before = timezone.now()
    assert send_deliveries_task([delivery.pk]) == 0

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert (delivery.attempts, delivery.last_status_code) == (1, 503)
    assert "HTTP 503" in delivery.last_error
    first_delay = webhooks.RETRY_SCHEDULE[0]
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert first_delay * 0.8 - 1 <= wait <= first_delay * 1.2 + 1
    # The message arriving again before its time sends nothing.
    assert send_deliveries_task([delivery.pk]) == 0
    assert len(receiver.requests) == 1

    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert send_deliveries_task([delivery.pk]) == 1
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.attempts == 2
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert ids == [delivery.webhook_id, delivery.webhook_id]
    assert (
        receiver.requests[0].headers["webhook-timestamp"]
        <= (receiver.requests[1].headers["webhook-timestamp"])
    )


def test_410_gone_disables_the_webhook_and_stops_its_pending_deliveries(
    receiver, owner, caseworker, second_caseworker
):
    subscription = hook(receiver, owner)
    publish(caseworker, second_caseworker, project_name="first-lib")
    publish(caseworker, second_caseworker, project_name="second-lib")
    first, second = subscription.deliveries.order_by("pk")
    receiver.answer(410)

    send_deliveries_task([first.pk])

    subscription.refresh_from_db()
    first.refresh_from_db()
    second.refresh_from_db()
    assert subscription.status == Subscription.Status.DISABLED
    assert "410" in subscription.disabled_reason
    assert (first.status, first.last_status_code) == (Delivery.Status.FAILED, 410)
    assert second.status == Delivery.Status.FAILED
    assert AuditEvent.objects.filter(
        action="webhook.disabled", object_id=str(subscription.public_id)
    ).exists()
    # Nothing more goes to it, even if a message for the other row turns up.
    send_deliveries_task([second.pk])
    assert len(receiver.requests) == 1


def test_redirects_are_not_followed(receiver, owner, caseworker, second_caseworker):
    subscription = hook(receiver, owner)
    publish(caseworker, second_caseworker)
    delivery = only_delivery(subscription)
    receiver.location = receiver.url("/elsewhere")
    receiver.answer(307)

    send_deliveries_task([delivery.pk])

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.last_status_code == 307
    assert [(r.path, r.status) for r in receiver.requests] == [("/hook", 307)]
    assert receiver.processed == []


def test_after_the_last_attempt_the_delivery_is_dead_and_its_owner_is_mailed(
    receiver, owner, caseworker, second_caseworker, settings, tasks_in_process
):
    settings.DELIVERY_MAX_ATTEMPTS = 3
    subscription = hook(receiver, owner)
    revision = publish(caseworker, second_caseworker)
    delivery = only_delivery(subscription)
    receiver.answer(500)

    for attempt in (1, 2, 3):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        send_deliveries_task([delivery.pk])
        delivery.refresh_from_db()
        assert delivery.attempts == attempt
        if attempt < 3:
            assert delivery.status == Delivery.Status.PENDING
            assert mail.outbox == []

    assert delivery.status == Delivery.Status.FAILED
    assert delivery.next_attempt_at is None
    (message,) = mail.outbox
    assert message.to == [owner.email]
    assert revision.notice.reference in message.body
    assert receiver.url("/hook") in message.body
    # A dead delivery is not sent again by a stray message.
    send_deliveries_task([delivery.pk])
    assert len(receiver.requests) == 3


def test_a_url_that_now_reaches_a_private_address_is_dead_at_once(
    receiver, owner, caseworker, second_caseworker, tasks_in_process
):
    subscription = hook(receiver, owner)
    publish(caseworker, second_caseworker)
    delivery = only_delivery(subscription)
    Subscription.objects.filter(pk=subscription.pk).update(url="https://10.9.8.7/hook")

    send_deliveries_task([delivery.pk])

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert "a private address" in delivery.last_error
    assert receiver.requests == []
    assert [m.to for m in mail.outbox] == [[owner.email]]


def test_a_redelivered_dead_delivery_gets_the_whole_retry_schedule_again(
    receiver, owner, caseworker, second_caseworker, tasks_in_process
):
    subscription = hook(receiver, owner)
    publish(caseworker, second_caseworker)
    delivery = only_delivery(subscription)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.FAILED, attempts=8, next_attempt_at=None
    )
    receiver.answer(503)

    # The view's transaction commits before the queued send runs.
    with transaction.atomic():
        services.redeliver(delivery=delivery, actor=owner)
    send_deliveries_task([delivery.pk])

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.attempts == 1
    assert mail.outbox == []


def test_a_subscription_turned_off_after_publishing_gets_nothing(
    receiver, owner, caseworker, second_caseworker
):
    subscription = hook(receiver, owner)
    publish(caseworker, second_caseworker)
    delivery = only_delivery(subscription)
    # Turned off behind the service's back, so the pending row is still there to be sent.
    Subscription.objects.filter(pk=subscription.pk).update(
        status=Subscription.Status.DISABLED
    )

    assert send_deliveries_task([delivery.pk]) == 0

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert receiver.requests == []


def test_requeued_stale_claims_are_sent_again_with_the_same_webhook_id(
    receiver, owner, caseworker, second_caseworker, settings, tasks_in_process
):
    settings.DELIVERY_STALE_CLAIM_SECONDS = 60
    subscription = hook(receiver, owner)
    publish(caseworker, second_caseworker)
    delivery = only_delivery(subscription)
    # A worker claimed the row long ago and died.
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.SENDING,
        claimed_at=timezone.now() - datetime.timedelta(minutes=5),
    )

    assert requeue_stale_deliveries_task() == 1

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert receiver.processed == [delivery.webhook_id]


# --- Sending email ---------------------------------------------------------------------------


def test_email_deliveries_reach_each_subscriber_once(
    smtp_sink, caseworker, second_caseworker
):
    subscribers = SubscriptionFactory.create_batch(3)
    revision = publish(caseworker, second_caseworker)
    ids = list(Delivery.objects.filter(revision=revision).values_list("pk", flat=True))

    assert send_deliveries_task(ids) == 3
    assert send_deliveries_task(ids) == 0

    for subscriber in subscribers:
        (message,) = smtp_sink.to(subscriber.email)
        assert revision.notice.reference in message["Subject"]
    assert set(
        Delivery.objects.filter(pk__in=ids).values_list("status", flat=True)
    ) == {Delivery.Status.SENT}


def test_an_unreachable_mail_server_leaves_email_deliveries_for_a_later_retry(
    settings, caseworker, second_caseworker
):
    from tests.conftest import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    SubscriptionFactory.create_batch(2)
    revision = publish(caseworker, second_caseworker)
    ids = list(Delivery.objects.filter(revision=revision).values_list("pk", flat=True))

    assert send_deliveries_task(ids) == 0

    for delivery in Delivery.objects.filter(pk__in=ids):
        assert delivery.status == Delivery.Status.PENDING
        assert delivery.attempts == 1
        assert delivery.next_attempt_at > timezone.now()
        assert (
            "Connection refused" in delivery.last_error
            or "Errno" in delivery.last_error
        )
