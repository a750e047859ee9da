from django.db import transaction

from cases import notifications
from cases.models import Assignment
from cases.services.assignments import end_assignments
from portal.notices.services import mark_notices_naming_steward
from portal.roster.models import StewardProfile
from portal.roster.services import record_suspension


@transaction.atomic
def suspend_steward(
    *, steward: StewardProfile, actor, reason: str, source_ip: str | None = None
) -> StewardProfile:
    """Suspend a steward, everywhere at once, in one transaction.

    The roster records the suspension (`record_suspension`: caseworkers only, a reason
    required). Every proposal and assignment the steward holds ends at once, so nobody can
    accept or approve them any more. After commit, the maintainers of the cases concerned are
    told (a link to the assignment, no reason and no case text).
    """
    steward = record_suspension(
        steward=steward, actor=actor, reason=reason, source_ip=source_ip
    )
    ended = end_assignments(
        assignments=Assignment.objects.filter(steward=steward),
        actor=actor,
        reason=Assignment.EndReason.SUSPENDED,
    )
    mark_notices_naming(steward=steward, actor=actor)
    for assignment in ended:
        notifications.queue_assignment_event(
            assignment=assignment,
            event=notifications.STEWARD_SUSPENDED,
            to_steward=False,
        )
    return steward


def mark_notices_naming(*, steward: StewardProfile, actor) -> int:
    """Flag the live notices that name `steward`: the public is owed an amendment.

    Inside the suspension's transaction. The notice shows "being revised" at once; the next
    approved revision clears the flag. The reason shown is generic, never the suspension's.
    """
    return mark_notices_naming_steward(
        handle=steward.handle,
        reason="An interim steward named here is no longer on the foundation's roster",
        actor=actor,
    )
