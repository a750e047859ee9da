"""Read queries for case pages, each built on `cases.access`."""

from django.db.models import Q, QuerySet

from cases.access import WORK, cases_visible_to, triage_pool_for
from cases.models import Case
from cases.states import OPEN


def triage_queue_for(user) -> QuerySet[Case]:
    """A caseworker's queue: open cases nobody has taken, plus open cases assigned to them.

    Most urgent first, then newest. A bounded number of queries whatever the row count.
    """
    mine = cases_visible_to(user, WORK).filter(status__in=OPEN).values("pk")
    pool = triage_pool_for(user).values("pk")
    # SECURITY: one filter(Q | Q) over the two id sets, so no join widens either of them.
    return (
        Case.objects.filter(Q(pk__in=mine) | Q(pk__in=pool))
        .select_related("project")
        .prefetch_related("caseworkers")
        .order_by("urgency", "-created_at")
    )


def case_list_for(user) -> QuerySet[Case]:
    return cases_visible_to(user).select_related("project").order_by("-created_at")


def messages_for(user, case: Case):
    """The conversation as `user` may see it: internal notes only for the case's caseworkers."""
    messages = case.messages.select_related("author")
    if not user.has_perm(WORK, case):
        messages = messages.filter(is_internal=False)
    return messages
