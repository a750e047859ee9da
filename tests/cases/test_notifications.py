"""Case notifications: who is told what, that the mail links to the case, and that it never
carries what anyone wrote on it. End to end through a real worker and SMTP."""

import email.header
import threading
import time

import pytest
from celery.signals import task_postrun
from django.conf import settings
from django.urls import reverse

from cases import notifications, services
from cases.models import Case, Urgency
from cases.tasks import send_case_notification_task
from portal.lib.errors import Refused
from portal.projects.services import register_project
from tests.conftest import CANARY_NARRATIVE

MESSAGE_CANARY = "The pressure comes from heron-whisper-5521."
NOTE_CANARY = "Internal: heron-whisper looks like a sockpuppet, kestrel-3390."
REPLY_CANARY = "They wrote to me again last night, marten-8812."
CANARIES = (
    CANARY_NARRATIVE,
    "violet-otter",
    MESSAGE_CANARY,
    "heron-whisper",
    "kestrel-3390",
    "marten-8812",
    "tinyzip",  # the project's name
)
TIMEOUT = 30.0


def queued_mail(callbacks):
    """(event, case id, user id) of each notification queued for after commit."""
    return sorted(
        callback.args
        for callback in callbacks
        if getattr(callback, "func", None) == send_case_notification_task.delay
    )


def everything_in(message) -> str:
    """Subject, headers and every decoded part of a received mail, as one string."""
    chunks = [
        str(email.header.make_header(email.header.decode_header(message["Subject"])))
    ]
    chunks += [f"{name}: {value}" for name, value in message.items()]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            chunks.append(part.get_payload(decode=True).decode("utf-8"))
    return "\n".join(chunks)


def text_part(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode("utf-8")
    raise AssertionError("no text/plain part")


def assert_no_case_text(message):
    content = everything_in(message)
    for canary in CANARIES:
        assert canary not in content, canary


def detail_url(case):
    return settings.SITE_URL + reverse("cases:detail", args=[case.public_id])


@pytest.fixture
def co_maintainer(case, maintainer, other_maintainer):
    register_project(
        actor=other_maintainer,
        name="tinyzip",
        ecosystem="generic",
        repository_url="https://github.com/example/tinyzip",
        purls=[],
    )
    services.add_co_maintainer(
        case=case, actor=maintainer, email=other_maintainer.email
    )
    return other_maintainer


# --- Who is told ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_caseworker_message_goes_to_the_maintainers(
    case,
    co_maintainer,
    maintainer,
    caseworker,
    second_caseworker,
    django_capture_on_commit_callbacks,
):
    services.assign_caseworker(
        case=case, caseworker=second_caseworker, actor=caseworker
    )
    with django_capture_on_commit_callbacks() as callbacks:
        services.post_message(case=case, actor=caseworker, body=MESSAGE_CANARY)
    assert queued_mail(callbacks) == sorted(
        [
            (notifications.MESSAGE, case.pk, maintainer.pk),
            (notifications.MESSAGE, case.pk, co_maintainer.pk),
        ]
    )


@pytest.mark.django_db
def test_maintainer_message_goes_to_the_assigned_caseworkers(
    case,
    co_maintainer,
    maintainer,
    caseworker,
    second_caseworker,
    unassigned_caseworker,
    django_capture_on_commit_callbacks,
):
    services.assign_caseworker(
        case=case, caseworker=second_caseworker, actor=caseworker
    )
    with django_capture_on_commit_callbacks() as callbacks:
        services.post_message(case=case, actor=maintainer, body=REPLY_CANARY)
    assert queued_mail(callbacks) == sorted(
        [
            (notifications.MESSAGE, case.pk, caseworker.pk),
            (notifications.MESSAGE, case.pk, second_caseworker.pk),
        ]
    )


@pytest.mark.django_db
def test_internal_note_notifies_nobody(
    case, caseworker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        services.post_message(
            case=case, actor=caseworker, body=NOTE_CANARY, internal=True
        )
    assert queued_mail(callbacks) == []


@pytest.mark.django_db
def test_refused_message_queues_nothing(
    case, caseworker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(Refused):
            services.post_message(case=case, actor=caseworker, body="   ")
    assert queued_mail(callbacks) == []


@pytest.mark.django_db
def test_assignment_by_a_colleague_tells_the_colleague_and_taking_a_case_tells_nobody(
    new_case, caseworker, second_caseworker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        services.assign_caseworker(
            case=new_case, caseworker=caseworker, actor=caseworker
        )
    assert queued_mail(callbacks) == []
    with django_capture_on_commit_callbacks() as callbacks:
        services.assign_caseworker(
            case=new_case, caseworker=second_caseworker, actor=caseworker
        )
    assert queued_mail(callbacks) == [
        (notifications.ASSIGNED, new_case.pk, second_caseworker.pk)
    ]


# --- What the mail says (the task run in this process, real SMTP to the sink) ---------------


@pytest.mark.django_db
def test_message_mail_to_a_maintainer_links_the_case_and_says_nothing_else(
    smtp_sink, case, maintainer, caseworker
):
    services.post_message(case=case, actor=caseworker, body=MESSAGE_CANARY)
    send_case_notification_task(notifications.MESSAGE, case.pk, maintainer.pk)
    (message,) = smtp_sink.to(maintainer.email)
    assert message["Subject"] == "[Steady] New message on a case you follow"
    assert message["Auto-Submitted"] == "auto-generated"
    body = text_part(message)
    assert detail_url(case) in body
    assert f'href="{detail_url(case)}"' in everything_in(message)
    # Not even what the case is about: a maintainer's inbox may be read by others.
    assert "Harassment" not in everything_in(message)
    assert_no_case_text(message)


@pytest.mark.django_db
def test_message_mail_to_a_caseworker_gives_category_and_urgency(
    smtp_sink, case, maintainer, caseworker
):
    services.post_message(case=case, actor=maintainer, body=REPLY_CANARY)
    send_case_notification_task(notifications.MESSAGE, case.pk, caseworker.pk)
    (message,) = smtp_sink.to(caseworker.email)
    body = text_part(message)
    assert "Case: Harassment or pressure campaign, High urgency" in body
    assert detail_url(case) in body
    assert_no_case_text(message)


@pytest.mark.django_db
def test_mail_is_dropped_for_someone_who_lost_access(
    smtp_sink, case, caseworker, second_caseworker, stranger
):
    services.assign_caseworker(
        case=case, caseworker=second_caseworker, actor=caseworker
    )
    services.unassign_caseworker(
        case=case, caseworker=second_caseworker, actor=second_caseworker
    )
    send_case_notification_task(notifications.MESSAGE, case.pk, second_caseworker.pk)
    send_case_notification_task(notifications.ASSIGNED, case.pk, stranger.pk)
    send_case_notification_task(notifications.MESSAGE, case.pk, 0)
    assert smtp_sink.messages == []


@pytest.mark.django_db
def test_sla_mail_for_a_pool_case_links_the_queue_and_is_dropped_once_answered(
    smtp_sink, new_case, caseworker, unassigned_caseworker
):
    Case.objects.filter(pk=new_case.pk).update(
        first_response_due_at=new_case.created_at
    )
    send_case_notification_task(
        notifications.SLA_BREACHED, new_case.pk, unassigned_caseworker.pk
    )
    (message,) = smtp_sink.to(unassigned_caseworker.email)
    assert message["Subject"] == (
        "[Steady] First response overdue on a high urgency case"
    )
    body = text_part(message)
    # They cannot open a case nobody has taken; the queue is where they can take it.
    assert settings.SITE_URL + reverse("cases:queue") + "?sort=due" in body
    assert "Case: Harassment or pressure campaign, High urgency" in body
    assert_no_case_text(message)

    services.assign_caseworker(case=new_case, caseworker=caseworker, actor=caseworker)
    services.post_message(case=new_case, actor=caseworker, body=MESSAGE_CANARY)
    send_case_notification_task(notifications.SLA_BREACHED, new_case.pk, caseworker.pk)
    assert smtp_sink.to(caseworker.email) == []


@pytest.mark.django_db
def test_due_soon_mail_to_an_assigned_caseworker_links_the_case(
    smtp_sink, case, caseworker
):
    send_case_notification_task(notifications.SLA_DUE_SOON, case.pk, caseworker.pk)
    (message,) = smtp_sink.to(caseworker.email)
    assert "First response due soon" in message["Subject"]
    assert detail_url(case) in text_part(message)
    assert_no_case_text(message)


# --- End to end: services → on commit → broker → worker → SMTP ------------------------------


class FinishedTasks:
    def __init__(self):
        self.ids = set()
        self._lock = threading.Lock()

    def __call__(self, task_id=None, **kwargs):
        with self._lock:
            self.ids.add(task_id)

    def __contains__(self, task_id) -> bool:
        with self._lock:
            return task_id in self.ids


def wait_for(condition, what: str):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {TIMEOUT:.0f}s waiting for {what}")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_case_events_reach_the_right_inboxes_through_a_worker_without_case_text(
    smtp_sink,
    celery_worker,
    case,
    co_maintainer,
    maintainer,
    caseworker,
    second_caseworker,
    unassigned_caseworker,
):
    finished = FinishedTasks()
    task_postrun.connect(finished, weak=False)
    try:
        services.assign_caseworker(
            case=case, caseworker=second_caseworker, actor=caseworker
        )
        services.post_message(case=case, actor=caseworker, body=MESSAGE_CANARY)
        services.post_message(
            case=case, actor=caseworker, body=NOTE_CANARY, internal=True
        )
        services.post_message(case=case, actor=maintainer, body=REPLY_CANARY)
        waiting = services.open_case(
            actor=maintainer,
            project=case.project,
            category="burnout",
            urgency=Urgency.CRITICAL,
            help_wanted=["talk"],
            narrative=CANARY_NARRATIVE,
        )
        Case.objects.filter(pk=waiting.pk).update(
            first_response_due_at=waiting.created_at
        )
        warnings = services.warn_first_response()
        # `case` had its first response, so only the waiting one is warned.
        assert [w.case_id for w in warnings] == [waiting.pk]

        expected = {
            second_caseworker.email: 3,  # assigned, maintainer's reply, SLA
            caseworker.email: 2,  # maintainer's reply, SLA
            unassigned_caseworker.email: 1,  # SLA
            maintainer.email: 1,  # caseworker's message
            co_maintainer.email: 1,  # caseworker's message
        }
        wait_for(
            lambda: len(smtp_sink.messages) >= sum(expected.values()),
            "every notification",
        )
        # One worker takes tasks in order: once this last one is done, nothing is left behind.
        last = send_case_notification_task.delay(notifications.MESSAGE, case.pk, 0).id
        wait_for(lambda: last in finished, "the queue to drain")
    finally:
        task_postrun.disconnect(finished)

    assert {address: len(smtp_sink.to(address)) for address in expected} == expected
    assert len(smtp_sink.messages) == sum(expected.values())
    for message in smtp_sink.messages:
        assert_no_case_text(message)
    (to_maintainer,) = smtp_sink.to(maintainer.email)
    assert detail_url(case) in text_part(to_maintainer)
    (to_uma,) = smtp_sink.to(unassigned_caseworker.email)
    assert "First response overdue on a critical urgency case" in to_uma["Subject"]
