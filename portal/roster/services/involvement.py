"""What stewards have to do with projects: the facts matching's exclusions read."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from portal.accounts.roles import is_caseworker
from portal.audit.services import record_event
from portal.lib.errors import Refused
from portal.projects.models import Project
from portal.roster.models import ProjectInvolvement, StewardProfile
from portal.roster.services._common import MAX_STATEMENT, _lock


@transaction.atomic
def declare_involvement(
    *,
    steward: StewardProfile,
    actor,
    project: Project,
    first_contributed_on: datetime.date | None,
    first_offered_help_on: datetime.date | None,
    conflict_of_interest: bool,
    conflict_note: str = "",
    source_ip: str | None = None,
) -> ProjectInvolvement:
    """Record what a steward has to do with `project`: when they started contributing, when
    they first offered help, and any conflict of interest. Matching reads these for the
    conflict rule and the eager-newcomer rule.

    The steward may declare their own; a caseworker may record anyone's. SECURITY: a steward
    can only make their own record stricter (add a conflict, set a missing date or a later
    one), never loosen it: an earlier date or a withdrawn conflict would lift them out of the
    very exclusions this record feeds. Corrections that loosen go through a caseworker.
    Refuses dates in the future, a conflict without a note, and anyone else.
    """
    by_caseworker = is_caseworker(actor) and steward.user_id != actor.pk
    if steward.user_id != actor.pk and not by_caseworker:
        raise Refused("You can only declare your own involvement with projects.")
    today = timezone.localdate()
    for value, label in (
        (first_contributed_on, "first contribution"),
        (first_offered_help_on, "first offer of help"),
    ):
        if value is not None and value > today:
            raise Refused(f"The date of the {label} cannot be in the future.")
    conflict_note = (conflict_note or "").strip()
    if conflict_of_interest and not conflict_note:
        raise Refused("Describe the conflict of interest in a sentence.")
    if len(conflict_note) > MAX_STATEMENT:
        raise Refused(f"Keep the note under {MAX_STATEMENT} characters.")
    _lock(steward)
    existing = (
        ProjectInvolvement.objects.select_for_update()
        .filter(steward=steward, project=project)
        .first()
    )
    if existing is not None and not by_caseworker:
        loosening = []
        for field, value in (
            ("first_contributed_on", first_contributed_on),
            ("first_offered_help_on", first_offered_help_on),
        ):
            old = getattr(existing, field)
            if old is not None and (value is None or value < old):
                loosening.append(field.replace("_", " ").replace(" on", ""))
        if existing.conflict_of_interest and not conflict_of_interest:
            loosening.append("conflict of interest")
        if loosening:
            raise Refused(
                "You can add to what you declared about "
                f"{project.name} but not take back or move earlier ({', '.join(loosening)}); "
                "ask a caseworker to correct it."
            )
    involvement = existing or ProjectInvolvement(steward=steward, project=project)
    involvement.first_contributed_on = first_contributed_on
    involvement.first_offered_help_on = first_offered_help_on
    involvement.conflict_of_interest = conflict_of_interest
    involvement.conflict_note = conflict_note if conflict_of_interest else ""
    involvement.recorded_by = actor if by_caseworker else involvement.recorded_by
    involvement.updated_at = timezone.now()
    involvement.save()
    record_event(
        actor=actor,
        action="steward.involvement_declared",
        obj=steward,
        source_ip=source_ip,
        data={
            "project": str(project.public_id),
            "conflict": conflict_of_interest,
            "by_caseworker": by_caseworker,
        },
    )
    return involvement
