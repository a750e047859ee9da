"""The publish-to-inbox journey against a real Celery worker, a real broker and real SMTP."""

import re
import threading
import time
from urllib.parse import urlsplit

import pytest
from celery.signals import task_postrun
from django.test import Client

from cases.services import draft_handover
from portal.notices import services
from portal.notices.models import Delivery, Subscription
from portal.notices.tasks import send_deliveries_task
from tests.factories import SubscriptionFactory
from tests.portal.notices.conftest import content

# serialized_rollback: restore the role groups (data-migration rows) that an earlier transactional
# test's flush removed; the cast fixtures need them.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

SUBSCRIBERS = 25
TIMEOUT = 30.0


def wait_for(condition, what: str, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def unfold(value: str) -> str:
    """A header value as one line (RFC 5322 folding undone)."""
    return re.sub(r"\r?\n(?=[ \t])", "", value).strip()


def text_body(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(
                part.get_content_charset() or "utf-8"
            )
    raise AssertionError("no text/plain part")


class FinishedTasks:
    """Ids of tasks the worker has finished, whatever their outcome."""

    def __init__(self):
        self.ids = set()
        self._lock = threading.Lock()

    def __call__(self, task_id=None, **kwargs):
        with self._lock:
            self.ids.add(task_id)

    def include(self, ids) -> bool:
        with self._lock:
            return set(ids) <= self.ids


@pytest.fixture
def finished_tasks():
    finished = FinishedTasks()
    task_postrun.connect(finished, weak=False)
    yield finished
    task_postrun.disconnect(finished)


def test_published_notice_reaches_every_subscriber_exactly_once(
    smtp_sink, celery_worker, finished_tasks, case, caseworker, second_caseworker
):
    subscribers = SubscriptionFactory.create_batch(SUBSCRIBERS)
    SubscriptionFactory(email="pending@example.net", status=Subscription.Status.PENDING)

    handover = draft_handover(case=case, actor=caseworker, content=content())
    revision = services.approve_revision(
        revision=handover.notice.revisions.get(), actor=second_caseworker
    )
    notice = revision.notice

    deliveries = Delivery.objects.filter(revision=revision)
    assert deliveries.count() == SUBSCRIBERS
    wait_for(
        lambda: not deliveries.exclude(status=Delivery.Status.SENT).exists(),
        "every delivery to be sent",
    )

    for subscriber in subscribers:
        received = smtp_sink.to(subscriber.email)
        assert len(received) == 1, subscriber.email
        message = received[0]
        assert notice.reference in unfold(message["Subject"])
        assert unfold(message["List-Unsubscribe"]).startswith("<http")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert smtp_sink.to("pending@example.net") == []
    assert len(smtp_sink.messages) == SUBSCRIBERS
    assert set(deliveries.values_list("attempts", flat=True)) == {1}

    # Redelivered messages (a broker retry, a worker restart) must not mail anyone twice.
    again = [
        send_deliveries_task.delay([pk]).id
        for pk in deliveries.values_list("pk", flat=True)
    ]
    wait_for(lambda: finished_tasks.include(again), "the repeated sends to finish")
    assert len(smtp_sink.messages) == SUBSCRIBERS
    assert set(deliveries.values_list("status", flat=True)) == {Delivery.Status.SENT}

    # The header's link is the one-click unsubscribe of RFC 8058.
    first = subscribers[0]
    link = unfold(smtp_sink.to(first.email)[0]["List-Unsubscribe"]).strip("<>")
    response = Client(enforce_csrf_checks=True).post(
        urlsplit(link).path, {"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    first.refresh_from_db()
    assert first.status == Subscription.Status.UNSUBSCRIBED


def test_confirmation_mail_link_activates_the_subscription(smtp_sink, celery_worker):
    services.request_subscription(email="reader@example.net")
    wait_for(lambda: smtp_sink.to("reader@example.net"), "the confirmation mail")

    (message,) = smtp_sink.to("reader@example.net")
    match = re.search(
        r"https?://\S+/notices/subscribe/confirm/\S+/", text_body(message)
    )
    assert match, text_body(message)
    path = urlsplit(match.group(0)).path
    subscription = Subscription.objects.get(email="reader@example.net")
    assert subscription.status == Subscription.Status.PENDING

    response = Client().post(path)
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE
    assert len(smtp_sink.messages) == 1
