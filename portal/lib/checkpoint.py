"""Signed checkpoints of the transparency log. Framework-free.

A checkpoint commits the foundation to the log's size and root at a moment:

    <origin>\\n<tree size>\\n<base64 root hash>\\n<RFC 3339 UTC time>\\n

signed as an SSH signature in the `steady-checkpoint` namespace, so a checkpoint signature can
never be replayed as a notice signature or the other way round. Parsing is strict: a text is a
checkpoint only if formatting what was parsed gives the same text back.
"""

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portal.lib import sshsig
from portal.lib.merkle import HASH_SIZE

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_ORIGIN = re.compile(r"[\x21-\x7e]{1,255}")
_SIZE = re.compile(r"0|[1-9][0-9]{0,17}")


class CheckpointError(ValueError):
    """A checkpoint text is malformed or its signature does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    """The log's size and root at `timestamp` (UTC, whole seconds), named by `origin`."""

    origin: str
    tree_size: int
    root_hash: bytes
    timestamp: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not _ORIGIN.fullmatch(self.origin):
            raise CheckpointError(
                "the log origin must be 1-255 printable ASCII characters without spaces"
            )
        if isinstance(self.tree_size, bool) or not isinstance(self.tree_size, int):
            raise CheckpointError("the tree size must be an integer")
        if self.tree_size < 0:
            raise CheckpointError("the tree size cannot be negative")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"the root hash must be {HASH_SIZE} bytes")
        if self.timestamp.tzinfo is None:
            raise CheckpointError("the checkpoint time must be timezone-aware")
        # The text carries whole seconds in UTC; normalise so that a parsed checkpoint
        # compares equal to the one that was formatted.
        normalised = self.timestamp.astimezone(UTC).replace(microsecond=0)
        object.__setattr__(self, "timestamp", normalised)


def format_checkpoint(checkpoint: Checkpoint) -> str:
    """The exact text that is signed."""
    root_text = base64.b64encode(checkpoint.root_hash).decode("ascii")
    moment = checkpoint.timestamp.strftime(_TIME_FORMAT)
    return f"{checkpoint.origin}\n{checkpoint.tree_size}\n{root_text}\n{moment}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Read a checkpoint text, refusing anything that `format_checkpoint` would not write."""
    if not isinstance(text, str) or not text.endswith("\n"):
        raise CheckpointError("a checkpoint is four lines, each ending in a newline")
    lines = text[:-1].split("\n")
    if len(lines) != 4:
        raise CheckpointError(
            f"a checkpoint is four lines (origin, size, root, time), not {len(lines)}"
        )
    origin, size_text, root_text, time_text = lines
    if not _SIZE.fullmatch(size_text):
        raise CheckpointError(f"the tree size {size_text[:30]!r} is not a number")
    try:
        root_hash = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError("the root hash is not valid base64") from exc
    try:
        moment = datetime.strptime(time_text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise CheckpointError(
            f"the time {time_text[:40]!r} is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ)"
        ) from exc
    checkpoint = Checkpoint(origin, int(size_text), root_hash, moment)
    if format_checkpoint(checkpoint) != text:
        raise CheckpointError("the checkpoint text is not in canonical form")
    return checkpoint


def sign_checkpoint(private_key: Ed25519PrivateKey, checkpoint: Checkpoint) -> str:
    """The armoured SSH signature of the checkpoint text (namespace `steady-checkpoint`)."""
    return sshsig.sign(
        private_key,
        format_checkpoint(checkpoint).encode("ascii"),
        sshsig.CHECKPOINT_NAMESPACE,
    )


def verify_checkpoint(
    text: str,
    signature: str,
    allowed: Sequence[sshsig.AllowedSigner],
    at: datetime,
) -> Checkpoint:
    """Parse `text` and check its signature by an allowed signer valid at `at`.

    Raises CheckpointError for a malformed text and sshsig.SignatureError for a bad signature.
    """
    checkpoint = parse_checkpoint(text)
    sshsig.verify(
        signature, text.encode("ascii"), sshsig.CHECKPOINT_NAMESPACE, allowed, at
    )
    return checkpoint


def checkpoint_json(checkpoint: Checkpoint, signature: str) -> dict[str, Any]:
    """The body of GET /api/v1/log/checkpoint, as the standalone verifier reads it."""
    return {
        "origin": checkpoint.origin,
        "tree_size": checkpoint.tree_size,
        "root_hash": base64.b64encode(checkpoint.root_hash).decode("ascii"),
        "timestamp": checkpoint.timestamp.strftime(_TIME_FORMAT),
        "checkpoint": format_checkpoint(checkpoint),
        "signature": signature,
    }
