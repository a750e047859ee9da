"""First-response warnings: due soon and breached, once per case and threshold, to the right people."""

import datetime
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, transaction

from cases import notifications, services
from cases.models import Case, SlaWarning, Urgency
from cases.tasks import send_case_notification_task, warn_first_response_task
from portal.accounts import roles
from portal.celery import app
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DUE_SOON = SlaWarning.Threshold.DUE_SOON
BREACHED = SlaWarning.Threshold.BREACHED
HOUR = datetime.timedelta(hours=1)


def warned(case):
    return sorted(case.sla_warnings.values_list("threshold", flat=True))


def queued_mail(callbacks):
    """(event, case id, user id) of each notification queued for after commit."""
    return sorted(
        callback.args
        for callback in callbacks
        if getattr(callback, "func", None) == send_case_notification_task.delay
    )


def test_high_urgency_case_is_warned_due_soon_once_then_breached_once(
    settings, new_case
):
    # High urgency: 24 h to answer, so "due soon" once 6 h (25 %) or less are left.
    assert settings.FIRST_RESPONSE_HOURS[Urgency.HIGH] == 24
    due = new_case.first_response_due_at

    assert services.warn_first_response(now=due - 7 * HOUR) == []
    first = services.warn_first_response(now=due - 5 * HOUR)
    assert [(w.case_id, w.threshold) for w in first] == [(new_case.pk, DUE_SOON)]
    assert services.warn_first_response(now=due - 5 * HOUR) == []
    assert services.warn_first_response(now=due - HOUR) == []

    breached = services.warn_first_response(now=due + datetime.timedelta(minutes=1))
    assert [(w.case_id, w.threshold) for w in breached] == [(new_case.pk, BREACHED)]
    assert services.warn_first_response(now=due + 48 * HOUR) == []
    assert warned(new_case) == [BREACHED, DUE_SOON]


@pytest.mark.parametrize(
    ("urgency", "window_hours"),
    [(Urgency.CRITICAL, 4), (Urgency.NORMAL, 72), (Urgency.LOW, 168)],
)
def test_due_soon_window_follows_the_urgency(
    maintainer, project, urgency, window_hours
):
    case = services.open_case(
        actor=maintainer,
        project=project,
        category="burnout",
        urgency=urgency,
        help_wanted=["talk"],
        narrative="x",
    )
    due = case.first_response_due_at
    quarter = datetime.timedelta(hours=window_hours / 4)
    assert services.warn_first_response(now=due - quarter - HOUR / 60) == []
    assert len(services.warn_first_response(now=due - quarter + HOUR / 60)) == 1


def test_due_soon_fraction_is_configurable(settings, new_case):
    settings.SLA_DUE_SOON_FRACTION = 0.5
    due = new_case.first_response_due_at
    assert services.warn_first_response(now=due - 13 * HOUR) == []
    assert len(services.warn_first_response(now=due - 11 * HOUR)) == 1


def test_case_found_already_breached_gets_only_the_breached_warning(new_case):
    late = new_case.first_response_due_at + 3 * HOUR
    assert [w.threshold for w in services.warn_first_response(now=late)] == [BREACHED]
    assert services.warn_first_response(now=late) == []
    assert warned(new_case) == [BREACHED]


def test_no_warning_after_a_first_response(case, caseworker):
    services.post_message(case=case, actor=caseworker, body="I am here for you.")
    due = case.first_response_due_at
    assert services.warn_first_response(now=due - HOUR) == []
    assert services.warn_first_response(now=due + HOUR) == []
    assert warned(case) == []


def test_an_internal_note_or_the_maintainers_own_message_does_not_stop_the_clock(
    case, caseworker, maintainer
):
    services.post_message(case=case, actor=caseworker, body="note", internal=True)
    services.post_message(case=case, actor=maintainer, body="Anyone there?")
    late = case.first_response_due_at + HOUR
    assert [w.threshold for w in services.warn_first_response(now=late)] == [BREACHED]


def test_closed_and_withdrawn_cases_are_not_warned(case, caseworker, maintainer):
    late = case.first_response_due_at + HOUR
    services.change_status(case=case, actor=caseworker, to_status="closed")
    assert services.warn_first_response(now=late) == []
    other = services.open_case(
        actor=maintainer,
        project=case.project,
        category="burnout",
        urgency=Urgency.HIGH,
        help_wanted=["talk"],
        narrative="x",
    )
    services.withdraw_case(case=other, actor=maintainer)
    assert services.warn_first_response(now=late) == []


def test_the_database_refuses_a_second_warning_for_the_same_threshold(new_case):
    SlaWarning.objects.create(case=new_case, threshold=BREACHED)
    with pytest.raises(IntegrityError), transaction.atomic():
        SlaWarning.objects.create(case=new_case, threshold=BREACHED)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_runs_warn_once_and_only_the_winner_queues_mail(new_case):
    late = new_case.first_response_due_at + HOUR
    outcome = {}

    def second_run():
        try:
            outcome["written"] = services.warn_first_response(now=late)
        except Exception as exc:  # noqa: BLE001 - reported to the test thread
            outcome["error"] = exc
        finally:
            connection.close()

    other = threading.Thread(target=second_run)
    with transaction.atomic():
        first = services.warn_first_response(now=late)
        other.start()
        other.join(timeout=1)
        # It saw no warning yet (ours is uncommitted), tried to insert, and waits on our row.
        assert other.is_alive(), "the second run must wait on the unique constraint"
    other.join(timeout=10)
    assert not other.is_alive()
    assert [w.threshold for w in first] == [BREACHED]
    assert outcome == {"written": []}
    assert warned(new_case) == [BREACHED]


def test_assigned_case_warns_its_caseworkers_only(
    case,
    caseworker,
    second_caseworker,
    unassigned_caseworker,
    django_capture_on_commit_callbacks,
):
    services.assign_caseworker(
        case=case, caseworker=second_caseworker, actor=caseworker
    )
    with django_capture_on_commit_callbacks() as callbacks:
        services.warn_first_response(now=case.first_response_due_at + HOUR)
    assert queued_mail(callbacks) == sorted(
        [
            (notifications.SLA_BREACHED, case.pk, caseworker.pk),
            (notifications.SLA_BREACHED, case.pk, second_caseworker.pk),
        ]
    )


def test_unassigned_case_warns_every_caseworker_who_could_take_it(
    new_case,
    caseworker,
    second_caseworker,
    unassigned_caseworker,
    maintainer,
    django_capture_on_commit_callbacks,
):
    gone = UserFactory(is_active=False)
    roles.grant_role(gone, roles.CASEWORKER)
    services.declare_conflict(actor=second_caseworker, project=new_case.project)
    due = new_case.first_response_due_at
    with django_capture_on_commit_callbacks() as callbacks:
        services.warn_first_response(now=due - HOUR)
    assert queued_mail(callbacks) == sorted(
        [
            (notifications.SLA_DUE_SOON, new_case.pk, caseworker.pk),
            (notifications.SLA_DUE_SOON, new_case.pk, unassigned_caseworker.pk),
        ]
    )
    # A rerun writes nothing and queues nothing.
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.warn_first_response(now=due - HOUR / 2) == []
    assert queued_mail(callbacks) == []


def test_beat_runs_the_task_every_five_minutes(new_case):
    entry = app.conf.beat_schedule["warn-first-response"]
    assert entry["schedule"] == 300.0
    assert entry["task"] == warn_first_response_task.name
    assert entry["task"] in app.tasks
    # The task is thin: it runs the service at the current time.
    assert warn_first_response_task() == 0
    Case.objects.filter(pk=new_case.pk).update(
        first_response_due_at=new_case.created_at
    )
    assert warn_first_response_task() == 1
    assert warned(new_case) == [BREACHED]


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.2", "a quarter"])
def test_bad_due_soon_fraction_is_refused_at_start_up(value):
    environment = {
        **{k: v for k, v in os.environ.items() if k != "DEBUG"},
        "SLA_DUE_SOON_FRACTION": value,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SLA_DUE_SOON_FRACTION" in result.stderr
