"""Every write to the roster. Each function is one transaction: lock, re-check, write, audit.

`vet_steward` is the one place that decides who is vetted; `vetting_problems` is the same rule
set, read-only, for showing a caseworker what is still missing.
"""

from __future__ import annotations

import datetime
import functools
import re
from dataclasses import dataclass
from zoneinfo import available_timezones

from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.accounts import roles
from portal.accounts.roles import is_caseworker
from portal.audit.services import record_event
from portal.lib.errors import Refused
from portal.lib.keys import InvalidKey, parse_public_key
from portal.lib.locks import serialize
from portal.projects.models import Ecosystem, Project
from portal.roster import screening
from portal.roster.models import (
    IdentityCheck,
    ProjectInvolvement,
    SigningKey,
    StewardProfile,
    Vouch,
)

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


# --- Input -----------------------------------------------------------------------------------


@functools.cache
def _time_zones() -> frozenset[str]:
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
    if time_zone not in _time_zones():
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


# --- Applying --------------------------------------------------------------------------------


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


# --- Identity checks and vouches -------------------------------------------------------------


@transaction.atomic
def record_identity_check(
    *,
    steward: StewardProfile,
    actor,
    method: str,
    checked_on: datetime.date,
    source_ip: str | None = None,
) -> IdentityCheck:
    """A caseworker records that they confirmed who the steward is: how and when. The evidence
    itself (documents, numbers, recordings) is never stored. Refuses non-caseworkers, unknown
    methods, dates in the future or over a year ago, and suspended stewards."""
    _require_caseworker(actor, "record identity checks")
    steward = _lock(steward)
    if method not in IdentityCheck.Method.values:
        raise Refused("Choose how the identity was checked.")
    if not isinstance(checked_on, datetime.date):
        raise Refused("Give the date of the identity check.")
    today = timezone.localdate()
    if checked_on > today:
        raise Refused("The identity check cannot be dated in the future.")
    if checked_on < today - IDENTITY_CHECK_VALID_FOR:
        raise Refused(
            "An identity check older than a year does not count; check again and record that."
        )
    if steward.status == StewardProfile.Status.SUSPENDED:
        raise Refused(f"{steward.handle} is suspended.")
    check = IdentityCheck.objects.create(
        steward=steward, method=method, checked_on=checked_on, recorded_by=actor
    )
    record_event(
        actor=actor,
        action="steward.identity_checked",
        obj=steward,
        source_ip=source_ip,
        data={"method": method, "checked_on": checked_on.isoformat()},
    )
    return check


def _voucher_problem(voucher: StewardProfile, now: datetime.datetime) -> str | None:
    """Why `voucher` cannot vouch (or count as a vouch) now, or None."""
    if voucher.status == StewardProfile.Status.SUSPENDED:
        return f"{voucher.handle} is suspended"
    if voucher.is_on_hold:
        return f"{voucher.handle} is on hold until a caseworker clears them"
    if voucher.status != StewardProfile.Status.VETTED:
        return f"{voucher.handle} is not vetted"
    if voucher.vetting_expires_at <= now:
        return f"{voucher.handle}'s vetting has expired"
    if voucher.vetted_at > now - VOUCHER_SENIORITY:
        days = VOUCHER_SENIORITY.days
        return f"{voucher.handle} has been vetted for less than {days} days"
    return None


@transaction.atomic
def _hold_for_concern(*, steward: StewardProfile, reason_code: str) -> None:
    steward = _lock(steward)
    if steward.is_on_hold:
        return
    steward.is_on_hold = True
    steward.hold_reason_code = reason_code
    steward.save(update_fields=["is_on_hold", "hold_reason_code"])
    record_event(
        actor=None,
        action="steward.held",
        obj=steward,
        data={"reason_code": reason_code},
    )


def _screen_and_hold(*, steward: StewardProfile, source: str) -> bool:
    """Screen `steward`'s identities; on a match, put them on hold. True if now held.

    The hold and the screening's alert are written in their own transaction, so they stay
    when the caller then refuses (that alert is the point of screening). A steward whose hold a
    caseworker cleared is not held again on their same identities; the screening still alerts
    the caseworkers of every matching case, and matching keeps excluding identities the case
    side has not cleared.
    """
    with transaction.atomic():
        verdict = screening.screen(
            identities=steward.identities(), source=source, subject=steward.handle
        )
        if not verdict.is_of_concern or steward.hold_cleared_at is not None:
            return False
        _hold_for_concern(
            steward=steward,
            reason_code=verdict.reason_code or screening.DEFAULT_REASON,
        )
    return True


def record_vouch(
    *,
    voucher: StewardProfile,
    vouchee: StewardProfile,
    actor,
    statement: str,
    source_ip: str | None = None,
) -> Vouch:
    """`actor` (the voucher's own account) vouches for `vouchee`.

    Refuses, writing no vouch: someone else's account, self-vouching, a duplicate, a voucher who
    is suspended, on hold, not vetted, expired or vetted for less than 90 days, a suspended
    vouchee, an empty statement, and a voucher whose identities are of concern.

    The one exception to "a refusal writes nothing": when the voucher's identities are of
    concern, the screening's alert to the caseworkers and the hold on the voucher are kept (in
    their own transaction) though the vouch is refused; that alert is the point of screening.
    A voucher whose earlier hold a caseworker cleared is not held again on the same identities;
    the screening still alerts the caseworkers.
    """
    if voucher.user_id != actor.pk:
        raise Refused("You can only vouch as yourself.")
    if voucher.pk == vouchee.pk:
        raise Refused("You cannot vouch for yourself.")
    if _screen_and_hold(steward=voucher, source=screening.VOUCH):
        raise Refused(
            "Your vouch cannot be recorded until a caseworker has reviewed your profile."
        )
    return _record_vouch(
        voucher=voucher,
        vouchee=vouchee,
        actor=actor,
        statement=statement,
        source_ip=source_ip,
    )


@transaction.atomic
def _record_vouch(*, voucher, vouchee, actor, statement, source_ip) -> Vouch:
    # Both rows locked in a fixed order so two crossing vouches cannot deadlock.
    locked = {
        p.pk: p
        for p in StewardProfile.objects.select_for_update()
        .select_related("user")
        .filter(pk__in=[voucher.pk, vouchee.pk])
        .order_by("pk")
    }
    voucher, vouchee = locked[voucher.pk], locked[vouchee.pk]
    now = timezone.now()
    if _voucher_problem(voucher, now) is not None:
        raise Refused(_voucher_refusal(voucher, now))
    if vouchee.status == StewardProfile.Status.SUSPENDED:
        raise Refused(f"{vouchee.handle} is suspended; vouches for them are not taken.")
    statement = (statement or "").strip()
    if not statement:
        raise Refused(
            "Say how you know them and why you trust them with a project: the statement is required."
        )
    if len(statement) > MAX_STATEMENT:
        raise Refused(f"Keep the statement under {MAX_STATEMENT} characters.")
    if Vouch.objects.filter(voucher=voucher, vouchee=vouchee).exists():
        raise Refused(f"You have already vouched for {vouchee.handle}.")
    vouch = Vouch.objects.create(voucher=voucher, vouchee=vouchee, statement=statement)
    record_event(
        actor=actor,
        action="steward.vouched",
        obj=vouchee,
        source_ip=source_ip,
        data={"voucher": str(voucher.public_id)},
    )
    return vouch


def _voucher_refusal(voucher: StewardProfile, now: datetime.datetime) -> str:
    if voucher.status == StewardProfile.Status.SUSPENDED:
        return "You are suspended from the roster; suspended stewards cannot vouch."
    if voucher.is_on_hold:
        return "Your profile is on hold until a caseworker has reviewed it; you cannot vouch meanwhile."
    if voucher.status != StewardProfile.Status.VETTED:
        return "Only vetted stewards can vouch, and you are not vetted yet."
    if voucher.vetting_expires_at <= now:
        return "Your vetting has expired; once you are vetted again you can vouch."
    can_from = voucher.vetted_at + VOUCHER_SENIORITY
    return (
        f"Stewards vouch only after {VOUCHER_SENIORITY.days} days of being vetted; "
        f"you can vouch from {can_from:%Y-%m-%d}."
    )


# --- Vetting ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VettingReport:
    problems: list[str]
    qualifying_vouchers: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def vetting_problems(
    *, steward: StewardProfile, actor, now: datetime.datetime | None = None
) -> VettingReport:
    """Every rule `vet_steward` applies, read-only: what still stands in the way, if `actor` were
    to approve now. `vet_steward` calls this under the row lock, so page and decision agree."""
    now = now or timezone.now()
    problems: list[str] = []
    if not is_caseworker(actor):
        problems.append("Only caseworkers approve vetting.")
    if steward.status == StewardProfile.Status.SUSPENDED:
        problems.append(
            f"{steward.handle} is suspended; a suspended steward is not vetted again."
        )
    if steward.is_on_hold:
        problems.append(
            f"{steward.handle} is on hold (an identity of concern); a caseworker must clear the hold first."
        )
    if (
        steward.status == StewardProfile.Status.VETTED
        and steward.vetting_expires_at > now + REMIND_BEFORE_EXPIRY
    ):
        problems.append(
            f"{steward.handle} is vetted until {steward.vetting_expires_at:%Y-%m-%d}; "
            f"renewal opens {REMIND_BEFORE_EXPIRY.days} days before that."
        )

    check = steward.identity_checks.order_by("-created_at", "-pk").first()
    if check is None:
        problems.append("No identity check is recorded.")
    else:
        if check.checked_on < now.date() - IDENTITY_CHECK_VALID_FOR:
            problems.append(
                "The latest identity check is more than a year old; record a new one."
            )
        if check.recorded_by_id == actor.pk:
            problems.append(
                "You recorded the identity check; a second caseworker must approve the vetting."
            )

    vouches = list(
        steward.vouches_received.select_related("voucher").order_by("created_at", "pk")
    )
    qualifying = []
    not_counted = []
    for vouch in vouches:
        problem = _voucher_problem(vouch.voucher, now)
        if problem is None:
            qualifying.append(vouch.voucher.handle)
        else:
            not_counted.append(problem)
    if len(set(qualifying)) < VOUCHES_NEEDED:
        message = (
            f"Needs vouches from {VOUCHES_NEEDED} different stewards who have been vetted for at "
            f"least {VOUCHER_SENIORITY.days} days; has {len(set(qualifying))}."
        )
        if not_counted:
            message += " Not counted: " + "; ".join(not_counted) + "."
        problems.append(message)

    # SECURITY: no vouching rings. A vouch from someone this steward vouched for recently is
    # the sockpuppet pattern (accounts lifting each other in), so it blocks vetting outright.
    voucher_ids = [vouch.voucher_id for vouch in vouches]
    ring = (
        Vouch.objects.filter(
            voucher=steward,
            vouchee_id__in=voucher_ids,
            created_at__gte=now - RING_WINDOW,
        )
        .select_related("vouchee")
        .order_by("vouchee__handle")
    )
    for vouch in ring:
        problems.append(
            f"{vouch.vouchee.handle} vouched for {steward.handle}, who vouched for them on "
            f"{vouch.created_at:%Y-%m-%d}: vouches between stewards who vouched for each other "
            f"within {RING_WINDOW.days} days are not accepted."
        )
    return VettingReport(problems=problems, qualifying_vouchers=sorted(set(qualifying)))


def vet_steward(
    *, steward: StewardProfile, actor, source_ip: str | None = None
) -> StewardProfile:
    """The one function that makes a steward vetted, for a year.

    Vetted only when all hold, re-checked under the row lock: an identity check (less than a
    year old) exists; at least two vouches from distinct stewards vetted now and for at least
    90 days; no vouch from someone this steward vouched for in the last 180 days; `actor` is a
    caseworker who did not record the latest identity check; not on hold; not suspended; not
    already vetted beyond the 30-day renewal window. Refuses listing every rule that fails.

    A renewal before expiry keeps the original `vetted_at` (vetting was continuous); vetting
    after a lapse starts it again. Either way the expiry reminder is re-armed.

    The steward's identities are screened again first: an identity recorded as of concern
    after they applied (the pressure is often noticed late) puts them on hold and refuses;
    the hold and the caseworkers' alert stay though the vetting is refused.
    """
    if is_caseworker(actor) and _screen_and_hold(
        steward=steward, source=screening.APPLICATION
    ):
        raise Refused(
            f"{steward.handle} is on hold (an identity of concern); a caseworker must clear "
            "the hold first."
        )
    return _vet_steward(steward=steward, actor=actor, source_ip=source_ip)


@transaction.atomic
def _vet_steward(*, steward: StewardProfile, actor, source_ip) -> StewardProfile:
    # SECURITY: the vouchers are locked with the steward, so a voucher suspended or put on hold
    # while this runs is either seen as such or waits for this vetting; never half of each.
    # One query in primary-key order, the same order `_record_vouch` locks in: no deadlock.
    voucher_ids = list(
        Vouch.objects.filter(vouchee_id=steward.pk).values_list("voucher_id", flat=True)
    )
    list(
        StewardProfile.objects.select_for_update()
        .filter(pk__in=[steward.pk, *voucher_ids])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    steward = _lock(steward)
    now = timezone.now()
    report = vetting_problems(steward=steward, actor=actor, now=now)
    if not report.ok:
        raise Refused(report.problems)
    continuous = steward.is_vetted and steward.vetting_expires_at > now
    if not continuous:
        steward.vetted_at = now
    steward.status = StewardProfile.Status.VETTED
    steward.vetted_by = actor
    steward.vetting_expires_at = now + VETTING_VALID_FOR
    steward.expiry_reminder_sent_at = None
    steward.save(
        update_fields=[
            "status",
            "vetted_at",
            "vetted_by",
            "vetting_expires_at",
            "expiry_reminder_sent_at",
        ]
    )
    roles.grant_role(steward.user, roles.STEWARD)
    record_event(
        actor=actor,
        action="steward.vetted",
        obj=steward,
        source_ip=source_ip,
        data={
            "vouchers": report.qualifying_vouchers,
            "expires": steward.vetting_expires_at.date().isoformat(),
            "renewal": continuous,
        },
    )
    return steward


# --- Holds and suspension --------------------------------------------------------------------


@transaction.atomic
def clear_hold(
    *, steward: StewardProfile, actor, note: str, source_ip: str | None = None
) -> StewardProfile:
    """A caseworker clears an identity-of-concern hold after looking into it. The note stays on
    the profile for other caseworkers. Refuses non-caseworkers, a profile not on hold, no note."""
    _require_caseworker(actor, "clear holds")
    note = (note or "").strip()
    if not note:
        raise Refused("Say why the hold can be cleared: the note is required.")
    if len(note) > MAX_STATEMENT:
        raise Refused(f"Keep the note under {MAX_STATEMENT} characters.")
    locked = _lock(steward)
    if not locked.is_on_hold:
        raise Refused(f"{locked.handle} is not on hold.")
    locked.is_on_hold = False
    locked.hold_reason_code = ""
    locked.hold_cleared_at = timezone.now()
    locked.hold_cleared_by = actor
    locked.hold_cleared_note = note
    locked.save(
        update_fields=[
            "is_on_hold",
            "hold_reason_code",
            "hold_cleared_at",
            "hold_cleared_by",
            "hold_cleared_note",
        ]
    )
    record_event(
        actor=actor, action="steward.hold_cleared", obj=locked, source_ip=source_ip
    )
    _sync(steward, locked)
    return locked


@transaction.atomic
def record_suspension(
    *, steward: StewardProfile, actor, reason: str, source_ip: str | None = None
) -> StewardProfile:
    """The roster half of suspending a steward: status, time, reason, audit. Call it inside the
    caller's transaction (`cases.services.stewardship.suspend_steward` ends assignments and tells
    maintainers in the same one). Refuses non-caseworkers, no reason, an already suspended steward."""
    _require_caseworker(actor, "suspend stewards")
    reason = (reason or "").strip()
    if not reason:
        raise Refused("Give the reason for the suspension.")
    if len(reason) > MAX_STATEMENT:
        raise Refused(f"Keep the reason under {MAX_STATEMENT} characters.")
    locked = _lock(steward)
    if locked.status == StewardProfile.Status.SUSPENDED:
        raise Refused(f"{locked.handle} is already suspended.")
    locked.status = StewardProfile.Status.SUSPENDED
    locked.suspended_at = timezone.now()
    locked.suspension_reason = reason
    locked.save(update_fields=["status", "suspended_at", "suspension_reason"])
    record_event(
        actor=actor, action="steward.suspended", obj=locked, source_ip=source_ip
    )
    _sync(steward, locked)
    return locked


# --- Involvement with projects ---------------------------------------------------------------


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


# --- Expiry ----------------------------------------------------------------------------------


def expiring_unreminded(now: datetime.datetime):
    return StewardProfile.objects.filter(
        status=StewardProfile.Status.VETTED,
        vetting_expires_at__gt=now,
        vetting_expires_at__lte=now + REMIND_BEFORE_EXPIRY,
        expiry_reminder_sent_at__isnull=True,
    )


def remind_expiring_vetting(*, now: datetime.datetime | None = None) -> list[int]:
    """Claim, once per vetting period, each steward whose vetting ends within 30 days, and queue
    the reminder to them and to the caseworkers. Returns the claimed steward ids.

    Each claim is a conditional update (only a row still unreminded changes), each in its own
    transaction with its mail queued on commit, so concurrent or retried runs never mail twice.
    """
    from portal.roster import notifications

    now = now or timezone.now()
    claimed = []
    for steward_id in expiring_unreminded(now).values_list("pk", flat=True):
        with transaction.atomic():
            won = StewardProfile.objects.filter(
                pk=steward_id, expiry_reminder_sent_at__isnull=True
            ).update(expiry_reminder_sent_at=now)
            if won != 1:
                continue
            steward = StewardProfile.objects.get(pk=steward_id)
            record_event(actor=None, action="steward.expiry_reminded", obj=steward)
            notifications.queue_expiry_reminder(steward_id=steward_id)
        claimed.append(steward_id)
    return claimed


__all__ = [
    "VettingReport",
    "add_signing_key",
    "apply_as_steward",
    "clear_hold",
    "declare_involvement",
    "record_identity_check",
    "record_suspension",
    "record_vouch",
    "remind_expiring_vetting",
    "vet_steward",
    "vetting_problems",
]
