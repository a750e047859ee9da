"""Re-check the log and the signatures from the database, as `manage.py verify_log` does."""

import dataclasses

from portal.lib import merkle, sshsig
from portal.lib.checkpoint import CheckpointError, verify_checkpoint
from portal.notices import signing
from portal.notices.models import LogCheckpoint, LogEntry

_BATCH = 500


@dataclasses.dataclass
class LogReport:
    entries: int = 0
    checkpoints: int = 0
    problems: list[str] = dataclasses.field(default_factory=list)


def verify_log() -> LogReport:
    report = LogReport()
    allowed = signing.allowed_signers()
    hashes: list[bytes] = []
    entries = LogEntry.objects.select_related("revision__notice").order_by("index")
    for entry in entries.iterator(chunk_size=_BATCH):
        revision = entry.revision
        name = f"{revision.notice.reference} revision {revision.number}"
        if entry.index != len(hashes):
            report.problems.append(
                f"log index {len(hashes)} is missing (next entry has index {entry.index})"
            )
            return report
        data = bytes(revision.document)
        if merkle.leaf_hash(data) != bytes(entry.leaf_hash):
            report.problems.append(
                f"entry {entry.index} ({name}): the revision's bytes no longer match the log"
            )
        try:
            sshsig.verify(
                revision.signature,
                data,
                sshsig.NOTICE_NAMESPACE,
                allowed,
                revision.published_at,
            )
        except sshsig.SignatureError as exc:
            report.problems.append(f"{name}: the signature does not verify ({exc})")
        hashes.append(bytes(entry.leaf_hash))
    report.entries = len(hashes)

    roots = merkle.prefix_roots(hashes)
    # SECURITY: every signed checkpoint must be the root of a prefix of today's entries. That is
    # what append-only means: had an entry been changed, removed or reordered, an older
    # checkpoint's root would no longer match the prefix it signed.
    for checkpoint in LogCheckpoint.objects.order_by("tree_size"):
        report.checkpoints += 1
        size = checkpoint.tree_size
        where = f"checkpoint at size {size}"
        if size > len(hashes):
            report.problems.append(f"{where}: the log has only {len(hashes)} entries")
            continue
        try:
            parsed = verify_checkpoint(
                checkpoint.text, checkpoint.signature, allowed, checkpoint.created_at
            )
        except (CheckpointError, sshsig.SignatureError) as exc:
            report.problems.append(f"{where}: {exc}")
            continue
        if parsed.tree_size != size or parsed.root_hash != bytes(checkpoint.root_hash):
            report.problems.append(f"{where}: its signed text names another tree")
        if roots[size - 1] != parsed.root_hash:
            report.problems.append(
                f"{where}: the entries no longer hash to the root it signed"
            )
    if report.entries and report.checkpoints == 0:
        report.problems.append("the log has entries but no signed checkpoint")
    return report
