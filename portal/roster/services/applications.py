"""Applying to the roster and adding keys."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from portal.audit.services import record_event
from portal.lib.errors import Refused
from portal.lib.locks import serialize
from portal.roster import screening
from portal.roster.models import SigningKey, StewardProfile
from portal.roster.services._common import (
    HANDLE_RE,
    MAX_KEYS,
    _check_profile_fields,
    _lock,
    _parse_keys,
)


@transaction.atomic
def apply_as_steward(
    *,
    user,
    handle: str,
    forge_accounts: list[str],
    ecosystems: list[str],
    languages: list[str],
    skills: list[str],
    time_zone: str,
    hours_per_week: int,
    max_assignments: int,
    statement: str,
    public_keys: list[str],
    source_ip: str | None = None,
) -> StewardProfile:
    """Create `user`'s application to the roster, with their keys parsed and fingerprinted.

    Refuses: anyone not signed in, a second application, a taken or malformed handle, unknown
    forges, ecosystems or time zones, out-of-range hours or capacity, no statement, and any key
    that does not parse (naming the key and the problem). The applicant's identities (email and
    forge accounts) are screened against identities of concern; a match creates the profile on
    hold, and the caseworkers of the matching cases are alerted by the screening itself.
    """
    if not user.is_authenticated or not user.is_active:
        raise Refused("Sign in to apply.")
    handle = (handle or "").strip().lower()
    if not HANDLE_RE.match(handle):
        raise Refused(
            "A handle is 1 to 40 lower-case letters, digits and hyphens, not starting or "
            "ending with a hyphen."
        )
    fields = _check_profile_fields(
        forge_accounts=forge_accounts,
        ecosystems=ecosystems,
        languages=languages,
        skills=skills,
        time_zone=time_zone,
        hours_per_week=hours_per_week,
        max_assignments=max_assignments,
        statement=statement,
    )
    keys = _parse_keys(public_keys)
    # Two applications racing for one handle or one user meet here, not at the constraint.
    serialize(f"roster-handle:{handle}")
    serialize(f"roster-user:{user.pk}")
    if StewardProfile.objects.filter(user=user).exists():
        raise Refused(
            "You have already applied; your profile is under “My roster profile”."
        )
    if StewardProfile.objects.filter(handle=handle).exists():
        raise Refused(f"The handle {handle!r} is taken; choose another.")

    profile = StewardProfile(user=user, handle=handle, **fields)
    verdict = screening.screen(
        identities=profile.identities(), source=screening.APPLICATION, subject=handle
    )
    if verdict.is_of_concern:
        profile.is_on_hold = True
        profile.hold_reason_code = verdict.reason_code or screening.DEFAULT_REASON
    try:
        with transaction.atomic():
            profile.save()
    except IntegrityError:
        raise Refused(f"The handle {handle!r} is taken; choose another.") from None
    SigningKey.objects.bulk_create(
        SigningKey(
            steward=profile,
            kind=key.kind,
            algorithm=key.algorithm,
            public_key=key.public_key,
            fingerprint=key.fingerprint,
        )
        for key in keys
    )
    record_event(
        actor=user,
        action="steward.applied",
        obj=profile,
        source_ip=source_ip,
        data={"on_hold": profile.is_on_hold, "keys": [k.fingerprint for k in keys]},
    )
    return profile


@transaction.atomic
def add_signing_key(
    *, steward: StewardProfile, actor, public_key: str, source_ip: str | None = None
) -> SigningKey:
    """Add a public key to one's own profile. Refuses others' profiles, suspended stewards,
    malformed keys and a key already on the profile."""
    steward = _lock(steward)
    if steward.user_id != actor.pk:
        raise Refused("You can only add keys to your own profile.")
    if steward.status == StewardProfile.Status.SUSPENDED:
        raise Refused("Your roster profile is suspended; keys cannot be added.")
    if steward.keys.count() >= MAX_KEYS:
        raise Refused(f"A profile holds at most {MAX_KEYS} keys.")
    existing = set(steward.keys.values_list("fingerprint", flat=True))
    (key,) = _parse_keys([public_key], existing=existing)
    signing_key = SigningKey.objects.create(
        steward=steward,
        kind=key.kind,
        algorithm=key.algorithm,
        public_key=key.public_key,
        fingerprint=key.fingerprint,
    )
    record_event(
        actor=actor,
        action="steward.key_added",
        obj=steward,
        source_ip=source_ip,
        data={"fingerprint": key.fingerprint},
    )
    return signing_key
