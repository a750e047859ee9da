from django.db import transaction

from cases import crypto, screening
from cases.models import Case, ConcernAlert, ConcernClearance, IdentityOfConcern
from cases.services._common import lock
from portal.accounts.roles import is_caseworker
from portal.audit.services import record_event
from portal.lib.errors import Refused

WORK = "cases.work_case"


@transaction.atomic
def record_identity_of_concern(
    *,
    case: Case,
    actor,
    identity: str,
    kind: str = IdentityOfConcern.Kind.PRESSURE,
    source_ip: str | None = None,
) -> IdentityOfConcern:
    """Record on `case` an account seen pressuring its maintainer (or behaving worryingly).

    The case's caseworkers only. The identity is normalised (`github:name`, `email:addr`).
    When the same identity is already recorded on other cases, the caseworkers of those cases
    and of this one are alerted, each without learning anything of the other case; when it
    belongs to a steward on the roster, this case is alerted and that steward's unfinished
    assignments are blocked until a caseworker clears the identity. Mail goes after commit.
    """
    case = lock(case)
    if not actor.has_perm(WORK, case):
        raise Refused("Only the case's caseworkers can record identities of concern.")
    try:
        identity = screening.normalise_identity(identity)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    if kind not in IdentityOfConcern.Kind.values:
        raise Refused("Choose what kind of behaviour this identity was involved in.")
    key = screening.digest(identity)
    if IdentityOfConcern.objects.filter(case=case, identity_digest=key).exists():
        raise Refused(f"{identity} is already recorded on this case.")
    concern = IdentityOfConcern(
        case=case, identity_digest=key, kind=kind, recorded_by=actor
    )
    concern.identity_sealed = crypto.seal_text(
        case, "identity-of-concern", concern.public_id, identity
    )
    concern.save()
    elsewhere = list(
        IdentityOfConcern.objects.filter(identity_digest=key)
        .exclude(case=case)
        .select_related("case")
    )
    for other in elsewhere:
        screening.alert_case(concern=other, source=ConcernAlert.Source.CASE, subject="")
    if elsewhere:
        screening.alert_case(
            concern=concern, source=ConcernAlert.Source.CASE, subject=""
        )
    _block_stewards_with(concern, identity)
    record_event(
        actor=actor,
        action="identity_of_concern.recorded",
        obj=case,
        source_ip=source_ip,
        data={"concern": str(concern.public_id), "kind": kind},
    )
    return concern


def _block_stewards_with(concern: IdentityOfConcern, identity: str) -> None:
    """Alert the case about stewards holding the identity and block their open assignments."""
    from cases.services.assignments import block_assignments_of

    for steward in _stewards_with_identity(identity):
        screening.alert_case(
            concern=concern, source=ConcernAlert.Source.ROSTER, subject=steward.handle
        )
        block_assignments_of(steward=steward)


def _stewards_with_identity(identity: str) -> list:
    from portal.roster.models import StewardProfile

    # SECURITY: compared here rather than in a WHERE clause, so the identity never travels to
    # the database in the clear (where statement logs could keep it). Recording an identity
    # is rare; one pass over the roster's identity columns is cheap.
    rows = StewardProfile.objects.select_related("user").only(
        "pk", "handle", "forge_accounts", "is_on_hold", "user__email"
    )
    return [s for s in rows.iterator(chunk_size=2000) if identity in s.identities()]


@transaction.atomic
def clear_identity_concern(
    *, alert: ConcernAlert, actor, note: str, source_ip: str | None = None
) -> ConcernClearance:
    """A caseworker of the alerted case clears the identity: the concerns recorded so far no
    longer exclude or block a steward holding it (a concern recorded later does again).
    Unblocks that steward's assignments that have nothing else of concern. Needs a note."""
    case = lock(alert.case)
    if not actor.has_perm(WORK, case):
        raise Refused("Only the case's caseworkers can clear this identity.")
    concern = alert.concern
    concern.case = case
    identity = screening.identity_of(concern)
    if identity is None:
        raise Refused("The case was withdrawn; its identities can no longer be read.")
    return clear_identities(
        identities=[identity],
        actor=actor,
        note=note,
        subject=alert.subject,
        source_ip=source_ip,
    )[0]


@transaction.atomic
def clear_identities(
    *,
    identities: list[str],
    actor,
    note: str,
    subject: str = "",
    source_ip: str | None = None,
) -> list[ConcernClearance]:
    """Clear identities of concern for the roster and for assignments (caseworkers only, with a
    note). The roster's own hold on a steward is cleared by the roster; this clears the
    identities themselves, so matching and proposals stop excluding the steward for them."""
    from cases.services.assignments import unblock_assignments_for

    if not is_caseworker(actor):
        raise Refused("Only caseworkers can clear an identity of concern.")
    note = note.strip()
    if not note:
        raise Refused("Say why the identity can be cleared.")
    try:
        normalised = sorted({screening.normalise_identity(i) for i in identities})
    except ValueError as exc:
        raise Refused(str(exc)) from None
    cleared = []
    for identity in normalised:
        clearance = ConcernClearance.objects.create(
            identity_digest=screening.digest(identity),
            subject=subject[:200],
            note=note[:500],
            cleared_by=actor,
        )
        record_event(
            actor=actor,
            action="identity_of_concern.cleared",
            obj=clearance,
            source_ip=source_ip,
            data={"subject": subject[:200]},
        )
        cleared.append(clearance)
    unblock_assignments_for(identities=normalised, actor=actor)
    return cleared
