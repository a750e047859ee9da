"""Roster rows for matching and assignment tests.

These are bare rows in a given state, the way a factory builds any model: the roster's own
tests prove the vetting rules that lead to these states, and the browser test and the demo go
through those services for real.
"""

import datetime
import itertools

from django.utils import timezone

from cases import services as case_services
from portal.accounts import roles
from portal.roster.models import ProjectInvolvement, StewardProfile
from tests.factories import UserFactory

_seq = itertools.count()


def make_steward(
    handle: str | None = None,
    *,
    status: str = StewardProfile.Status.VETTED,
    ecosystems=("generic",),
    skills=("c", "release-engineering"),
    time_zone: str = "Europe/Berlin",
    hours_per_week: int = 10,
    max_assignments: int = 2,
    forge_accounts=(),
    email: str | None = None,
    vetted_days_ago: int = 200,
    expires_in_days: int = 165,
    is_on_hold: bool = False,
    user=None,
) -> StewardProfile:
    n = next(_seq)
    handle = handle or f"steward-{n}"
    user = user or UserFactory(email=email or f"{handle}@stewards.example.net")
    roles.grant_role(user, roles.STEWARD)
    now = timezone.now()
    vetted = status in (StewardProfile.Status.VETTED, StewardProfile.Status.SUSPENDED)
    return StewardProfile.objects.create(
        user=user,
        handle=handle,
        forge_accounts=list(forge_accounts) or [f"github:{handle}"],
        ecosystems=list(ecosystems),
        languages=["en"],
        skills=list(skills),
        time_zone=time_zone,
        hours_per_week=hours_per_week,
        max_assignments=max_assignments,
        statement="I help.",
        status=status,
        is_on_hold=is_on_hold,
        hold_reason_code="identity-of-concern" if is_on_hold else "",
        vetted_at=now - datetime.timedelta(days=vetted_days_ago) if vetted else None,
        vetting_expires_at=now + datetime.timedelta(days=expires_in_days)
        if vetted
        else None,
        suspended_at=now if status == StewardProfile.Status.SUSPENDED else None,
    )


def involve(steward, project, **fields) -> ProjectInvolvement:
    return ProjectInvolvement.objects.create(steward=steward, project=project, **fields)


def ask_for_steward(case, maintainer, **overrides):
    today = timezone.localdate()
    fields = {
        "scope": ["triage", "review"],
        "starts_on": today + datetime.timedelta(days=1),
        "ends_on": today + datetime.timedelta(days=90),
        "ecosystem": "generic",
        "skills": ["c", "fuzzing"],
        "hours_per_week": 8,
        "time_zone": "Europe/Paris",
        "brief": "Please triage security reports while I rest.",
    }
    fields.update(overrides)
    return case_services.request_steward(case=case, actor=maintainer, **fields)


def run_after_commit(callbacks) -> None:
    """Run what a transaction queued for after its commit, in this process: queued tasks run
    their bodies as a worker would (mail goes to the test outbox), other callbacks are called.

    Tests here do not execute the queued `.delay` calls eagerly: Celery's eager path leaves
    state in this thread that keeps later tests' real worker from receiving messages. Delivery
    through a real worker and SMTP is tested in test_notifications.py.
    """
    for callback in callbacks:
        func = getattr(callback, "func", None)
        task = getattr(func, "__self__", None)
        if getattr(func, "__name__", "") == "delay" and task is not None:
            task.run(*callback.args, **callback.keywords)
        else:
            callback()


def drop_broker_pools() -> None:
    """Forget the connection and producer pools Celery's eager path opened.

    Running a task eagerly (tasks queued after a real commit, with no broker configured)
    acquires a producer, which opens the app's pools for the broker configured then: none, the
    default. A later real-worker test sets its own broker but would still publish through those
    pools. Dropped, not closed, as Celery itself does after a fork: kombu keeps pools in a
    registry by broker and would hand a closed one back to the next test using that broker.
    """
    from portal.celery import app

    app._pool = None
    app.amqp._producer_pool = None
