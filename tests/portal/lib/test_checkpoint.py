import base64
import shutil
import subprocess
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portal.lib import merkle, sshsig
from portal.lib.checkpoint import (
    Checkpoint,
    CheckpointError,
    checkpoint_json,
    format_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
    verify_checkpoint,
)

ROOT = merkle.root([merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")])
WHEN = datetime(2026, 11, 20, 14, 2, 11, tzinfo=UTC)
IDENTITY = "notices@steady.example.org"


def _checkpoint(**changes) -> Checkpoint:
    fields = {
        "origin": "steady.example.org/log",
        "tree_size": 2,
        "root_hash": ROOT,
        "timestamp": WHEN,
    }
    return Checkpoint(**(fields | changes))


def _key() -> sshsig.FoundationKey:
    return sshsig.FoundationKey(Ed25519PrivateKey.generate(), WHEN - timedelta(days=9))


def test_checkpoint_text_has_origin_size_root_and_time_lines():
    text = format_checkpoint(_checkpoint())
    assert text == (
        f"steady.example.org/log\n2\n{base64.b64encode(ROOT).decode()}\n"
        "2026-11-20T14:02:11Z\n"
    )
    assert parse_checkpoint(text) == _checkpoint()


def test_checkpoint_time_is_kept_in_utc_whole_seconds():
    local = WHEN.astimezone(timezone(timedelta(hours=2))).replace(microsecond=654321)
    assert _checkpoint(timestamp=local).timestamp == WHEN
    assert parse_checkpoint(format_checkpoint(_checkpoint(timestamp=local))) == (
        _checkpoint()
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"origin": ""}, "origin must be"),
        ({"origin": "has space"}, "origin must be"),
        ({"origin": "line\nbreak"}, "origin must be"),
        ({"tree_size": -1}, "cannot be negative"),
        ({"tree_size": True}, "must be an integer"),
        ({"root_hash": ROOT[:31]}, "must be 32 bytes"),
        ({"timestamp": datetime(2026, 1, 1)}, "timezone-aware"),  # noqa: DTZ001
    ],
)
def test_a_checkpoint_refuses_bad_fields(changes, message):
    with pytest.raises(CheckpointError, match=message):
        _checkpoint(**changes)


def _replace_line(number: int, value: str) -> str:
    lines = format_checkpoint(_checkpoint()).split("\n")
    lines[number] = value
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "four lines"),
        (format_checkpoint(_checkpoint()).rstrip("\n"), "four lines"),
        (format_checkpoint(_checkpoint()) + "extra\n", "not 5"),
        (_replace_line(1, "02"), "is not a number"),
        (_replace_line(1, "-2"), "is not a number"),
        (_replace_line(1, "２"), "is not a number"),
        (_replace_line(2, "not base64!"), "not valid base64"),
        (_replace_line(2, base64.b64encode(ROOT[:16]).decode()), "32 bytes"),
        (_replace_line(3, "2026-11-20 14:02:11"), "not RFC 3339 UTC"),
        (_replace_line(3, "2026-11-20T14:02:11+00:00"), "not RFC 3339 UTC"),
        (_replace_line(3, "2026-11-2T14:02:11Z"), "not in canonical form"),
    ],
)
def test_parse_checkpoint_refuses_anything_format_would_not_write(text, message):
    with pytest.raises(CheckpointError, match=message):
        parse_checkpoint(text)


def test_signed_checkpoint_verifies_and_a_changed_size_does_not():
    key = _key()
    checkpoint = _checkpoint()
    signature = sign_checkpoint(key.private_key, checkpoint)
    allowed = [key.allowed_signer(IDENTITY)]
    text = format_checkpoint(checkpoint)
    assert verify_checkpoint(text, signature, allowed, WHEN) == checkpoint
    with pytest.raises(sshsig.SignatureError, match="does not match the data"):
        verify_checkpoint(text.replace("\n2\n", "\n3\n"), signature, allowed, WHEN)


def test_a_notice_signature_is_not_a_checkpoint_signature():
    key = _key()
    text = format_checkpoint(_checkpoint())
    notice_signature = sshsig.sign(
        key.private_key, text.encode(), sshsig.NOTICE_NAMESPACE
    )
    with pytest.raises(sshsig.SignatureError, match="namespace"):
        verify_checkpoint(text, notice_signature, [key.allowed_signer(IDENTITY)], WHEN)


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_ssh_keygen_verifies_a_checkpoint_in_its_namespace(tmp_path):
    key = _key()
    checkpoint = _checkpoint()
    (tmp_path / "allowed").write_text(sshsig.allowed_signers(IDENTITY, [key]))
    (tmp_path / "cp.sig").write_text(sign_checkpoint(key.private_key, checkpoint))
    for namespace, expected in (("steady-checkpoint", 0), ("steady-notice", 255)):
        result = subprocess.run(  # noqa: S603
            [
                shutil.which("ssh-keygen"),
                "-Y",
                "verify",
                "-f",
                str(tmp_path / "allowed"),
                "-I",
                IDENTITY,
                "-n",
                namespace,
                "-s",
                str(tmp_path / "cp.sig"),
            ],
            input=format_checkpoint(checkpoint).encode(),
            capture_output=True,
            check=False,
        )
        assert result.returncode == expected, result.stderr


def test_checkpoint_json_carries_the_signed_text_and_its_fields():
    key = _key()
    checkpoint = _checkpoint()
    signature = sign_checkpoint(key.private_key, checkpoint)
    body = checkpoint_json(checkpoint, signature)
    assert body == {
        "origin": "steady.example.org/log",
        "tree_size": 2,
        "root_hash": base64.b64encode(ROOT).decode(),
        "timestamp": "2026-11-20T14:02:11Z",
        "checkpoint": format_checkpoint(checkpoint),
        "signature": signature,
    }
