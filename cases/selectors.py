"""Read queries for case pages, each built on `cases.access`. Decryption happens here, for the
person the page is for, and nowhere else on the way to a template."""

from django.db.models import Q, QuerySet

from cases import crypto
from cases.access import WORK, cases_visible_to, triage_pool_for
from cases.models import Case
from cases.services.attachments import attachment_name
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
