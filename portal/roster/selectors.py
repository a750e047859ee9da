"""Read queries for roster pages: a bounded number of queries whatever the roster's size."""

import datetime

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from portal.roster.models import IdentityCheck, StewardProfile, Vouch
from portal.roster.services import REMIND_BEFORE_EXPIRY

VETTED = StewardProfile.Status.VETTED


def _count(model, field: str):
    rows = (
        model.objects.filter(**{field: OuterRef("pk")})
        .order_by()
        .values(field)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows), 0)


def roster_for_caseworkers(
    *, show: str = "", q: str = "", now: datetime.datetime | None = None
) -> QuerySet[StewardProfile]:
    now = now or timezone.now()
    filters = {
        "applied": Q(status=StewardProfile.Status.APPLIED),
        "vetted": Q(status=VETTED, vetting_expires_at__gt=now, is_on_hold=False),
        "expiring": Q(
            status=VETTED,
            vetting_expires_at__gt=now,
            vetting_expires_at__lte=now + REMIND_BEFORE_EXPIRY,
        ),
        "expired": Q(status=VETTED, vetting_expires_at__lte=now),
        "suspended": Q(status=StewardProfile.Status.SUSPENDED),
        "on_hold": Q(is_on_hold=True),
    }
    rows = StewardProfile.objects.select_related("user").annotate(
        vouch_count=_count(Vouch, "vouchee"),
        check_count=_count(IdentityCheck, "steward"),
    )
    if show in filters:
        rows = rows.filter(filters[show])
    if q:
        rows = rows.filter(handle__icontains=q.strip())
    return rows.order_by("-is_on_hold", "status", "handle")


def steward_page(steward: StewardProfile) -> dict:
    """Everything the caseworker's steward page lists, each in one query."""
    return {
        "keys": list(steward.keys.all()),
        "identity_checks": list(
            steward.identity_checks.select_related("recorded_by").order_by(
                "-created_at", "-pk"
            )
        ),
        "vouches_received": list(
            steward.vouches_received.select_related("voucher").order_by("created_at")
        ),
        "vouches_given": list(
            steward.vouches_given.select_related("vouchee").order_by("created_at")
        ),
        "involvements": list(
            steward.involvements.select_related("project", "recorded_by").order_by(
                "project__name"
            )
        ),
    }
