from allauth.account.models import EmailAddress
from django.db import transaction

from portal.accounts import roles
from portal.accounts.models import User


@transaction.atomic
def create_account(
    *,
    email: str,
    password: str,
    display_name: str = "",
    role_names: tuple[str, ...] = (roles.MAINTAINER,),
) -> User:
    """Create a person with a verified email address and the given roles (for the foundation's own
    staff and for demo data; the public signs up through allauth)."""
    unknown = set(role_names) - set(roles.ALL_ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    user = User.objects.create_user(
        email=email, password=password, display_name=display_name
    )
    EmailAddress.objects.create(
        user=user, email=user.email, verified=True, primary=True
    )
    for role in role_names:
        roles.grant_role(user, role)
    return user
