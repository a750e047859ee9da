"""Every write to a case. Each function is one transaction: check, write, audit, grant."""

import datetime

from django.db import transaction
from guardian.shortcuts import assign_perm

from cases.models import (
    Case,
    CaseEvent,
    CaseHandover,
    CaseMessage,
    Category,
    HelpWanted,
    Urgency,
)
from cases.states import FINAL, TRANSITIONS, Status
from portal.accounts.roles import is_caseworker
from portal.audit.services import record_event
from portal.lib.errors import Refused
from portal.notices.services import draft_notice
from portal.projects.models import Maintainership, Project


def _lock(case: Case) -> Case:
    return Case.objects.select_for_update().get(pk=case.pk)


@transaction.atomic
def open_case(
    *,
    actor,
    project: Project,
    category: str,
    urgency: int,
    help_wanted: list[str],
    narrative: str,
    source_ip: str | None = None,
) -> Case:
    """Open a confidential case for a project `actor` maintains. Only `actor` can read it until a
    caseworker is assigned."""
    if not Maintainership.objects.filter(project=project, user=actor).exists():
        raise Refused(
            "You can only open a case about a project you have registered as yours."
        )
    if category not in Category.values:
        raise Refused("Choose what the case is about.")
    if urgency not in Urgency.values:
        raise Refused("Choose how urgent the case is.")
    if not help_wanted or any(h not in HelpWanted.values for h in help_wanted):
        raise Refused("Choose at least one kind of help.")
    if not narrative.strip():
        raise Refused("Tell us in your own words what is going on.")
    case = Case.objects.create(
        project=project,
        opened_by=actor,
        category=category,
        urgency=urgency,
        help_wanted=sorted(set(help_wanted)),
        narrative=narrative,
    )
    assign_perm("cases.view_case", actor, case)
    CaseEvent.objects.create(
        case=case, actor=actor, kind=CaseEvent.Kind.OPENED, to_status=case.status
    )
    record_event(actor=actor, action="case.opened", obj=case, source_ip=source_ip)
    return case


@transaction.atomic
def assign_caseworker(
    *, case: Case, caseworker, actor, source_ip: str | None = None
) -> Case:
    """Assign `caseworker` to `case` and grant them read and work permissions on it.

    Refuses people who are not caseworkers and caseworkers already on the case.
    """
    case = _lock(case)
    if not is_caseworker(actor) or not is_caseworker(caseworker):
        raise Refused("Only caseworkers can be assigned to a case.")
    if case.status in FINAL:
        raise Refused("This case is closed; nobody can be assigned to it.")
    if case.caseworkers.filter(pk=caseworker.pk).exists():
        raise Refused(f"{caseworker} is already assigned to this case.")
    case.caseworkers.add(caseworker)
    assign_perm("cases.view_case", caseworker, case)
    assign_perm("cases.work_case", caseworker, case)
    CaseEvent.objects.create(case=case, actor=actor, kind=CaseEvent.Kind.ASSIGNED)
    record_event(
        actor=actor,
        action="caseworker.assigned",
        obj=case,
        source_ip=source_ip,
        data={"caseworker": caseworker.pk},
    )
    return case


@transaction.atomic
def post_message(
    *,
    case: Case,
    actor,
    body: str,
    internal: bool = False,
    source_ip: str | None = None,
) -> CaseMessage:
    """Add to a case's conversation. Internal notes: assigned caseworkers only. Refuses closed cases."""
    case = _lock(case)
    is_worker = actor.has_perm("cases.work_case", case)
    if not (is_worker or actor.has_perm("cases.view_case", case)):
        raise Refused("You cannot write on this case.")
    if internal and not is_worker:
        raise Refused("Only the case's caseworkers can write internal notes.")
    if case.status in FINAL:
        raise Refused("This case is closed; no more messages can be added.")
    if not body.strip():
        raise Refused("Write a message before sending.")
    message = CaseMessage.objects.create(
        case=case, author=actor, body=body, is_internal=internal
    )
    if is_worker and not internal and case.first_response_at is None:
        case.first_response_at = message.created_at
        case.save(update_fields=["first_response_at"])
    record_event(
        actor=actor,
        action="note.added" if internal else "message.posted",
        obj=case,
        source_ip=source_ip,
        data={"message": message.pk},
    )
    return message


@transaction.atomic
def change_status(
    *, case: Case, actor, to_status: str, source_ip: str | None = None
) -> Case:
    """Move a case along `cases.states.TRANSITIONS`; assigned caseworkers only. Recorded on the timeline."""
    case = _lock(case)
    if not actor.has_perm("cases.work_case", case):
        raise Refused("Only the case's caseworkers can change its status.")
    if to_status not in TRANSITIONS.get(case.status, ()):
        labels = dict(Status.choices)
        raise Refused(
            f"A case that is “{labels[case.status]}” cannot move to “{labels.get(to_status, to_status)}”."
        )
    from_status = case.status
    case.status = to_status
    case.save(update_fields=["status"])
    CaseEvent.objects.create(
        case=case,
        actor=actor,
        kind=CaseEvent.Kind.STATUS_CHANGED,
        from_status=from_status,
        to_status=to_status,
    )
    record_event(
        actor=actor,
        action="case.status_changed",
        obj=case,
        source_ip=source_ip,
        data={"from": from_status, "to": to_status},
    )
    return case


@transaction.atomic
def draft_handover(
    *,
    case: Case,
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
) -> CaseHandover:
    """Draft a public handover notice from a case. It waits for a second caseworker's approval.

    Only the public fields the caseworker typed reach the notice; the case itself stays here.
    """
    case = _lock(case)
    if not actor.has_perm("cases.work_case", case):
        raise Refused("Only the case's caseworkers can draft its handover notice.")
    if case.status in FINAL:
        raise Refused("This case is closed; no notice can be drafted from it.")
    notice = draft_notice(
        actor=actor,
        project_name=project_name,
        ecosystem=ecosystem,
        repository_url=repository_url,
        purls=purls,
        window_start=window_start,
        window_end=window_end,
        steward_name=steward_name,
        steward_handle=steward_handle,
        guidance=guidance,
        source_ip=source_ip,
    )
    handover = CaseHandover.objects.create(case=case, notice=notice)
    CaseEvent.objects.create(
        case=case, actor=actor, kind=CaseEvent.Kind.HANDOVER_DRAFTED
    )
    return handover


def record_case_viewed(*, case: Case, actor, source_ip: str | None) -> None:
    """Audit a read of the case page."""
    record_event(actor=actor, action="case.viewed", obj=case, source_ip=source_ip)
