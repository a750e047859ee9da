"""What every roster service shares: the rules' numbers, input checks, locking."""

from __future__ import annotations

import datetime
import functools
import re
from zoneinfo import available_timezones

from portal.accounts.roles import is_caseworker
from portal.lib.errors import Refused
from portal.lib.keys import InvalidKey, parse_public_key
from portal.projects.models import Ecosystem
from portal.roster.models import StewardProfile

VETTING_VALID_FOR = datetime.timedelta(days=365)
REMIND_BEFORE_EXPIRY = datetime.timedelta(days=30)
VOUCHER_SENIORITY = datetime.timedelta(days=90)
RING_WINDOW = datetime.timedelta(days=180)
IDENTITY_CHECK_VALID_FOR = datetime.timedelta(days=365)
VOUCHES_NEEDED = 2

FORGES = ("github", "gitlab", "codeberg")
HANDLE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
FORGE_USER_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?$")
TAG_RE = re.compile(r"^[\w][\w .+#/-]{0,39}$")
MAX_TAGS = 30
MAX_FORGE_ACCOUNTS = 10
MAX_KEYS = 10
MAX_STATEMENT = 5000
MAX_HOURS_PER_WEEK = 80
MAX_CONCURRENT = 10


@functools.cache
def time_zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def normalise_forge_account(value: str) -> str:
    """`github:Name` -> `github:name`. Refuses unknown forges and impossible usernames."""
    text = str(value).strip().lower()
    forge, sep, name = text.partition(":")
    name = name.strip().lstrip("@")
    if not sep or forge.strip() not in FORGES:
        raise Refused(
            f"{value!r} is not a forge account: write it as github:NAME, gitlab:NAME or codeberg:NAME."
        )
    if not FORGE_USER_RE.match(name):
        raise Refused(f"{value!r} is not a valid {forge.strip()} username.")
    return f"{forge.strip()}:{name}"


def _tags(values, what: str, *, lower: bool) -> list[str]:
    cleaned: list[str] = []
    for value in values or []:
        tag = " ".join(str(value).split())
        if lower:
            tag = tag.lower()
        if not tag:
            continue
        if not TAG_RE.match(tag):
            raise Refused(
                f"{what.capitalize()} {value!r} is not accepted: up to 40 letters, digits, "
                "spaces and . + # / - each."
            )
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise Refused(f"List at most {MAX_TAGS} {what}s.")
    return cleaned


def _check_profile_fields(
    *,
    forge_accounts,
    ecosystems,
    languages,
    skills,
    time_zone: str,
    hours_per_week: int,
    max_assignments: int,
    statement: str,
) -> dict:
    accounts: list[str] = []
    for value in forge_accounts or []:
        account = normalise_forge_account(value)
        if account not in accounts:
            accounts.append(account)
    if len(accounts) > MAX_FORGE_ACCOUNTS:
        raise Refused(f"List at most {MAX_FORGE_ACCOUNTS} forge accounts.")
    known = set(Ecosystem.values)
    chosen = []
    for value in ecosystems or []:
        if value not in known:
            raise Refused(f"{value!r} is not an ecosystem the portal knows.")
        if value not in chosen:
            chosen.append(value)
    if not chosen:
        raise Refused("Choose at least one ecosystem you can help with.")
    if time_zone not in time_zone_names():
        raise Refused(
            f"{time_zone!r} is not a time zone name; use one such as Europe/Berlin or America/Chicago."
        )
    if (
        not isinstance(hours_per_week, int)
        or not 1 <= hours_per_week <= MAX_HOURS_PER_WEEK
    ):
        raise Refused(
            f"Hours per week must be a whole number from 1 to {MAX_HOURS_PER_WEEK}."
        )
    if (
        not isinstance(max_assignments, int)
        or not 1 <= max_assignments <= MAX_CONCURRENT
    ):
        raise Refused(
            f"Concurrent assignments must be a whole number from 1 to {MAX_CONCURRENT}."
        )
    statement = (statement or "").strip()
    if not statement:
        raise Refused(
            "Write a statement: who you are and why you want to help maintainers."
        )
    if len(statement) > MAX_STATEMENT:
        raise Refused(f"Keep the statement under {MAX_STATEMENT} characters.")
    return {
        "forge_accounts": accounts,
        "ecosystems": chosen,
        "languages": _tags(languages, "language", lower=False),
        "skills": _tags(skills, "skill", lower=True),
        "time_zone": time_zone,
        "hours_per_week": hours_per_week,
        "max_assignments": max_assignments,
        "statement": statement,
    }


def _parse_keys(public_keys, *, existing: set[str] | None = None):
    texts = [text for text in (public_keys or []) if text and text.strip()]
    if not texts:
        raise Refused(
            "Add at least one public signing key (SSH or OpenPGP): it is how downstream "
            "users will recognise your commits and releases."
        )
    if len(texts) > MAX_KEYS:
        raise Refused(f"Add at most {MAX_KEYS} keys at a time.")
    seen = set(existing or ())
    parsed = []
    for number, text in enumerate(texts, start=1):
        label = f"Key {number}" if len(texts) > 1 else "The key"
        try:
            key = parse_public_key(text)
        except InvalidKey as exc:
            raise Refused(f"{label}: {exc}") from None
        if key.fingerprint in seen:
            raise Refused(f"{label} ({key.fingerprint}) is already on your profile.")
        seen.add(key.fingerprint)
        parsed.append(key)
    return parsed


def _require_caseworker(actor, doing: str) -> None:
    if not is_caseworker(actor):
        raise Refused(f"Only caseworkers {doing}.")


def _lock(steward: StewardProfile) -> StewardProfile:
    return (
        StewardProfile.objects.select_for_update()
        .select_related("user")
        .get(pk=steward.pk)
    )


def _sync(target: StewardProfile, source: StewardProfile) -> None:
    """Give the caller's instance the state just written, so it never acts on stale fields."""
    target.__dict__.update(
        {
            f.attname: getattr(source, f.attname)
            for f in StewardProfile._meta.concrete_fields
        }
    )
