from django.core.exceptions import ValidationError
from django.db import transaction

from portal.audit.services import record_event
from portal.lib.locks import serialize
from portal.projects.models import Maintainership, Project


@transaction.atomic
def register_project(
    *,
    actor,
    name: str,
    ecosystem: str,
    repository_url: str,
    purls: list[str],
    source_ip: str | None = None,
) -> Project:
    """Record that `actor` maintains a project (unverified until the foundation checks).

    A project already known under the same ecosystem and name gains `actor` as a maintainer; its
    recorded repository and purls are left as they are. Refuses a second claim by the same person.
    """
    # Two first registrations of one project must not race to the unique constraint.
    serialize(f"project:{ecosystem}:{name.strip().lower()}")
    project = (
        Project.objects.select_for_update()
        .filter(ecosystem=ecosystem, name__iexact=name)
        .first()
    )
    if project is None:
        project = Project.objects.create(
            name=name, ecosystem=ecosystem, repository_url=repository_url, purls=purls
        )
    elif Maintainership.objects.filter(project=project, user=actor).exists():
        raise ValidationError(f"You have already registered {project.name}.")
    Maintainership.objects.create(project=project, user=actor)
    record_event(
        actor=actor, action="project.registered", obj=project, source_ip=source_ip
    )
    return project
