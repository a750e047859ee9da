import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from cases import crypto, notifications
from cases.models import (
    Case,
    CaseAttachment,
    CaseEvent,
    CaseHandover,
    CaseMessage,
    CaseworkerConflict,
    Category,
    HelpWanted,
    Urgency,
)
from cases.services._common import lock, refuse_if_final, timeline
from cases.states import TRANSITIONS, Status
from portal.accounts.models import User
from portal.accounts.roles import is_caseworker
from portal.audit.services import record_event
from portal.lib.errors import Refused
from portal.notices.content import NoticeContent
from portal.notices.models import NoticeRevision
from portal.notices.services import draft_notice, record_consent_unchecked
from portal.projects.models import Maintainership, Project

VIEW = "cases.view_case"
WORK = "cases.work_case"


def first_response_due(opened_at: datetime.datetime, urgency: int) -> datetime.datetime:
    return opened_at + datetime.timedelta(hours=settings.FIRST_RESPONSE_HOURS[urgency])


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
    """Open a confidential case for a project `actor` maintains.

    The narrative is sealed under a new data key of the case's own. Only `actor` can read the
    case until a caseworker is assigned. Starts the first-response clock for the urgency.
    """
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
    now = timezone.now()
    case = Case(
        project=project,
        opened_by=actor,
        category=category,
        urgency=urgency,
        help_wanted=sorted(set(help_wanted)),
        first_response_due_at=first_response_due(now, urgency),
    )
    crypto.issue_data_key(case)
    case.narrative_sealed = crypto.seal_text(case, "narrative", "", narrative)
    case.save()
    assign_perm(VIEW, actor, case)
    timeline(case, actor, CaseEvent.Kind.OPENED, to_status=case.status)
    record_event(actor=actor, action="case.opened", obj=case, source_ip=source_ip)
    return case


@transaction.atomic
def assign_caseworker(
    *, case: Case, caseworker, actor, source_ip: str | None = None
) -> Case:
    """Assign `caseworker` to `case` and grant them read and work permissions on it.

    Any caseworker may assign an unassigned case (to themselves or a colleague); once a case has
    caseworkers, only they may add colleagues. Refuses non-caseworkers, someone already on the
    case, and a caseworker who declared a conflict of interest with the case's project.
    After commit, a caseworker assigned by a colleague is told by email.
    """
    case = lock(case)
    if not is_caseworker(actor) or not is_caseworker(caseworker):
        raise Refused("Only caseworkers can be assigned to a case.")
    refuse_if_final(case, "nobody can be assigned to it")
    if case.caseworkers.exists() and not actor.has_perm(WORK, case):
        raise Refused("Only the case's caseworkers can add a colleague to it.")
    if case.caseworkers.filter(pk=caseworker.pk).exists():
        raise Refused(f"{caseworker} is already assigned to this case.")
    if CaseworkerConflict.objects.filter(
        caseworker=caseworker, project_id=case.project_id
    ).exists():
        who = "You have" if caseworker == actor else f"{caseworker} has"
        raise Refused(
            f"{who} declared a conflict of interest with this project; assign someone else."
        )
    case.caseworkers.add(caseworker)
    assign_perm(VIEW, caseworker, case)
    assign_perm(WORK, caseworker, case)
    timeline(case, actor, CaseEvent.Kind.ASSIGNED)
    record_event(
        actor=actor,
        action="caseworker.assigned",
        obj=case,
        source_ip=source_ip,
        data={"caseworker": caseworker.pk},
    )
    notifications.queue_caseworker_assigned(
        case=case, caseworker=caseworker, actor=actor
    )
    return case


@transaction.atomic
def unassign_caseworker(
    *, case: Case, caseworker, actor, source_ip: str | None = None
) -> Case:
    """Take `caseworker` off the case and revoke their permissions; the case returns to the pool
    when nobody is left. Only the case's caseworkers may do it."""
    case = lock(case)
    if not actor.has_perm(WORK, case):
        raise Refused("Only the case's caseworkers can change who works on it.")
    if not case.caseworkers.filter(pk=caseworker.pk).exists():
        raise Refused(f"{caseworker} is not assigned to this case.")
    case.caseworkers.remove(caseworker)
    remove_perm(VIEW, caseworker, case)
    remove_perm(WORK, caseworker, case)
    timeline(case, actor, CaseEvent.Kind.UNASSIGNED)
    record_event(
        actor=actor,
        action="caseworker.unassigned",
        obj=case,
        source_ip=source_ip,
        data={"caseworker": caseworker.pk},
    )
    return case


def _is_case_maintainer(user, case: Case) -> bool:
    return (
        user.pk == case.opened_by_id or case.co_maintainers.filter(pk=user.pk).exists()
    )


@transaction.atomic
def add_co_maintainer(
    *, case: Case, actor, email: str, source_ip: str | None = None
) -> User:
    """Let another maintainer of the same project read and write on the case.

    Only the case's maintainers may do it, and only for someone registered as a maintainer of
    the case's project.
    """
    case = lock(case)
    if not _is_case_maintainer(actor, case):
        raise Refused("Only the maintainers on this case can add a co-maintainer.")
    refuse_if_final(case, "nobody can be added to it")
    person = User.objects.filter(
        email__iexact=email.strip(),
        maintainerships__project_id=case.project_id,
        is_active=True,
    ).first()
    if person is None:
        raise Refused(
            "Nobody with that email address has registered this project. "
            "Ask them to sign up and register it first."
        )
    if (
        person.pk == case.opened_by_id
        or case.co_maintainers.filter(pk=person.pk).exists()
    ):
        raise Refused(f"{person} is already on this case.")
    case.co_maintainers.add(person)
    assign_perm(VIEW, person, case)
    timeline(case, actor, CaseEvent.Kind.CO_MAINTAINER_ADDED)
    record_event(
        actor=actor,
        action="co_maintainer.added",
        obj=case,
        source_ip=source_ip,
        data={"user": person.pk},
    )
    return person


@transaction.atomic
def change_status(
    *, case: Case, actor, to_status: str, source_ip: str | None = None
) -> Case:
    """Move a case along `cases.states.TRANSITIONS`; assigned caseworkers only. Recorded on the
    timeline. Closing a case revokes the caseworkers' work permission: it becomes read-only."""
    case = lock(case)
    if not actor.has_perm(WORK, case):
        raise Refused("Only the case's caseworkers can change its status.")
    if to_status not in TRANSITIONS.get(case.status, ()):
        labels = dict(Status.choices)
        raise Refused(
            f"A case that is “{labels[case.status]}” cannot move to “{labels.get(to_status, to_status)}”."
        )
    from_status = case.status
    case.status = to_status
    case.save(update_fields=["status"])
    if to_status == Status.CLOSED:
        for caseworker in case.caseworkers.all():
            remove_perm(WORK, caseworker, case)
    timeline(
        case,
        actor,
        CaseEvent.Kind.STATUS_CHANGED,
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
def withdraw_case(*, case: Case, actor, source_ip: str | None = None) -> Case:
    """The maintainer withdraws the case and their words are erased.

    SECURITY: the case's data key is destroyed, so every sealed narrative, message, note and file
    of the case becomes unreadable (backups taken before hold the wrapped key only until the
    master key that wrapped it is rotated out and retired); the sealed values and
    files are deleted too. Metadata (category, urgency, dates, timeline) stays for statistics.
    Caseworkers lose access. After commit, the attachment files are removed from disk.
    """
    from cases.models import Assignment
    from cases.services.assignments import end_assignments
    from cases.services.attachments import delete_blobs_after_commit

    case = lock(case)
    if not _is_case_maintainer(actor, case):
        raise Refused("Only the maintainers on this case can withdraw it.")
    if case.status == Status.WITHDRAWN:
        raise Refused("This case is already withdrawn.")
    from_status = case.status
    blob_names = list(
        case.attachments.exclude(blob_name="").values_list("blob_name", flat=True)
    )
    case.wrapped_key = None
    case.narrative_sealed = None
    case.status = Status.WITHDRAWN
    case.withdrawn_at = timezone.now()
    case.save(
        update_fields=["wrapped_key", "narrative_sealed", "status", "withdrawn_at"]
    )
    CaseMessage.objects.filter(case=case).update(body_sealed=None)
    CaseAttachment.objects.filter(case=case).update(filename_sealed=None, blob_name="")
    for caseworker in case.caseworkers.all():
        remove_perm(VIEW, caseworker, case)
        remove_perm(WORK, caseworker, case)
    timeline(
        case,
        actor,
        CaseEvent.Kind.WITHDRAWN,
        from_status=from_status,
        to_status=Status.WITHDRAWN,
    )
    record_event(actor=actor, action="case.withdrawn", obj=case, source_ip=source_ip)
    # The steward's brief was the maintainer's words and is gone with them: no assignment on
    # this case may go on, or be accepted, once the maintainer has withdrawn it.
    end_assignments(
        assignments=Assignment.objects.filter(case=case),
        actor=actor,
        reason=Assignment.EndReason.EARLY,
    )
    delete_blobs_after_commit(blob_names)
    return case


@transaction.atomic
def draft_handover(
    *,
    case: Case,
    actor,
    content: NoticeContent,
    source_ip: str | None = None,
) -> CaseHandover:
    """Draft a public handover notice from a case. It waits for a second caseworker's approval.

    Only the public fields the caseworker typed reach the notice; the case itself stays here.
    """
    case = lock(case)
    if not actor.has_perm(WORK, case):
        raise Refused("Only the case's caseworkers can draft its handover notice.")
    refuse_if_final(case, "no notice can be drafted from it")
    notice = draft_notice(actor=actor, content=content, source_ip=source_ip)
    handover = CaseHandover.objects.create(case=case, notice=notice)
    timeline(case, actor, CaseEvent.Kind.HANDOVER_DRAFTED)
    return handover


@transaction.atomic
def consent_to_notice_revision(
    *, case: Case, revision_public_id, actor, source_ip: str | None = None
):
    """The case's maintainer consents to a revision of the notice drafted from their case.

    Recorded consent lets a revision that adds a steward, key or release channel take effect
    when it is approved, instead of after the public objection period. Refuses anyone but the
    case's own maintainers, and revisions of notices drafted from other cases.
    """
    case = lock(case)
    if not (
        actor.pk == case.opened_by_id
        or case.co_maintainers.filter(pk=actor.pk).exists()
    ):
        raise Refused("Only the case's maintainers can consent to its handover notice.")
    # SECURITY: only a revision of a notice drafted from this very case; one filter(Q) keeps the
    # join to this case's handovers.
    revision = NoticeRevision.objects.filter(
        public_id=revision_public_id, notice__in=case.handovers.values("notice")
    ).first()
    if revision is None:
        raise Refused("That revision is not of a notice drafted from this case.")
    return record_consent_unchecked(revision=revision, actor=actor, source_ip=source_ip)


def consent_requests(case: Case):
    """Revisions of this case's notices that await approval, for its maintainers to consent to."""
    return NoticeRevision.objects.filter(
        notice__in=case.handovers.values("notice"),
        state=NoticeRevision.State.AWAITING_APPROVAL,
    ).select_related("notice", "consent_recorded_by")


def record_case_viewed(*, case: Case, actor, source_ip: str | None) -> None:
    """Audit a read of the case page."""
    record_event(actor=actor, action="case.viewed", obj=case, source_ip=source_ip)
