"""Authenticator-app codes for tests, computed as a phone app would (RFC 6238: HMAC-SHA1, 30 s
steps, 6 digits) rather than with allauth's own helper, so a test also proves the codes allauth
accepts are the standard ones. Django is imported only where needed: the screenshot script
computes codes without a configured project."""

import base64
import hashlib
import hmac
import struct
import time

PERIOD = 30
DIGITS = 6


def code_at(secret: str, when: float) -> str:
    key = base64.b32decode(secret, casefold=True)
    digest = hmac.new(
        key, struct.pack(">Q", int(when) // PERIOD), hashlib.sha1
    ).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**DIGITS:0{DIGITS}d}"


def fresh_code(secret: str, margin: float = 8.0) -> str:
    """The current code, first waiting for the next step if this one ends within `margin` s
    (allauth accepts the current step only, so a code must not expire between typing and use)."""
    left = PERIOD - time.time() % PERIOD
    if left < margin:
        time.sleep(left + 0.2)
    return code_at(secret, time.time())


def enrol(user, secret: str | None = None) -> str:
    """Give `user` an authenticator app (and recovery codes) through the real service."""
    from allauth.mfa.totp.internal.auth import generate_totp_secret

    from portal.accounts.services import enrol_totp

    secret = secret or generate_totp_secret()
    enrol_totp(user=user, secret=secret)
    return secret


def secret_of(user) -> str:
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import decrypt

    authenticator = Authenticator.objects.get(
        user_id=user.pk, type=Authenticator.Type.TOTP
    )
    return decrypt(authenticator.data["secret"])
