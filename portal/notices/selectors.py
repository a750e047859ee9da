"""Read queries for notice pages, feeds and the API. Public ones see published notices only."""

from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from portal.notices.models import (
    Delivery,
    HandoverNotice,
    NoticeRevision,
    Objection,
    Subscription,
)

PUBLIC_STATUSES = (
    HandoverNotice.Status.ACTIVE,
    HandoverNotice.Status.ENDED,
    HandoverNotice.Status.WITHDRAWN,
)


def published_notices() -> QuerySet[HandoverNotice]:
    """What the public may see: notices with at least one published revision, newest first."""
    return (
        HandoverNotice.objects.filter(status__in=PUBLIC_STATUSES)
        .select_related("latest_revision")
        .order_by("-modified_at", "-id")
    )


def filter_notices(
    queryset: QuerySet[HandoverNotice],
    *,
    status: str = "",
    ecosystem: str = "",
    purl: str = "",
    project: str = "",
    query: str = "",
    modified_since=None,
) -> QuerySet[HandoverNotice]:
    if status:
        queryset = queryset.filter(status=status)
    if ecosystem:
        queryset = queryset.filter(ecosystem=ecosystem)
    if purl:
        queryset = queryset.filter(packages__purl=purl)
    if project:
        queryset = queryset.filter(project_name__iexact=project)
    if query:
        queryset = queryset.filter(
            Q(project_name__icontains=query) | Q(reference__iexact=query)
        )
    if modified_since is not None:
        queryset = queryset.filter(modified_at__gt=modified_since)
    return queryset


def get_published_notice(reference: str) -> HandoverNotice:
    return get_object_or_404(published_notices(), reference=reference)


def published_revisions(notice: HandoverNotice) -> QuerySet[NoticeRevision]:
    return notice.revisions.filter(state=NoticeRevision.State.PUBLISHED).order_by(
        "number"
    )


def get_published_revision(reference: str, number: int | str) -> NoticeRevision:
    """A published revision by notice id and number, or "latest"; 404 for anything else."""
    revisions = NoticeRevision.objects.filter(
        notice__reference=reference, state=NoticeRevision.State.PUBLISHED
    ).select_related("notice")
    if number == "latest":
        revision = revisions.order_by("-number").first()
        if revision is None:
            raise Http404("No such notice.")
        return revision
    return get_object_or_404(revisions, number=number)


def revisions_awaiting_approval() -> QuerySet[NoticeRevision]:
    return (
        NoticeRevision.objects.filter(state=NoticeRevision.State.AWAITING_APPROVAL)
        .select_related("notice__current_revision", "drafted_by", "consent_recorded_by")
        .order_by("drafted_at")
    )


def webhooks_of(owner) -> QuerySet[Subscription]:
    return Subscription.objects.filter(
        owner=owner, channel=Subscription.Channel.WEBHOOK
    ).order_by("-created_at")


def get_webhook_for(owner, public_id) -> Subscription:
    """The owner's webhook; another person's is a 404 like one that does not exist."""
    return get_object_or_404(webhooks_of(owner), public_id=public_id)


def deliveries_of(subscription: Subscription) -> QuerySet[Delivery]:
    return subscription.deliveries.select_related("revision__notice").order_by(
        "-created_at"
    )


def get_delivery_for(owner, public_id) -> Delivery:
    return get_object_or_404(
        Delivery.objects.filter(
            subscription__owner=owner,
            subscription__channel=Subscription.Channel.WEBHOOK,
        ).select_related("subscription"),
        public_id=public_id,
    )


def open_objections():
    """Objections to revisions still in their objection period: caseworkers only, behind MFA."""
    return (
        Objection.objects.filter(revision__effective_at__gt=timezone.now())
        .select_related("revision__notice")
        .order_by("-created_at")
    )
