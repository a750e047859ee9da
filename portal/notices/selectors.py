from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from portal.notices.models import HandoverNotice


def published_notices() -> QuerySet[HandoverNotice]:
    """What the public may see: published notices, newest first."""
    return HandoverNotice.objects.filter(
        status=HandoverNotice.Status.PUBLISHED
    ).order_by("-published_at")


def get_published_notice(reference: str) -> HandoverNotice:
    return get_object_or_404(published_notices(), reference=reference)


def notices_awaiting_approval() -> QuerySet[HandoverNotice]:
    return (
        HandoverNotice.objects.filter(status=HandoverNotice.Status.AWAITING_APPROVAL)
        .select_related("drafted_by")
        .order_by("drafted_at")
    )
