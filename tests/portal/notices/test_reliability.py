"""Delivery survives a worker killed mid fan-out, and a receiver that is down for a while.

Real processes throughout: `celery -A portal worker` subprocesses on the configured Redis broker,
the test database pytest-django created (committed rows, so the workers see them), and an HTTPS
receiver on 127.0.0.1 that verifies every request with `standardwebhooks`. Nothing is mocked;
the test process plays the publisher and the beat scheduler.

Run them alone with `-m reliability`, with CELERY_BROKER_URL=redis://127.0.0.1:6379/<N>.
"""

import datetime
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from portal.celery import app
from portal.lib.webhooks import RETRY_SCHEDULE, generate_secret
from portal.notices.models import Delivery, Subscription
from portal.notices.services.outbox import DISPATCH_GRACE
from portal.notices.tasks import (
    dispatch_due_deliveries_task,
    requeue_stale_deliveries_task,
)
from tests.factories import UserFactory
from tests.portal.notices.publishing import publish
from tests.webhook_receiver import WebhookReceiver, make_tls

BROKER = settings.CELERY_BROKER_URL

pytestmark = [
    pytest.mark.reliability,
    # serialized_rollback: the cast needs the role groups a data migration made.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        not BROKER.startswith("redis://"),
        reason="needs a broker that worker processes share: set CELERY_BROKER_URL to "
        "redis://127.0.0.1:6379/<N> (CI does); the in-memory broker lives in one process",
    ),
]

ROOT = Path(settings.BASE_DIR)
SUBSCRIBERS = 1000
# Seconds a stopped worker's claims and unacknowledged messages take to count as abandoned.
STALE_AFTER = 3
VISIBILITY_TIMEOUT = 5


def wait_for(condition, what: str, timeout: float, worker_logs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    logs = "\n".join(
        f"--- {log}:\n{Path(log).read_text()[-3000:]}" for log in worker_logs
    )
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{logs}")


def test_database_url() -> str:
    """DATABASE_URL naming the database this test runs in, for the worker processes."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = db["USER"] or ""
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return (
        f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}"
    )


test_database_url.__test__ = False  # a helper, not a test


class Worker:
    """`celery -A portal worker` in a process group of its own, so it can die all at once."""

    def __init__(self, env: dict[str, str], log: Path, name: str):
        self.log = log
        self._file = log.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--pool=prefork",
                "--concurrency=2",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
                f"--hostname={name}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the main process and its pool at once, like a machine losing power."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._file.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self._file.close()


@pytest.fixture
def tls(tmp_path):
    return make_tls(tmp_path / "tls")


@pytest.fixture
def broker():
    """The test process publishes to the real broker, starting from an empty queue."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    app.control.purge()
    yield app
    app.control.purge()
    app.conf.task_always_eager = eager


@pytest.fixture
def start_worker(tls, tmp_path, broker, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": BROKER,
        # WEBHOOK_ALLOW_LOOPBACK is refused at start-up unless DEBUG is on.
        "DEBUG": "true",
        "WEBHOOK_ALLOW_LOOPBACK": "true",
        "WEBHOOK_CA_FILE": tls.ca_file,
        "WEBHOOK_TIMEOUT": "5",
        "DELIVERY_STALE_CLAIM_SECONDS": str(STALE_AFTER),
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "PYTHONUNBUFFERED": "1",
    }
    workers = []

    def start() -> Worker:
        number = len(workers) + 1
        worker = Worker(
            env,
            tmp_path / f"worker{number}.log",
            f"reliability{number}-{uuid.uuid4().hex[:6]}",
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def webhook_subscriptions(receiver: WebhookReceiver, count: int) -> list[Subscription]:
    """`count` active webhooks, each with its own path and secret on `receiver`."""
    # Fixture data in bulk: create_webhook's per-owner limit and audit rows are tested elsewhere.
    owner = UserFactory(email="downstream@example.net")
    rows = []
    for n in range(count):
        secret = generate_secret()
        rows.append(
            Subscription(
                channel=Subscription.Channel.WEBHOOK,
                owner=owner,
                url=receiver.add_endpoint(f"/hook/{n}", [secret]),
                secrets=[secret],
                status=Subscription.Status.ACTIVE,
            )
        )
    return Subscription.objects.bulk_create(rows)


def test_killing_the_worker_mid_fan_out_loses_nothing_and_duplicates_nothing(
    tls, start_worker, caseworker, second_caseworker
):
    # A receiver that takes a little while per request, as real ones do, so the fan-out is
    # still under way when the worker dies.
    with WebhookReceiver(tls, delay=0.02) as receiver:
        webhook_subscriptions(receiver, SUBSCRIBERS)
        first = start_worker()

        revision = publish(caseworker, second_caseworker)

        deliveries = Delivery.objects.filter(revision=revision)
        assert deliveries.count() == SUBSCRIBERS
        wait_for(
            lambda: len(receiver.processed) >= SUBSCRIBERS // 5,
            "the fan-out to get going",
            timeout=90,
            worker_logs=[first.log],
        )
        # The worst moment to die: both pool processes hold a claim and wait on the receiver,
        # which will process those webhooks after the worker is gone.
        receiver.delay = 3.0
        wait_for(
            lambda: deliveries.filter(status=Delivery.Status.SENDING).count() == 2,
            "both pool processes to be mid-send",
            timeout=20,
            worker_logs=[first.log],
        )
        first.kill()
        receiver.delay = 0.02

        sent_at_kill = deliveries.filter(status=Delivery.Status.SENT).count()
        in_flight = {
            d.webhook_id for d in deliveries.filter(status=Delivery.Status.SENDING)
        }
        assert sent_at_kill < SUBSCRIBERS, "the fan-out finished before the worker died"
        # One of the two may have been a quick send started before the receiver slowed down,
        # finishing between the check above and the kill; at least one is always cut off.
        assert 1 <= len(in_flight) <= 2

        second = start_worker()

        def settled() -> bool:
            # What beat does, far more often: hand abandoned claims and lost sends back.
            requeue_stale_deliveries_task.delay()
            dispatch_due_deliveries_task.delay()
            return not deliveries.exclude(status=Delivery.Status.SENT).exists()

        deadline = time.monotonic() + 100
        while not settled():
            assert time.monotonic() < deadline, (
                "deliveries still unsent: "
                f"{list(deliveries.exclude(status='sent').values_list('status', flat=True))[:20]}"
                f"\n{second.log.read_text()[-3000:]}"
            )
            time.sleep(2)

        # Every subscription: exactly one row, delivered.
        per_subscription = list(
            deliveries.values_list("subscription_id", "status").order_by(
                "subscription_id"
            )
        )
        assert len(per_subscription) == SUBSCRIBERS
        assert len({s for s, _ in per_subscription}) == SUBSCRIBERS
        assert {status for _, status in per_subscription} == {Delivery.Status.SENT}
        expected = {d.webhook_id for d in deliveries}

        # The receivers saw every webhook-id and processed each once.
        assert receiver.rejected == 0
        assert len(receiver.processed) == SUBSCRIBERS
        assert set(receiver.processed) == expected
        assert {r.headers["webhook-id"] for r in receiver.requests} == expected
        # Only a send the kill cut off can arrive twice (the receiver may have processed it
        # before its claim went stale and it was sent again), and then with the same
        # webhook-id, so the receiver told them apart.
        assert set(receiver.duplicates) <= in_flight
        assert sum(receiver.duplicates.values()) <= len(in_flight)


def test_deliveries_arrive_after_retries_when_the_receiver_comes_back(
    tls, start_worker, caseworker, second_caseworker
):
    receiver = WebhookReceiver(tls)
    receiver.start()
    subscriptions = webhook_subscriptions(receiver, 30)
    receiver.stop()  # down, on a port that start() will reopen
    worker = start_worker()

    revision = publish(caseworker, second_caseworker)
    deliveries = Delivery.objects.filter(revision=revision)
    assert deliveries.count() == len(subscriptions)

    def all_attempted(times: int) -> bool:
        return deliveries.filter(
            status=Delivery.Status.PENDING, attempts=times
        ).count() == len(subscriptions)

    wait_for(
        lambda: all_attempted(1), "the first attempts", 60, worker_logs=[worker.log]
    )
    for delivery in deliveries:
        assert "refused the connection" in delivery.last_error
        # Backed off by the schedule's first step, with its jitter.
        wait = (delivery.next_attempt_at - delivery.claimed_at).total_seconds()
        assert RETRY_SCHEDULE[0] * 0.8 - 1 <= wait <= RETRY_SCHEDULE[0] * 1.2 + 1

    def move_clock_forward(delta: datetime.timedelta) -> None:
        # As if `delta` had passed: every scheduled retry comes that much closer.
        deliveries.filter(status=Delivery.Status.PENDING).update(
            next_attempt_at=F("next_attempt_at") - delta
        )

    move_clock_forward(
        datetime.timedelta(seconds=RETRY_SCHEDULE[0] * 2) + DISPATCH_GRACE
    )
    dispatch_due_deliveries_task.delay()
    wait_for(
        lambda: all_attempted(2), "the second attempts", 60, worker_logs=[worker.log]
    )

    receiver.start()
    try:
        # Back up, but the next retry (about five minutes out) is not due: nothing is sent early.
        dispatch_due_deliveries_task.delay()
        time.sleep(3)
        assert receiver.requests == []
        assert all_attempted(2)
        assert deliveries.filter(next_attempt_at__gt=timezone.now()).count() == len(
            subscriptions
        )

        move_clock_forward(
            datetime.timedelta(seconds=RETRY_SCHEDULE[1] * 1.2) + DISPATCH_GRACE
        )
        dispatch_due_deliveries_task.delay()
        wait_for(
            lambda: not deliveries.exclude(status=Delivery.Status.SENT).exists(),
            "the deliveries to arrive",
            60,
            worker_logs=[worker.log],
        )

        assert set(deliveries.values_list("attempts", flat=True)) == {3}
        assert set(deliveries.values_list("last_status_code", flat=True)) == {200}
        assert set(receiver.processed) == {d.webhook_id for d in deliveries}
        assert sum(receiver.duplicates.values()) == 0
        assert receiver.rejected == 0
    finally:
        receiver.stop()
