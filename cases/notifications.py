"""Email that tells someone something happened on a case, and links to it.

SECURITY: a notification is a nudge, never a copy. It carries no narrative, message, note, file
name or project name: only what kind of event it was, the case's category and urgency, and a link
to the portal, where access is checked again. The templates get a context built here from those
few fields and never the case itself, so a template change cannot leak case text by accident.

Services call the `queue_*` functions inside their transaction; the mail is queued after commit,
one task per recipient, by ids. The task re-checks that the person may still follow the case.
"""

import functools
import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from cases.access import WORK, cases_visible_to, triage_pool_for
from cases.models import (
    Case,
    CaseMessage,
    CaseworkerConflict,
    ConcernAlert,
    SlaWarning,
)
from cases.states import OPEN
from portal.accounts.models import User
from portal.accounts.roles import CASEWORKER

log = logging.getLogger(__name__)

MESSAGE = "message"
ASSIGNED = "assigned"
SLA_DUE_SOON = "sla_due_soon"
SLA_BREACHED = "sla_breached"
# An identity recorded on the case appeared elsewhere: one event per place it can appear.
CONCERN_EVENTS = {f"concern_{source}": source for source in ConcernAlert.Source.values}
EVENTS = frozenset({MESSAGE, ASSIGNED, SLA_DUE_SOON, SLA_BREACHED, *CONCERN_EVENTS})
_SLA_EVENTS = {
    SlaWarning.Threshold.DUE_SOON: SLA_DUE_SOON,
    SlaWarning.Threshold.BREACHED: SLA_BREACHED,
}


def _active(users: QuerySet[User]) -> QuerySet[User]:
    return users.filter(is_active=True).exclude(email="")


def _queue(event: str, case: Case, user_ids) -> None:
    from cases.tasks import send_case_notification_task

    for user_id in sorted(set(user_ids)):
        transaction.on_commit(
            functools.partial(
                send_case_notification_task.delay, event, case.pk, user_id
            )
        )


# --- Who hears about what ------------------------------------------------------------------


def message_recipients(*, case: Case, message: CaseMessage, by_caseworker: bool):
    """The other side of the conversation: the case's maintainers when a caseworker writes, its
    assigned caseworkers when a maintainer writes. Internal notes notify nobody."""
    if message.is_internal:
        return User.objects.none()
    if by_caseworker:
        people = User.objects.filter(
            Q(pk=case.opened_by_id) | Q(pk__in=case.co_maintainers.values("pk"))
        )
    else:
        people = User.objects.filter(pk__in=case.caseworkers.values("pk"))
    return _active(people).exclude(pk=message.author_id)


def sla_warning_recipients(*, case: Case) -> QuerySet[User]:
    """The case's assigned caseworkers; if nobody has taken it, every caseworker who could (all
    active caseworkers but those who declared a conflict with the case's project)."""
    assigned = case.caseworkers.all()
    if assigned.exists():
        return _active(assigned)
    conflicted = CaseworkerConflict.objects.filter(project_id=case.project_id).values(
        "caseworker_id"
    )
    return _active(User.objects.filter(groups__name=CASEWORKER)).exclude(
        pk__in=conflicted
    )


def queue_message_posted(
    *, case: Case, message: CaseMessage, by_caseworker: bool
) -> None:
    """After commit, tell the other side of the conversation that there is a new message."""
    recipients = message_recipients(
        case=case, message=message, by_caseworker=by_caseworker
    )
    _queue(MESSAGE, case, recipients.values_list("pk", flat=True))


def queue_caseworker_assigned(*, case: Case, caseworker: User, actor: User) -> None:
    """After commit, tell a caseworker a colleague assigned them (taking a case oneself needs no mail)."""
    if caseworker.pk != actor.pk and caseworker.is_active and caseworker.email:
        _queue(ASSIGNED, case, [caseworker.pk])


def queue_sla_warning(*, warning: SlaWarning) -> None:
    """After commit, warn the case's caseworkers (or all caseworkers) that its clock is running out."""
    recipients = sla_warning_recipients(case=warning.case)
    _queue(
        _SLA_EVENTS[warning.threshold],
        warning.case,
        recipients.values_list("pk", flat=True),
    )


def queue_concern_alert(*, case: Case, source: str) -> None:
    """After commit, tell the case's caseworkers an identity recorded on it turned up elsewhere."""
    recipients = _active(case.caseworkers.all())
    _queue(f"concern_{source}", case, recipients.values_list("pk", flat=True))


# --- The mail ------------------------------------------------------------------------------


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _message(name: str, context: dict, to: str) -> EmailMultiAlternatives:
    subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{name}_body.txt", context),
        to=[to],
        # RFC 3834: automatic mail, so auto-responders leave it alone.
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(
        render_to_string(f"emails/{name}_body.html", context), "text/html"
    )
    return message


def _followed_case(event: str, case_id: int, user: User) -> tuple[Case, str] | None:
    """The case as `user` may still reach it, and the page to link: None if they no longer may.

    SECURITY: the same access functions as the pages, so a mail never points someone at a case
    they lost access to. An SLA warning about a case nobody has taken goes to caseworkers who
    cannot open it yet; it links to the queue, where they can take it.
    """
    case = cases_visible_to(user).filter(pk=case_id).first()
    if case is not None:
        return case, reverse("cases:detail", args=[case.public_id])
    if event in (SLA_DUE_SOON, SLA_BREACHED):
        case = triage_pool_for(user).filter(pk=case_id).first()
        if case is not None:
            return case, reverse("cases:queue") + "?sort=due"
    return None


def case_notification_email(
    *, event: str, case_id: int, user_id: int
) -> EmailMultiAlternatives | None:
    """The mail for one person about one event, or None when it should no longer be sent: the
    person is gone or lost access, or (for an SLA warning) the case was answered or closed."""
    if event not in EVENTS:
        raise ValueError(f"unknown case notification {event!r}")
    user = _active(User.objects.filter(pk=user_id)).first()
    if user is None:
        return None
    found = _followed_case(event, case_id, user)
    if found is None:
        log.info("case notification %s for user %s dropped: no access", event, user_id)
        return None
    case, path = found
    if event in (SLA_DUE_SOON, SLA_BREACHED) and (
        case.first_response_at is not None or case.status not in OPEN
    ):
        return None
    # A maintainer's inbox may be read by the very people pressuring them: their mail does not
    # even say what the case is about. Caseworkers get the category and urgency to triage by.
    show_facts = event != MESSAGE or user.has_perm(WORK, case)
    context = {
        "event": event,
        "case_url": _absolute(path),
        "category": case.get_category_display() if show_facts else "",
        "urgency": case.get_urgency_display() if show_facts else "",
        "due_at": case.first_response_due_at,
        "now": timezone.now(),
        "breached": event == SLA_BREACHED,
    }
    if event in CONCERN_EVENTS:
        context["where"] = ConcernAlert.Source(CONCERN_EVENTS[event]).label
        return _message("case_concern", context, user.email)
    name = (
        "case_sla_warning" if event in (SLA_DUE_SOON, SLA_BREACHED) else f"case_{event}"
    )
    return _message(name, context, user.email)


# --- Steward assignments ---------------------------------------------------------------------

STEWARD_PROPOSED = "steward_proposed"
STEWARD_ACCEPTED = "steward_accepted"
STEWARD_DECLINED = "steward_declined"
ASSIGNMENT_ACTIVE = "assignment_active"
EXTENSION_PROPOSED = "extension_proposed"
ASSIGNMENT_ENDING = "assignment_ending"
ASSIGNMENT_ENDED = "assignment_ended"
REPORT_FILED = "report_filed"
STEWARD_SUSPENDED = "steward_suspended"
# Who hears about what: "m" the case's maintainers, "c" its caseworkers, "s" the steward.
ASSIGNMENT_EVENTS = {
    STEWARD_PROPOSED: (
        "m",
        "A steward has been proposed for your project. Please accept or decline.",
    ),
    STEWARD_ACCEPTED: ("cs", "The maintainer accepted the steward proposed."),
    STEWARD_DECLINED: ("c", "The maintainer declined the steward proposed."),
    ASSIGNMENT_ACTIVE: (
        "mcs",
        "A second caseworker approved the assignment; it is now active.",
    ),
    EXTENSION_PROPOSED: (
        "m",
        "An extension of a steward's assignment is proposed. Please accept or decline.",
    ),
    ASSIGNMENT_ENDING: ("mcs", "A steward's assignment ends within a week."),
    ASSIGNMENT_ENDED: (
        "mcs",
        "A steward's assignment has ended. The steward files a handover report.",
    ),
    REPORT_FILED: ("mc", "The steward filed the handover report."),
    STEWARD_SUSPENDED: (
        "m",
        "The foundation suspended a steward working with you; their assignment has ended.",
    ),
}


def assignment_recipients(
    *, assignment, event: str, to_steward: bool = True
) -> list[int]:
    who = ASSIGNMENT_EVENTS[event][0]
    case = assignment.case
    ids: set[int] = set()
    if "m" in who:
        ids |= set(
            _active(
                User.objects.filter(
                    Q(pk=case.opened_by_id) | Q(pk__in=case.co_maintainers.values("pk"))
                )
            ).values_list("pk", flat=True)
        )
    if "c" in who:
        ids |= set(_active(case.caseworkers.all()).values_list("pk", flat=True))
    if "s" in who and to_steward:
        ids |= set(
            _active(
                User.objects.filter(steward_profile=assignment.steward_id)
            ).values_list("pk", flat=True)
        )
    return sorted(ids)


def queue_assignment_event(*, assignment, event: str, to_steward: bool = True) -> None:
    """After commit, tell the people concerned that something happened on an assignment."""
    from cases.tasks import send_assignment_notification_task

    for user_id in assignment_recipients(
        assignment=assignment, event=event, to_steward=to_steward
    ):
        transaction.on_commit(
            functools.partial(
                send_assignment_notification_task.delay, event, assignment.pk, user_id
            )
        )


def assignment_notification_email(
    *, event: str, assignment_id: int, user_id: int
) -> EmailMultiAlternatives | None:
    """The mail for one person about an assignment, or None if they can no longer open it.

    SECURITY: a sentence saying what happened and a link; no project name, brief or case text,
    and the link goes through the same access check as the page."""
    from cases.access import assignments_visible_to

    if event not in ASSIGNMENT_EVENTS:
        raise ValueError(f"unknown assignment notification {event!r}")
    user = _active(User.objects.filter(pk=user_id)).first()
    if user is None:
        return None
    assignment = assignments_visible_to(user).filter(pk=assignment_id).first()
    if assignment is None:
        log.info(
            "assignment notification %s for user %s dropped: no access", event, user_id
        )
        return None
    context = {
        "event": event,
        "what": ASSIGNMENT_EVENTS[event][1],
        "assignment_url": _absolute(
            reverse("cases:assignment", args=[assignment.public_id])
        ),
    }
    return _message("assignment_event", context, user.email)
