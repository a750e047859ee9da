import base64
import binascii

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
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


@transaction.atomic
def enrol_totp(*, user: User, secret: str) -> None:
    """Turn on an authenticator app with a known base32 `secret` for `user`, with recovery codes,
    through allauth's own API, as its activation page does (for demo data and the foundation's
    tooling; people enrol on that page). Refuses a secret that is not base32 and a user who
    already has an authenticator app."""
    try:
        base64.b32decode(secret, casefold=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("The TOTP secret must be base32 (A-Z, 2-7).") from exc
    User.objects.select_for_update().get(pk=user.pk)
    if Authenticator.objects.filter(
        user_id=user.pk, type=Authenticator.Type.TOTP
    ).exists():
        raise ValueError(f"{user.email} already has an authenticator app.")
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
