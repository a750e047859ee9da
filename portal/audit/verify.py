"""Checking the audit trail's hash chain: was any event edited, removed or slipped in?

Each event stores the hash of the one before it (`prev_hash`) and a hash over its own fields and
that link (`hash`). Walking the rows in id order (the order `record_event` appends them in, under
its lock) and recomputing both finds the first place the trail was tampered with:

- a row whose stored `hash` is not the hash of its fields was edited in place;
- a row whose `prev_hash` is not the previous surviving row's `hash` follows a gap: rows were
  removed there, a row was slipped in, or the previous row was rewritten with a recomputed hash.

Ids alone prove nothing: PostgreSQL sequences skip numbers whenever a transaction that wrote an
event rolls back, so a hole in the ids is reported only when the chain also breaks there.

Limits of any self-contained chain: deleting the newest rows leaves a shorter chain that is still
intact, and someone who can rewrite every row after a point can recompute the whole tail. Keep
the head hash the command prints somewhere the database's writers cannot reach to catch both.
"""

from dataclasses import dataclass

from portal.audit.models import AuditEvent
from portal.audit.services import GENESIS

EDITED = "edited"
UNLINKED = "unlinked"


@dataclass(frozen=True)
class BrokenLink:
    """The first place the chain does not hold."""

    event_id: int
    problem: str  # EDITED or UNLINKED
    detail: str

    def __str__(self) -> str:
        return f"audit event #{self.event_id}: {self.detail}"


@dataclass(frozen=True)
class ChainCheck:
    checked: int
    head_id: int | None
    head_hash: str | None
    broken: BrokenLink | None


def check_chain(*, chunk_size: int = 2000) -> ChainCheck:
    """Walk the whole trail once, oldest first, streaming rows (constant memory on any size).

    Stops at the first broken link. `checked` counts the rows read up to and including it;
    `head_id` and `head_hash` name the last row that still holds.
    """
    checked = 0
    previous_id = None
    previous_hash = GENESIS
    rows = AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size)
    for event in rows:
        checked += 1
        # Own hash first: an edited prev_hash is an edit of this row, not a gap before it.
        if event.hash != event.compute_hash():
            broken = BrokenLink(
                event.pk,
                EDITED,
                "its stored hash does not match its contents: the row was edited after "
                "it was written.",
            )
            return ChainCheck(checked, previous_id, previous_hash, broken)
        if event.prev_hash != previous_hash:
            broken = _unlinked(event, previous_id)
            return ChainCheck(checked, previous_id, previous_hash, broken)
        previous_id, previous_hash = event.pk, event.hash
    return ChainCheck(
        checked, previous_id, None if previous_id is None else previous_hash, None
    )


def _unlinked(event: AuditEvent, previous_id: int | None) -> BrokenLink:
    if previous_id is None:
        detail = (
            "it is the oldest row but does not start the chain: earlier events were "
            "removed (or this row was inserted)."
        )
    elif event.pk - previous_id > 1:
        detail = (
            f"its prev_hash does not match event #{previous_id}, the row before it: "
            f"events #{previous_id + 1}–#{event.pk - 1} are missing (removed), or "
            f"#{previous_id} was rewritten."
        )
    else:
        detail = (
            f"its prev_hash does not match event #{previous_id}, the row before it: "
            f"a row was removed or inserted between them, or #{previous_id} was "
            "rewritten with a recomputed hash."
        )
    return BrokenLink(event.pk, UNLINKED, detail)


def verify_chain(*, chunk_size: int = 2000) -> BrokenLink | None:
    """The first broken link in the audit trail, or None when the whole chain holds."""
    return check_chain(chunk_size=chunk_size).broken
