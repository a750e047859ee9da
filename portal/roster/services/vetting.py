"""Identity checks, vouches, vetting, holds and suspension.

`vet_steward` is the one place that decides who is vetted; `vetting_problems` is the same rule
set, read-only, for showing a caseworker what is still missing.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from portal.accounts import roles
from portal.accounts.roles import is_caseworker
from portal.audit.services import record_event
from portal.lib.errors import Refused
from portal.roster import screening
from portal.roster.models import IdentityCheck, StewardProfile, Vouch
from portal.roster.services._common import (
    IDENTITY_CHECK_VALID_FOR,
    MAX_STATEMENT,
    REMIND_BEFORE_EXPIRY,
    RING_WINDOW,
    VETTING_VALID_FOR,
    VOUCHER_SENIORITY,
    VOUCHES_NEEDED,
    _lock,
    _require_caseworker,
    _sync,
)


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
    when the caller then refuses (that alert is the point of screening).

    A steward whose roster hold a caseworker has cleared is not held by the roster again, even
    for a concern recorded after the clearance: the screening still alerts the caseworkers of
    every matching case, and matching keeps excluding a steward whose identities the case side
    has not cleared, so they cannot be assigned. Without this, a cleared steward would be put
    back on hold by their very next vouch.
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
    A voucher whose roster hold a caseworker cleared is not held again (see `_screen_and_hold`).
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
