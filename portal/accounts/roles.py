"""Roles are groups. These names are created by a data migration and never renamed."""

from django.contrib.auth.models import Group

MAINTAINER = "maintainer"
CASEWORKER = "caseworker"
STEWARD = "steward"
ALL_ROLES = (MAINTAINER, CASEWORKER, STEWARD)


def has_role(user, role: str) -> bool:
    if not user.is_authenticated:
        return False
    # One query per request at most: the names are cached on the user object.
    names = getattr(user, "_steady_role_names", None)
    if names is None:
        names = frozenset(user.groups.values_list("name", flat=True))
        user._steady_role_names = names
    return role in names


def is_caseworker(user) -> bool:
    return has_role(user, CASEWORKER)


def grant_role(user, role: str) -> None:
    if role not in ALL_ROLES:
        raise ValueError(f"unknown role {role!r}")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    user.__dict__.pop("_steady_role_names", None)
