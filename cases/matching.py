"""Which stewards fit a steward request, and which are excluded and why.

One function decides both the ranking the caseworker sees and the re-check a proposal runs
under lock (`evaluate`), so a crafted POST naming an excluded steward meets the same rules as
the page. A bounded number of queries whatever the roster's size: the stewards, their holding
assignments counted in one aggregate, this project's involvements, the identities of concern,
the case's maintainers.
"""

import datetime
import functools
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, Q
from django.utils import timezone

from cases import screening
from cases.models import Assignment, StewardRequest
from portal.roster.models import ProjectInvolvement, StewardProfile

# The eager-newcomer rule: a steward who started contributing to this very project, or first
# offered to help with it, this recently is never matched to it (the Jia Tan pattern).
NEWCOMER_WINDOW = datetime.timedelta(days=365)
# Working hours assumed on both sides when estimating time-zone overlap.
WORKDAY = (9, 17)
WEIGHTS = {"ecosystem": 30, "skills": 25, "time_zone": 20, "capacity": 15, "hours": 10}


@dataclass(frozen=True)
class Exclusion:
    code: str
    reason: str


@dataclass
class Candidate:
    steward: "StewardProfile | StewardRow"
    free: int
    ecosystem_match: bool = False
    skills_matched: list[str] = field(default_factory=list)
    overlap_hours: float = 0.0
    score: int = 0
    exclusions: list[Exclusion] = field(default_factory=list)

    @property
    def is_excluded(self) -> bool:
        return bool(self.exclusions)

    @property
    def reasons(self) -> str:
        return "; ".join(e.reason for e in self.exclusions)


@dataclass
class Matches:
    ranked: list[Candidate]
    excluded: list[Candidate]
    considered: int


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@functools.lru_cache(maxsize=4096)
def overlap_hours(zone_a: str, zone_b: str, on: datetime.date) -> float:
    """Hours a 09:00-17:00 working day in `zone_a` overlaps one in `zone_b` on date `on`."""
    a, b = _zone(zone_a), _zone(zone_b)
    if a is None or b is None:
        return 0.0
    noon = datetime.datetime.combine(on, datetime.time(12), tzinfo=datetime.UTC)
    offset_a = noon.astimezone(a).utcoffset().total_seconds() / 3600
    offset_b = noon.astimezone(b).utcoffset().total_seconds() / 3600
    start, end = WORKDAY
    # The same working day in UTC hours on each side; compare across midnight too.
    a_start, a_end = start - offset_a, end - offset_a
    best = 0.0
    for shift in (-24, 0, 24):
        b_start, b_end = start - offset_b + shift, end - offset_b + shift
        best = max(best, min(a_end, b_end) - max(a_start, b_start))
    return max(0.0, best)


def has_uncleared_concern(steward: StewardProfile, concerns: dict) -> bool:
    """Does any of the steward's identities carry a concern newer than the last time a
    caseworker cleared this steward's roster hold? (`concerns` from `screening.concern_index`.)"""
    if not concerns:
        return False
    cleared_at = getattr(steward, "hold_cleared_at", None)
    for identity in steward.identities():
        when = concerns.get(screening.digest(identity))
        if when is not None and (cleared_at is None or when > cleared_at):
            return True
    return False


# The columns matching reads; loading only these (as tuples, not model instances) keeps a roster
# of thousands to a few tens of milliseconds.
_FIELDS = (
    "pk",
    "public_id",
    "handle",
    "user_id",
    "user__email",
    "forge_accounts",
    "ecosystems",
    "skills",
    "time_zone",
    "hours_per_week",
    "max_assignments",
    "status",
    "is_on_hold",
    "hold_cleared_at",
    "vetting_expires_at",
)


class StewardRow:
    """The roster facts matching needs about one steward, read without building a model."""

    __slots__ = (*_FIELDS[:4], "email", *_FIELDS[5:])

    def __init__(self, values: tuple):
        for name, value in zip(self.__slots__, values, strict=True):
            setattr(self, name, value)

    def identities(self) -> list[str]:
        # The same normalised identities as StewardProfile.identities().
        found = [f"email:{self.email.strip().lower()}"] if self.email else []
        found.extend(str(account).lower() for account in self.forge_accounts or [])
        return found


def _candidates(steward_ids: list[int] | None, lock: bool) -> list:
    if steward_ids is not None:
        # A proposal or an answer re-checks one steward under a row lock: the real model.
        rows = StewardProfile.objects.select_related("user").filter(pk__in=steward_ids)
        if lock:
            rows = rows.select_for_update(of=("self",))
        return list(rows.order_by("handle"))
    # Applicants never vetted are not candidates; anyone vetted, suspended or on hold is
    # shown so the caseworker sees why they are out.
    rows = StewardProfile.objects.filter(
        Q(status__in=[StewardProfile.Status.VETTED, StewardProfile.Status.SUSPENDED])
        | Q(is_on_hold=True)
    )
    return [StewardRow(values) for values in rows.values_list(*_FIELDS)]


def evaluate(
    request: StewardRequest,
    *,
    steward_ids: list[int] | None = None,
    lock: bool = False,
    excluding_assignment: int | None = None,
    now: datetime.datetime | None = None,
) -> list[Candidate]:
    """Score and check every candidate (or only `steward_ids`) against `request`.

    `excluding_assignment` is left out of the capacity count: an assignment being accepted or
    extended already holds the place it needs."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    case = request.case
    stewards = _candidates(steward_ids, lock)
    ids = [s.pk for s in stewards] if steward_ids is not None else None
    holding = Assignment.objects.filter(status__in=Assignment.HOLDING)
    if excluding_assignment is not None:
        holding = holding.exclude(pk=excluding_assignment)
    involvements = ProjectInvolvement.objects.filter(project_id=case.project_id)
    if ids is not None:
        holding = holding.filter(steward_id__in=ids)
        involvements = involvements.filter(steward_id__in=ids)
    held = dict(
        holding.values("steward_id")
        .annotate(n=Count("pk"))
        .values_list("steward_id", "n")
    )
    involved = {row.steward_id: row for row in involvements}
    concerns = screening.concern_index()
    maintainers = {case.opened_by_id, *case.co_maintainers.values_list("pk", flat=True)}
    wanted_skills = {s.lower() for s in request.skills}
    newcomer_since = today - NEWCOMER_WINDOW

    results = []
    for steward in stewards:
        free = max(0, steward.max_assignments - held.get(steward.pk, 0))
        c = Candidate(steward=steward, free=free)
        out = c.exclusions
        if steward.status == StewardProfile.Status.SUSPENDED:
            out.append(Exclusion("suspended", "Suspended"))
        elif steward.status != StewardProfile.Status.VETTED:
            out.append(Exclusion("not-vetted", "Not vetted"))
        elif steward.vetting_expires_at is None or steward.vetting_expires_at <= now:
            when = steward.vetting_expires_at
            out.append(
                Exclusion(
                    "expired",
                    f"Vetting expired on {when:%Y-%m-%d}"
                    if when
                    else "Vetting expired",
                )
            )
        if steward.is_on_hold:
            out.append(
                Exclusion(
                    "on-hold",
                    "On hold: an identity of concern until a caseworker clears it",
                )
            )
        elif has_uncleared_concern(steward, concerns):
            out.append(Exclusion("identity-of-concern", "Identity of concern"))
        involvement = involved.get(steward.pk)
        if involvement is not None and involvement.conflict_of_interest:
            out.append(
                Exclusion(
                    "conflict",
                    "Declared a conflict of interest with this project",
                )
            )
        if involvement is not None:
            for day, what in (
                (involvement.first_contributed_on, "Started contributing to"),
                (involvement.first_offered_help_on, "First offered to help with"),
            ):
                if day is not None and day >= newcomer_since:
                    out.append(
                        Exclusion(
                            "newcomer",
                            f"{what} this project on {day:%Y-%m-%d}, less than 12 months ago",
                        )
                    )
                    break
        if steward.user_id in maintainers:
            out.append(Exclusion("own-case", "A maintainer on this case"))
        if free < 1:
            out.append(
                Exclusion(
                    "no-capacity",
                    f"No free capacity ({steward.max_assignments} of "
                    f"{steward.max_assignments} assignments taken)",
                )
            )
        c.ecosystem_match = request.ecosystem in (steward.ecosystems or [])
        c.skills_matched = sorted(wanted_skills & {s.lower() for s in steward.skills})
        c.overlap_hours = overlap_hours(
            request.time_zone, steward.time_zone, request.starts_on
        )
        skills_fit = (
            len(c.skills_matched) / len(wanted_skills) if wanted_skills else 1.0
        )
        hours_fit = (
            min(1.0, steward.hours_per_week / request.hours_per_week)
            if request.hours_per_week
            else 1.0
        )
        workday = WORKDAY[1] - WORKDAY[0]
        c.score = round(
            WEIGHTS["ecosystem"] * c.ecosystem_match
            + WEIGHTS["skills"] * skills_fit
            + WEIGHTS["time_zone"] * min(1.0, c.overlap_hours / workday)
            + WEIGHTS["capacity"]
            * (free / steward.max_assignments if steward.max_assignments else 0)
            + WEIGHTS["hours"] * hours_fit
        )
        results.append(c)
    return results


# Project-specific reasons are always worth showing; general ones only for stewards who would
# otherwise fit the request's ecosystem, so 5,000 "not this ecosystem" rows do not drown them.
_SPECIFIC = {"conflict", "newcomer", "identity-of-concern", "on-hold", "own-case"}


def match_stewards(
    request: StewardRequest, *, limit: int = 25, excluded_limit: int = 100
) -> Matches:
    """Ranked eligible stewards (best fit first) and the excluded ones with their reasons."""
    everyone = evaluate(request)
    ranked = sorted(
        (c for c in everyone if not c.is_excluded),
        key=lambda c: (-c.score, c.steward.handle),
    )
    excluded = [
        c
        for c in everyone
        if c.is_excluded
        and (c.ecosystem_match or {e.code for e in c.exclusions} & _SPECIFIC)
    ]
    excluded.sort(key=lambda c: (-c.score, c.steward.handle))
    return Matches(
        ranked=ranked[:limit],
        excluded=excluded[:excluded_limit],
        considered=len(everyone),
    )
