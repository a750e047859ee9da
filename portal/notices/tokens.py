"""Signed links for subscribers: confirmation (expires) and unsubscribe (does not)."""

from django.conf import settings
from django.core import signing

_CONFIRM_SALT = "steady.notices.subscription.confirm"
_UNSUBSCRIBE_SALT = "steady.notices.subscription.unsubscribe"


class TokenExpired(Exception):
    pass


class TokenInvalid(Exception):
    pass


def make_confirm_token(subscription) -> str:
    return signing.dumps(
        str(subscription.public_id), salt=_CONFIRM_SALT, compress=False
    )


def read_confirm_token(token: str) -> str:
    """Return the subscription's public id, or raise TokenExpired / TokenInvalid."""
    try:
        return signing.loads(
            token, salt=_CONFIRM_SALT, max_age=settings.SUBSCRIPTION_CONFIRM_MAX_AGE
        )
    except signing.SignatureExpired as exc:
        raise TokenExpired from exc
    except signing.BadSignature as exc:
        raise TokenInvalid from exc


def make_unsubscribe_token(subscription) -> str:
    return signing.dumps(
        str(subscription.public_id), salt=_UNSUBSCRIBE_SALT, compress=False
    )


def read_unsubscribe_token(token: str) -> str:
    try:
        return signing.loads(token, salt=_UNSUBSCRIBE_SALT)
    except signing.BadSignature as exc:
        raise TokenInvalid from exc
