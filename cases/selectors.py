"""Read queries for case pages, each built on `cases.access`. Decryption happens here, for the
person the page is for, and nowhere else on the way to a template."""

import math

from django.core.paginator import Page, Paginator
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Window,
)

from cases import crypto
from cases.access import WORK, cases_visible_to, triage_pool_for
from cases.models import Assignment, Case
from cases.services.attachments import attachment_name
from cases.states import OPEN
from portal.projects.models import Ecosystem

QUEUE_PAGE_SIZE = 50
# `assignee` value for cases nobody has taken; otherwise a caseworker's user id, or None for anyone.
UNASSIGNED = "unassigned"
QUEUE_SORTS = {
    "urgency": ("urgency", "-created_at", "-pk"),
    "oldest": ("created_at", "pk"),
    # Running clocks first, the one running out soonest on top; answered cases after them.
    "due": (
        ExpressionWrapper(
            Q(first_response_at__isnull=False), output_field=BooleanField()
        ).asc(),
        F("first_response_due_at").asc(nulls_last=True),
        "created_at",
        "pk",
    ),
}


def _ecosystems_matching(term: str) -> list[str]:
    term = term.lower()
    return [
        value
        for value, label in Ecosystem.choices
        if value.startswith(term) or term in label.lower()
    ]


def triage_queue_for(
    user,
    *,
    status: str | None = None,
    urgency: int | None = None,
    category: str | None = None,
    assignee: int | str | None = None,
    search: str = "",
    sort: str = "urgency",
) -> QuerySet[Case]:
    """A caseworker's queue: open cases nobody has taken, plus open cases assigned to them.

    Narrowed by the given filters; `assignee` is UNASSIGNED or a caseworker's user id. `search`
    looks at queue metadata only (project name, ecosystem), never at anything a person wrote.
    Each row carries `is_mine` (the user works on it). Most urgent first, then newest, unless
    `sort` says "oldest" or "due". A bounded number of queries whatever the row count.
    """
    mine = cases_visible_to(user, WORK).filter(status__in=OPEN).values("pk")
    pool = triage_pool_for(user).values("pk")
    # SECURITY: one filter(Q | Q) over the two id sets, so no join widens either of them. The
    # filters below narrow it on the case's own columns and its project (single-valued), and
    # test assignment with EXISTS rather than a join over the caseworkers relation.
    rows = Case.objects.filter(Q(pk__in=mine) | Q(pk__in=pool))
    if status:
        rows = rows.filter(status=status)
    if urgency:
        rows = rows.filter(urgency=urgency)
    if category:
        rows = rows.filter(category=category)
    if assignee is not None:
        assigned = Case.caseworkers.through.objects.filter(case_id=OuterRef("pk"))
        if assignee == UNASSIGNED:
            rows = rows.filter(~Exists(assigned))
        else:
            rows = rows.filter(Exists(assigned.filter(user_id=assignee)))
    search = search.strip()
    if search:
        rows = rows.filter(
            Q(project__name__icontains=search)
            | Q(project__ecosystem__in=_ecosystems_matching(search))
        )
    return (
        rows.annotate(
            is_mine=ExpressionWrapper(Q(pk__in=mine), output_field=BooleanField())
        )
        # The queue shows metadata only: leave the sealed words and the wrapped key behind.
        .defer("narrative_sealed", "wrapped_key")
        .select_related("project")
        .prefetch_related("caseworkers")
        .order_by(*QUEUE_SORTS[sort])
    )


def _queue_page_rows(queue: QuerySet[Case], number: int, per_page: int) -> list:
    start = (number - 1) * per_page
    # The total rides along with the rows (COUNT(*) OVER ()): the id sets are built once, not
    # once for a count and again for the page.
    counted = queue.annotate(queue_total=Window(Count("pk")))
    return list(counted[start : start + per_page])


def triage_queue_page_for(
    user, *, page: int = 1, per_page: int = QUEUE_PAGE_SIZE, **filters
) -> Page:
    """One page of `triage_queue_for(user, **filters)`, rows loaded, `paginator.count` set.

    Two queries: the rows with the total, and their caseworkers. A page number past the end
    gives the last page, at the price of a count and a second fetch.
    """
    queue = triage_queue_for(user, **filters)
    paginator = Paginator(queue, per_page)
    number = max(1, page)
    rows = _queue_page_rows(queue, number, per_page)
    if rows:
        total = rows[0].queue_total
    elif number == 1:
        total = 0
    else:
        total = queue.count()
        number = max(1, math.ceil(total / per_page))
        rows = _queue_page_rows(queue, number, per_page) if total else []
    paginator.count = total  # the cached property, known already
    return Page(rows, number, paginator)


def case_list_for(user) -> QuerySet[Case]:
    return cases_visible_to(user).select_related("project").order_by("-created_at")


def narrative_of(case: Case) -> str | None:
    """The maintainer's words, or None once the case is withdrawn."""
    if case.narrative_sealed is None:
        return None
    return crypto.open_text(case, "narrative", "", case.narrative_sealed)


def messages_for(user, case: Case) -> list:
    """The conversation as `user` may see it, each message with its opened `.body` (None once
    the case is withdrawn). Internal notes only for the case's caseworkers."""
    messages = case.messages.select_related("author")
    if not user.has_perm(WORK, case):
        messages = messages.filter(is_internal=False)
    rows = list(messages)
    for message in rows:
        message.case = case  # one data key for all of them
        message.body = (
            None
            if message.body_sealed is None
            else crypto.open_text(
                case, "message", message.public_id, message.body_sealed
            )
        )
    return rows


def attachments_for(user, case: Case) -> list:
    """Files `user` may see on the case, each with its opened `.name`."""
    attachments = case.attachments.select_related("uploaded_by")
    if not user.has_perm(WORK, case):
        attachments = attachments.filter(is_internal=False)
    rows = list(attachments)
    for attachment in rows:
        attachment.case = case
        attachment.name = attachment_name(attachment)
    return rows


def steward_requests_for(case: Case) -> list:
    """The case's steward requests, each with its assignments (steward loaded): two queries."""
    return list(
        case.steward_requests.prefetch_related(
            Prefetch(
                "assignments",
                queryset=Assignment.objects.select_related("steward").order_by(
                    "-created_at"
                ),
            )
        )
    )


def identities_of_concern_for(case: Case) -> tuple[list, list]:
    """The identities recorded on the case and the alerts about them, each with its opened
    `.identity` (None once the case is withdrawn). For the case's caseworkers only."""
    from cases.screening import identity_of

    concerns = list(case.identities_of_concern.all())
    opened = {}
    for concern in concerns:
        concern.case = case
        concern.identity = opened[concern.pk] = identity_of(concern)
    alerts = list(case.concern_alerts.all())
    for alert in alerts:
        alert.identity = opened.get(alert.concern_id)
    return concerns, alerts
