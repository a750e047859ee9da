"""The append-only transparency log of published revisions (RFC 6962 Merkle tree)."""

import base64

from django.conf import settings
from django.utils import timezone

from portal.lib import merkle
from portal.lib.checkpoint import Checkpoint, format_checkpoint
from portal.lib.errors import Refused
from portal.notices import signing
from portal.notices.models import LogCheckpoint, LogEntry, NoticeRevision


def append_to_log(*, revision: NoticeRevision, data: bytes) -> LogEntry:
    """Append a published revision and sign the new head. Runs inside `approve_revision`.

    The caller holds the publication lock, so indices are dense and never handed out twice.
    """
    hashes = leaf_hashes()
    entry = LogEntry.objects.create(
        index=len(hashes), revision=revision, leaf_hash=merkle.leaf_hash(data)
    )
    hashes.append(bytes(entry.leaf_hash))
    root = merkle.root(hashes)
    now = timezone.now().replace(microsecond=0)
    checkpoint = Checkpoint(settings.NOTICE_LOG_ORIGIN, len(hashes), root, now)
    LogCheckpoint.objects.create(
        tree_size=len(hashes),
        root_hash=root,
        text=format_checkpoint(checkpoint),
        signature=signing.sign_log_checkpoint(checkpoint),
        created_at=now,
    )
    return entry


def leaf_hashes(limit: int | None = None) -> list[bytes]:
    rows = LogEntry.objects.order_by("index").values_list("leaf_hash", flat=True)
    if limit is not None:
        rows = rows[:limit]
    return [bytes(h) for h in rows]


def latest_checkpoint() -> LogCheckpoint | None:
    return LogCheckpoint.objects.order_by("-tree_size").first()


def _check_size(tree_size: int, current: int, name: str) -> None:
    if not 1 <= tree_size <= current:
        raise Refused(f"{name} must be between 1 and the log's size, {current}.")


def inclusion(*, revision: NoticeRevision, tree_size: int | None = None) -> dict:
    """The audit path proving `revision` is in the log of `tree_size` entries."""
    entry = LogEntry.objects.filter(revision=revision).first()
    if entry is None:
        raise Refused("This revision is not in the log.")
    hashes = leaf_hashes()
    tree_size = len(hashes) if tree_size is None else tree_size
    _check_size(tree_size, len(hashes), "tree_size")
    if entry.index >= tree_size:
        raise Refused(
            f"This revision entered the log at index {entry.index}, after size {tree_size}."
        )
    proof = merkle.inclusion_proof(entry.index, hashes[:tree_size])
    return {
        "index": entry.index,
        "tree_size": tree_size,
        "leaf_hash": base64.b64encode(bytes(entry.leaf_hash)).decode(),
        "audit_path": [base64.b64encode(h).decode() for h in proof],
    }


def consistency(*, first: int, second: int) -> dict:
    """The proof that the log at size `second` only appended to the log at size `first`."""
    hashes = leaf_hashes()
    _check_size(second, len(hashes), "second")
    _check_size(first, second, "first")
    proof = merkle.consistency_proof(first, hashes[:second])
    return {
        "first": first,
        "second": second,
        "proof": [base64.b64encode(h).decode() for h in proof],
    }
