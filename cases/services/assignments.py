"""Steward requests, proposals, acceptance, four-eyes approval of release scope, extensions,
reminders before the end, and the steward's handover report."""

import datetime
import json
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from cases import crypto, matching, notifications, screening
from cases.models import (
    Assignment,
    AssignmentExtension,
    Case,
    CaseEvent,
    CaseworkerConflict,
    HandoverReport,
    Scope,
    StewardRequest,
)
from cases.services._common import lock, refuse_if_final, timeline
from portal.accounts.roles import is_caseworker
from portal.audit.services import record_event
from portal.lib.errors import Refused
from portal.projects.models import Ecosystem
from portal.roster.models import StewardProfile

WORK = "cases.work_case"
MAX_HOURS = 80
REPORT_FIELDS = ("releases", "changes_merged", "access_granted", "access_returned")
# How long before an assignment's end its people are reminded.
END_REMINDER = datetime.timedelta(days=7)


def _is_case_maintainer(user, case: Case) -> bool:
    return user.is_authenticated and (
        user.pk == case.opened_by_id or case.co_maintainers.filter(pk=user.pk).exists()
    )


def _lock_assignment(assignment: Assignment) -> Assignment:
    return (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("case", "request", "steward", "steward__user")
        .get(pk=assignment.pk)
    )


def _clean_skills(skills: list[str]) -> list[str]:
    return sorted({s.strip().lower() for s in skills if s and s.strip()})[:20]


@transaction.atomic
def request_steward(
    *,
    case: Case,
    actor,
    scope: list[str],
    starts_on: datetime.date,
    ends_on: datetime.date,
    ecosystem: str,
    skills: list[str],
    hours_per_week: int,
    time_zone: str,
    brief: str,
    source_ip: str | None = None,
) -> StewardRequest:
    """The case's maintainer asks for an interim steward. The brief (what they choose to share
    with the steward) is sealed under the case's data key. Refuses anyone but the case's
    maintainers, closed cases, an empty scope, a period that ends before it starts or starts in
    the past, an unknown ecosystem or time zone, and hours outside 1-80."""
    case = lock(case)
    if not _is_case_maintainer(actor, case):
        raise Refused("Only the maintainers on this case can ask for a steward.")
    refuse_if_final(case, "no steward can be requested on it")
    if not scope or any(s not in Scope.values for s in scope):
        raise Refused("Choose what the steward may do: triage, review, merge, release.")
    today = timezone.localdate()
    if starts_on < today:
        raise Refused("The period cannot start in the past.")
    if ends_on <= starts_on:
        raise Refused("The period must end after it starts.")
    if ecosystem not in Ecosystem.values:
        raise Refused("Choose the project's ecosystem.")
    if not 1 <= hours_per_week <= MAX_HOURS:
        raise Refused(f"Hours per week must be between 1 and {MAX_HOURS}.")
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Refused(
            f"“{time_zone}” is not a time zone; write one such as Europe/Berlin."
        ) from None
    request = StewardRequest(
        case=case,
        requested_by=actor,
        scope=[s for s in Scope.values if s in scope],
        starts_on=starts_on,
        ends_on=ends_on,
        ecosystem=ecosystem,
        skills=_clean_skills(skills),
        hours_per_week=hours_per_week,
        time_zone=time_zone,
    )
    request.brief_sealed = crypto.seal_text(
        case, "steward-brief", request.public_id, brief.strip()
    )
    request.save()
    timeline(case, actor, CaseEvent.Kind.STEWARD_REQUESTED)
    record_event(
        actor=actor,
        action="steward.requested",
        obj=case,
        source_ip=source_ip,
        data={"request": str(request.public_id), "scope": request.scope},
    )
    return request


def brief_of(request: StewardRequest) -> str | None:
    """The brief the maintainer shared, or None once the case is withdrawn."""
    if request.brief_sealed is None or request.case.wrapped_key is None:
        return None
    return crypto.open_text(
        request.case, "steward-brief", request.public_id, request.brief_sealed
    )


def _refuse_excluded(
    request: StewardRequest,
    steward: StewardProfile,
    *,
    excluding: Assignment | None = None,
    allow_concern: bool = False,
) -> matching.Candidate:
    """Re-run the matching rules for one steward under a row lock on them."""
    [candidate] = matching.evaluate(
        request,
        steward_ids=[steward.pk],
        lock=True,
        excluding_assignment=excluding.pk if excluding else None,
    )
    blocking = [
        e
        for e in candidate.exclusions
        if not (allow_concern and e.code == "identity-of-concern")
    ]
    if blocking:
        raise Refused(
            f"{steward.handle} cannot be assigned: "
            + "; ".join(e.reason for e in blocking)
            + "."
        )
    return candidate


@transaction.atomic
def propose_assignment(
    *,
    request: StewardRequest,
    steward: StewardProfile,
    actor,
    source_ip: str | None = None,
) -> Assignment:
    """A caseworker of the case proposes `steward` for `request`; the maintainer then accepts
    or declines. Every matching exclusion is checked again here under lock, so a crafted POST
    naming an excluded steward is refused with the reason. A steward whose identities are of
    concern is the one exception: the proposal is made but blocked until a caseworker clears
    the identity, and the caseworkers of the cases that recorded it are alerted. One proposal
    or assignment at a time per request. After commit, the maintainers are told."""
    case = lock(request.case)
    if not actor.has_perm(WORK, case):
        raise Refused("Only the case's caseworkers can propose a steward.")
    refuse_if_final(case, "no steward can be proposed")
    request = StewardRequest.objects.select_for_update().get(pk=request.pk)
    request.case = case
    if request.status != StewardRequest.Status.OPEN:
        raise Refused("This request is no longer looking for a steward.")
    if request.assignments.filter(status__in=Assignment.HOLDING).exists():
        raise Refused(
            "A steward is already proposed or assigned for this request; "
            "wait for the maintainer's answer."
        )
    candidate = _refuse_excluded(request, steward, allow_concern=True)
    steward = candidate.steward
    of_concern = any(e.code == "identity-of-concern" for e in candidate.exclusions)
    if of_concern:
        # Alerts the caseworkers of the cases that recorded the identity.
        screening.screen_identities(
            identities=steward.identities(),
            source="steward-named",
            subject=steward.handle,
        )
    assignment = Assignment.objects.create(
        request=request,
        case=case,
        steward=steward,
        scope=request.scope,
        starts_on=request.starts_on,
        ends_on=request.ends_on,
        proposed_by=actor,
        is_blocked=of_concern,
    )
    timeline(case, actor, CaseEvent.Kind.STEWARD_PROPOSED)
    record_event(
        actor=actor,
        action="steward.proposed",
        obj=assignment,
        source_ip=source_ip,
        data={"case": str(case.public_id), "steward": steward.handle},
    )
    if not assignment.is_blocked:
        notifications.queue_assignment_event(
            assignment=assignment, event=notifications.STEWARD_PROPOSED
        )
    return assignment


def _refuse_conflicted_approver(actor, case: Case) -> None:
    if CaseworkerConflict.objects.filter(
        caseworker=actor, project_id=case.project_id
    ).exists():
        raise Refused(
            "You declared a conflict of interest with this project; another caseworker "
            "must approve."
        )


def _activate_or_wait(assignment: Assignment) -> None:
    if assignment.needs_second_approval and assignment.approved_by_id is None:
        assignment.status = Assignment.Status.AWAITING_APPROVAL
    else:
        assignment.status = Assignment.Status.ACTIVE


@transaction.atomic
def respond_to_assignment(
    *, assignment: Assignment, actor, accept: bool, source_ip: str | None = None
) -> Assignment:
    """The case's maintainer accepts or declines the steward proposed to them.

    Refuses anyone else (another maintainer, the steward, a caseworker, a stranger), answers
    to anything but a pending proposal, and accepting a blocked proposal or a steward who no
    longer passes the matching rules. An accepted release scope waits for a second caseworker;
    any other scope becomes active at once. After commit, the people concerned are told."""
    assignment = _lock_assignment(assignment)
    case = lock(assignment.case)
    if not _is_case_maintainer(actor, case):
        raise Refused(
            "Only the maintainers on this case can accept or decline its steward."
        )
    if assignment.status != Assignment.Status.PROPOSED:
        raise Refused(
            f"This proposal was already answered ({assignment.get_status_display().lower()})."
        )
    if accept:
        refuse_if_final(case, "no steward can start on it")
        if assignment.is_blocked:
            raise Refused(
                "This proposal is on hold while the foundation checks the steward; "
                "you can answer once it is cleared."
            )
        _refuse_excluded(assignment.request, assignment.steward, excluding=assignment)
        _activate_or_wait(assignment)
        request = assignment.request
        request.status = StewardRequest.Status.FILLED
        request.save(update_fields=["status"])
    else:
        assignment.status = Assignment.Status.DECLINED
    assignment.responded_by = actor
    assignment.responded_at = timezone.now()
    assignment.save(update_fields=["status", "responded_by", "responded_at"])
    timeline(
        case,
        actor,
        CaseEvent.Kind.STEWARD_ACCEPTED if accept else CaseEvent.Kind.STEWARD_DECLINED,
    )
    record_event(
        actor=actor,
        action="steward.accepted" if accept else "steward.declined",
        obj=assignment,
        source_ip=source_ip,
        data={"status": assignment.status},
    )
    notifications.queue_assignment_event(
        assignment=assignment,
        event=notifications.STEWARD_ACCEPTED
        if accept
        else notifications.STEWARD_DECLINED,
    )
    return assignment


@transaction.atomic
def approve_assignment(
    *, assignment: Assignment, actor, source_ip: str | None = None
) -> Assignment:
    """A second caseworker approves an accepted assignment whose scope includes release.

    Refuses non-caseworkers, the caseworker who proposed it, anything not awaiting approval, a
    blocked assignment, and a steward who no longer passes the matching rules."""
    assignment = _lock_assignment(assignment)
    if not is_caseworker(actor):
        raise Refused("Only caseworkers approve assignments.")
    if assignment.proposed_by_id == actor.pk:
        raise Refused(
            "You proposed this steward; another caseworker must approve the release scope."
        )
    if assignment.status != Assignment.Status.AWAITING_APPROVAL:
        raise Refused("This assignment is not waiting for approval.")
    _refuse_conflicted_approver(actor, assignment.case)
    if assignment.is_blocked:
        raise Refused(
            "This assignment is on hold until an identity of concern is cleared."
        )
    refuse_if_final(lock(assignment.case), "no steward can start on it")
    _refuse_excluded(assignment.request, assignment.steward, excluding=assignment)
    assignment.approved_by = actor
    assignment.approved_at = timezone.now()
    assignment.status = Assignment.Status.ACTIVE
    assignment.save(update_fields=["approved_by", "approved_at", "status"])
    timeline(assignment.case, actor, CaseEvent.Kind.ASSIGNMENT_APPROVED)
    record_event(
        actor=actor, action="assignment.approved", obj=assignment, source_ip=source_ip
    )
    notifications.queue_assignment_event(
        assignment=assignment, event=notifications.ASSIGNMENT_ACTIVE
    )
    return assignment


@transaction.atomic
def propose_extension(
    *,
    assignment: Assignment,
    actor,
    new_ends_on: datetime.date,
    source_ip: str | None = None,
) -> AssignmentExtension:
    """A caseworker of the case proposes a later end date for an active assignment. It needs
    the same approvals as the assignment: the maintainer's, and a second caseworker's for a
    release scope. The steward must still pass the matching rules."""
    assignment = _lock_assignment(assignment)
    case = lock(assignment.case)
    if not actor.has_perm(WORK, case):
        raise Refused("Only the case's caseworkers can propose an extension.")
    refuse_if_final(case, "its assignments cannot be extended")
    if assignment.status != Assignment.Status.ACTIVE:
        raise Refused("Only an active assignment can be extended.")
    if new_ends_on <= assignment.ends_on:
        raise Refused(
            f"The new end must be after the current one ({assignment.ends_on:%Y-%m-%d})."
        )
    if assignment.extensions.filter(
        status__in=[
            AssignmentExtension.Status.PROPOSED,
            AssignmentExtension.Status.AWAITING_APPROVAL,
        ]
    ).exists():
        raise Refused(
            "An extension of this assignment is already waiting for an answer."
        )
    _refuse_excluded(assignment.request, assignment.steward, excluding=assignment)
    extension = AssignmentExtension.objects.create(
        assignment=assignment, new_ends_on=new_ends_on, proposed_by=actor
    )
    record_event(
        actor=actor,
        action="extension.proposed",
        obj=assignment,
        source_ip=source_ip,
        data={"extension": str(extension.public_id), "until": str(new_ends_on)},
    )
    notifications.queue_assignment_event(
        assignment=assignment, event=notifications.EXTENSION_PROPOSED
    )
    return extension


def _apply_extension(extension: AssignmentExtension) -> None:
    extension.status = AssignmentExtension.Status.APPLIED
    assignment = extension.assignment
    assignment.ends_on = extension.new_ends_on
    # A new end deserves a new reminder.
    assignment.end_reminder_sent_at = None
    assignment.save(update_fields=["ends_on", "end_reminder_sent_at"])


def _lock_extension(extension: AssignmentExtension) -> AssignmentExtension:
    extension = AssignmentExtension.objects.select_for_update(of=("self",)).get(
        pk=extension.pk
    )
    extension.assignment = _lock_assignment(extension.assignment)
    return extension


@transaction.atomic
def respond_to_extension(
    *,
    extension: AssignmentExtension,
    actor,
    accept: bool,
    source_ip: str | None = None,
) -> AssignmentExtension:
    """The case's maintainer accepts or declines an extension; same refusals as a proposal."""
    extension = _lock_extension(extension)
    assignment = extension.assignment
    case = lock(assignment.case)
    if not _is_case_maintainer(actor, case):
        raise Refused(
            "Only the maintainers on this case can accept or decline an extension."
        )
    if extension.status != AssignmentExtension.Status.PROPOSED:
        raise Refused("This extension was already answered.")
    if accept:
        if assignment.status != Assignment.Status.ACTIVE:
            raise Refused("The assignment is no longer active.")
        _refuse_excluded(assignment.request, assignment.steward, excluding=assignment)
        if assignment.needs_second_approval:
            extension.status = AssignmentExtension.Status.AWAITING_APPROVAL
        else:
            _apply_extension(extension)
    else:
        extension.status = AssignmentExtension.Status.DECLINED
    extension.responded_by = actor
    extension.save(update_fields=["status", "responded_by"])
    record_event(
        actor=actor,
        action="extension.accepted" if accept else "extension.declined",
        obj=assignment,
        source_ip=source_ip,
        data={"extension": str(extension.public_id), "status": extension.status},
    )
    return extension


@transaction.atomic
def approve_extension(
    *, extension: AssignmentExtension, actor, source_ip: str | None = None
) -> AssignmentExtension:
    """A second caseworker (not the proposer) approves an extension of a release scope."""
    extension = _lock_extension(extension)
    assignment = extension.assignment
    if not is_caseworker(actor):
        raise Refused("Only caseworkers approve extensions.")
    if extension.proposed_by_id == actor.pk:
        raise Refused(
            "You proposed this extension; another caseworker must approve it."
        )
    if extension.status != AssignmentExtension.Status.AWAITING_APPROVAL:
        raise Refused("This extension is not waiting for approval.")
    _refuse_conflicted_approver(actor, assignment.case)
    if assignment.status != Assignment.Status.ACTIVE:
        raise Refused("The assignment is no longer active.")
    _refuse_excluded(assignment.request, assignment.steward, excluding=assignment)
    extension.approved_by = actor
    _apply_extension(extension)
    extension.save(update_fields=["status", "approved_by"])
    record_event(
        actor=actor,
        action="extension.approved",
        obj=assignment,
        source_ip=source_ip,
        data={"extension": str(extension.public_id)},
    )
    return extension


def end_assignments(
    *, assignments: QuerySet[Assignment], actor, reason: str
) -> list[Assignment]:
    """End every holding assignment in `assignments` now (inside the caller's transaction).
    Proposals not yet active are ended too: nobody may accept them any more."""
    ended = []
    now = timezone.now()
    for assignment in (
        assignments.filter(status__in=Assignment.HOLDING)
        .select_for_update(of=("self",))
        .select_related("case")
    ):
        assignment.status = Assignment.Status.ENDED
        assignment.ended_at = now
        assignment.end_reason = reason
        assignment.save(update_fields=["status", "ended_at", "end_reason"])
        if actor is not None:
            timeline(assignment.case, actor, CaseEvent.Kind.ASSIGNMENT_ENDED)
        record_event(
            actor=actor,
            action="assignment.ended",
            obj=assignment,
            data={"reason": reason},
        )
        ended.append(assignment)
    return ended


@transaction.atomic
def end_finished_assignments(*, today: datetime.date | None = None) -> list[Assignment]:
    """Beat: active assignments whose period is over end; the people concerned are told."""
    today = today or timezone.localdate()
    ended = end_assignments(
        assignments=Assignment.objects.filter(
            status=Assignment.Status.ACTIVE, ends_on__lt=today
        ),
        actor=None,
        reason=Assignment.EndReason.COMPLETED,
    )
    for assignment in ended:
        notifications.queue_assignment_event(
            assignment=assignment, event=notifications.ASSIGNMENT_ENDED
        )
    return ended


def remind_assignment_endings(*, today: datetime.date | None = None) -> list[int]:
    """Beat: remind the maintainers, the steward and the caseworkers once, a week before an
    active assignment ends. Each assignment is claimed with a conditional update (only a row
    still without `end_reminder_sent_at` is set), so a retried or concurrent run never mails
    twice. Returns the ids reminded by this run."""
    today = today or timezone.localdate()
    due = Assignment.objects.filter(
        status=Assignment.Status.ACTIVE,
        end_reminder_sent_at__isnull=True,
        ends_on__gte=today,
        ends_on__lte=today + END_REMINDER,
    ).values_list("pk", flat=True)
    reminded = []
    for pk in list(due):
        with transaction.atomic():
            claimed = Assignment.objects.filter(
                pk=pk, end_reminder_sent_at__isnull=True
            ).update(end_reminder_sent_at=timezone.now())
            if claimed != 1:
                continue
            assignment = Assignment.objects.select_related("steward").get(pk=pk)
            notifications.queue_assignment_event(
                assignment=assignment, event=notifications.ASSIGNMENT_ENDING
            )
            reminded.append(pk)
    return reminded


@transaction.atomic
def file_handover_report(
    *,
    assignment: Assignment,
    actor,
    releases: str,
    changes_merged: str,
    access_granted: str,
    access_returned: str,
    source_ip: str | None = None,
) -> HandoverReport:
    """The steward reports what they did: releases, merged changes, access granted and
    returned. Only the assignment's steward, once, on an active or ended assignment. Sealed
    under the case's data key; readable by the case's caseworkers and maintainers."""
    assignment = _lock_assignment(assignment)
    if assignment.steward.user_id != actor.pk:
        raise Refused(
            "Only the steward of this assignment can file its handover report."
        )
    if assignment.status not in (Assignment.Status.ACTIVE, Assignment.Status.ENDED):
        raise Refused("A handover report is filed for an assignment that has started.")
    if HandoverReport.objects.filter(assignment=assignment).exists():
        raise Refused("The handover report for this assignment is already filed.")
    answers = {
        "releases": releases.strip(),
        "changes_merged": changes_merged.strip(),
        "access_granted": access_granted.strip(),
        "access_returned": access_returned.strip(),
    }
    if not answers["access_returned"]:
        raise Refused("Say which access you returned (or that you were given none).")
    case = assignment.case
    if case.wrapped_key is None:
        raise Refused("The case was withdrawn; there is nobody to report to.")
    report = HandoverReport(assignment=assignment, filed_by=actor)
    report.body_sealed = crypto.seal_text(
        case, "handover-report", assignment.public_id, json.dumps(answers)
    )
    report.save()
    timeline(case, actor, CaseEvent.Kind.HANDOVER_REPORTED)
    record_event(
        actor=actor, action="handover_report.filed", obj=assignment, source_ip=source_ip
    )
    notifications.queue_assignment_event(
        assignment=assignment, event=notifications.REPORT_FILED
    )
    return report


def report_of(report: HandoverReport) -> dict | None:
    """The report's answers, or None once the case is withdrawn."""
    case = report.assignment.case
    if report.body_sealed is None or case.wrapped_key is None:
        return None
    return json.loads(
        crypto.open_text(
            case, "handover-report", report.assignment.public_id, report.body_sealed
        )
    )


def block_assignments_of(*, steward: StewardProfile) -> int:
    """Hold the steward's unfinished assignments while an identity of concern is checked
    (inside the caller's transaction). Returns how many were newly blocked."""
    return Assignment.objects.filter(
        steward=steward, status__in=Assignment.HOLDING, is_blocked=False
    ).update(is_blocked=True)


def unblock_assignments_for(*, identities: list[str], actor) -> int:
    """Release the blocked assignments of stewards holding `identities` who have nothing else
    of concern and are not on hold on the roster (inside the caller's transaction)."""
    wanted = set(identities)
    released = 0
    blocked = Assignment.objects.filter(
        status__in=Assignment.HOLDING, is_blocked=True
    ).select_related("steward", "steward__user")
    for assignment in blocked:
        steward = assignment.steward
        held = set(steward.identities())
        if not held & wanted or steward.is_on_hold:
            continue
        if screening.uncleared_concerns(held).exists():
            continue
        Assignment.objects.filter(pk=assignment.pk).update(is_blocked=False)
        record_event(actor=actor, action="assignment.unblocked", obj=assignment)
        if assignment.status == Assignment.Status.PROPOSED:
            notifications.queue_assignment_event(
                assignment=assignment, event=notifications.STEWARD_PROPOSED
            )
        released += 1
    return released


@transaction.atomic
def clear_assignment_block(
    *, assignment: Assignment, actor, note: str, source_ip: str | None = None
) -> Assignment:
    """A caseworker of the case clears the identities of concern holding this assignment.
    A steward on hold on the roster is cleared there first."""
    from cases.services.concerns import clear_identities

    assignment = _lock_assignment(assignment)
    if not actor.has_perm(WORK, assignment.case):
        raise Refused("Only the case's caseworkers can clear this assignment.")
    if not assignment.is_blocked:
        raise Refused("This assignment is not blocked.")
    steward = assignment.steward
    if steward.is_on_hold:
        raise Refused(
            f"{steward.handle} is on hold on the roster; clear the hold on their roster page first."
        )
    if not note.strip():
        raise Refused("Say why the steward can be cleared.")
    uncleared = {
        c.identity_digest for c in screening.uncleared_concerns(steward.identities())
    }
    identities = sorted(
        i for i in steward.identities() if screening.digest(i) in uncleared
    )
    if identities:
        clear_identities(
            identities=identities,
            actor=actor,
            note=note,
            subject=steward.handle,
            source_ip=source_ip,
        )
    assignment.refresh_from_db(fields=["is_blocked"])
    if assignment.is_blocked:
        Assignment.objects.filter(pk=assignment.pk).update(is_blocked=False)
        assignment.is_blocked = False
    return assignment


def record_assignment_viewed(
    *, assignment: Assignment, actor, source_ip: str | None
) -> None:
    """Audit a read of the assignment page (it shows the maintainer's brief, which is case text)."""
    record_event(
        actor=actor,
        action="assignment.viewed",
        obj=assignment,
        source_ip=source_ip,
        data={"case": str(assignment.case.public_id)},
    )
