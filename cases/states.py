"""Case states and the transitions a caseworker may make. The one table; services consult it."""

from django.db import models


class Status(models.TextChoices):
    NEW = "new", "New"
    TRIAGED = "triaged", "Triaged"
    IN_PROGRESS = "in_progress", "In progress"
    WAITING_ON_MAINTAINER = "waiting_on_maintainer", "Waiting on maintainer"
    STEWARD_REQUESTED = "steward_requested", "Steward requested"
    HANDOVER_ACTIVE = "handover_active", "Handover active"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    WITHDRAWN = "withdrawn", "Withdrawn"


_WORKING = {
    Status.TRIAGED,
    Status.IN_PROGRESS,
    Status.WAITING_ON_MAINTAINER,
    Status.STEWARD_REQUESTED,
    Status.HANDOVER_ACTIVE,
}

TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.TRIAGED, Status.IN_PROGRESS, Status.CLOSED}),
    Status.TRIAGED: frozenset(
        _WORKING - {Status.TRIAGED} | {Status.RESOLVED, Status.CLOSED}
    ),
    Status.IN_PROGRESS: frozenset(
        _WORKING - {Status.IN_PROGRESS} | {Status.RESOLVED, Status.CLOSED}
    ),
    Status.WAITING_ON_MAINTAINER: frozenset(
        _WORKING - {Status.WAITING_ON_MAINTAINER} | {Status.RESOLVED, Status.CLOSED}
    ),
    Status.STEWARD_REQUESTED: frozenset(
        _WORKING - {Status.STEWARD_REQUESTED} | {Status.RESOLVED, Status.CLOSED}
    ),
    Status.HANDOVER_ACTIVE: frozenset({Status.IN_PROGRESS, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.IN_PROGRESS, Status.CLOSED}),
    Status.CLOSED: frozenset(),
    Status.WITHDRAWN: frozenset(),
}

# States in which nobody may write to the case any more.
FINAL = frozenset({Status.CLOSED, Status.WITHDRAWN})
# States the triage queue shows.
OPEN = frozenset(Status) - FINAL - {Status.RESOLVED}


def allowed_next(status: str) -> list[str]:
    """The states a caseworker may move a case to from `status`, in the table's order."""
    targets = TRANSITIONS.get(status, frozenset())
    return [s for s in Status if s in targets]
