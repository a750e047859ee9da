"""Read queries over the audit trail for pages.

These take a case's public id, not a case: `portal.audit` never imports `cases`. They check
nobody's access; the calling view fetches the case through `cases.access` first.
"""

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from portal.audit.models import AuditEvent

CASE_OBJECT_TYPE = "cases.case"
# The reads a maintainer is shown: who opened their case page or downloaded their files.
READ_ACTIONS = ("case.viewed", "attachment.downloaded")


def events_for_case(case_public_id) -> QuerySet[AuditEvent]:
    """Every audit event recorded on the case, newest first, with each actor joined in.

    The caller must already have shown it may read the case (through `cases.access`).
    """
    return (
        AuditEvent.objects.filter(
            object_type=CASE_OBJECT_TYPE, object_id=str(case_public_id)
        )
        .select_related("actor")
        .order_by("-id")
    )


def reads_by_foundation(
    case_public_id, maintainer_ids: Iterable[int]
) -> QuerySet[AuditEvent]:
    """The case's access log as its maintainers see it: page views and file downloads by
    anyone who is not one of them (`maintainer_ids`: the opener and co-maintainers), newest first.

    Events without an actor are kept: a read nobody signed for is still a read. Downloads of
    internal files are left out: maintainers must not learn that such files exist.
    """
    return (
        events_for_case(case_public_id)
        # A filter, not exclude(): "NOT (key = true)" drops every row that lacks the key.
        .filter(
            Q(action="case.viewed")
            | Q(action="attachment.downloaded", data__internal=False)
        )
        .exclude(actor_id__in=list(maintainer_ids))
    )
