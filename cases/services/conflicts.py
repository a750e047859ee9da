from django.db import transaction

from cases.models import CaseworkerConflict
from portal.accounts.roles import is_caseworker
from portal.audit.services import record_event
from portal.lib.errors import Refused
from portal.projects.models import Project


@transaction.atomic
def declare_conflict(
    *, actor, project: Project, reason: str = "", source_ip: str | None = None
) -> CaseworkerConflict:
    """Record that caseworker `actor` is involved with `project`: from now on they cannot be
    assigned to its cases. Cases they already hold are not changed; hand those to a colleague."""
    if not is_caseworker(actor):
        raise Refused("Only caseworkers declare conflicts of interest.")
    if CaseworkerConflict.objects.filter(caseworker=actor, project=project).exists():
        raise Refused(f"You have already declared a conflict with {project.name}.")
    conflict = CaseworkerConflict.objects.create(
        caseworker=actor, project=project, reason=reason
    )
    record_event(
        actor=actor, action="conflict.declared", obj=project, source_ip=source_ip
    )
    return conflict


@transaction.atomic
def withdraw_conflict(
    *, actor, conflict: CaseworkerConflict, source_ip: str | None = None
) -> None:
    """Take back one's own declaration of a conflict."""
    if conflict.caseworker_id != actor.pk:
        raise Refused("You can only withdraw your own declarations.")
    project = conflict.project
    conflict.delete()
    record_event(
        actor=actor, action="conflict.withdrawn", obj=project, source_ip=source_ip
    )
