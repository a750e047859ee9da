"""SSH signatures checked against the real OpenSSH `ssh-keygen` on this machine, both ways."""

import base64
import os
import random
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portal.lib import sshsig
from portal.lib.sshsig import (
    CHECKPOINT_NAMESPACE,
    NOTICE_NAMESPACE,
    FoundationKey,
    SignatureError,
    SigningKeyError,
)

SSH_KEYGEN = shutil.which("ssh-keygen")
pytestmark = pytest.mark.skipif(SSH_KEYGEN is None, reason="needs OpenSSH ssh-keygen")

IDENTITY = "notices@steady.example.org"
DATA = b'{"format":"steady-notice/1","id":"HN-2026-0007","revision":1}'
NOW = datetime.now(UTC)


def _key(valid_after=NOW - timedelta(days=30), valid_before=None) -> FoundationKey:
    return FoundationKey(Ed25519PrivateKey.generate(), valid_after, valid_before)


def _ssh_keygen(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [SSH_KEYGEN, *args], input=stdin, capture_output=True, timeout=30, check=False
    )


def _ssh_verify(
    tmp_path: Path,
    allowed_text: str,
    signature: str,
    data: bytes,
    *,
    namespace: str = NOTICE_NAMESPACE,
    identity: str = IDENTITY,
    verify_time: str | None = None,
) -> subprocess.CompletedProcess:
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(allowed_text)
    sig = tmp_path / "data.sig"
    sig.write_text(signature)
    args = ["-Y", "verify", "-f", str(allowed), "-I", identity, "-n", namespace]
    args += ["-s", str(sig)]
    if verify_time:
        args.append(f"-Overify-time={verify_time}")
    return _ssh_keygen(*args, stdin=data)


def _write_private_key(tmp_path: Path, private_key, name: str = "id") -> Path:
    path = tmp_path / name
    path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    os.chmod(path, 0o600)
    return path


def _ssh_sign(tmp_path: Path, key_path: Path, data: bytes, namespace: str) -> str:
    message = tmp_path / "message"
    message.write_bytes(data)
    result = _ssh_keygen(
        "-Y", "sign", "-f", str(key_path), "-n", namespace, str(message)
    )
    assert result.returncode == 0, result.stderr
    return (tmp_path / "message.sig").read_text()


# --- our signatures, stock ssh-keygen -----------------------------------------------------------


def test_ssh_keygen_accepts_our_signature(tmp_path):
    key = _key()
    signature = sshsig.sign(key.private_key, DATA, NOTICE_NAMESPACE)
    result = _ssh_verify(
        tmp_path, sshsig.allowed_signers(IDENTITY, [key]), signature, DATA
    )
    assert result.returncode == 0, result.stderr
    assert f'Good "steady-notice" signature for {IDENTITY}' in result.stdout.decode()


def test_our_signature_is_byte_identical_to_ssh_keygen_sign(tmp_path):
    # Ed25519 is deterministic, so the same key and data must give the same armoured text.
    key = _key()
    ours = sshsig.sign(key.private_key, DATA, NOTICE_NAMESPACE)
    theirs = _ssh_sign(
        tmp_path, _write_private_key(tmp_path, key.private_key), DATA, NOTICE_NAMESPACE
    )
    assert ours == theirs


@pytest.mark.parametrize("position", [0, len(DATA) // 2, len(DATA) - 1])
def test_ssh_keygen_rejects_a_flipped_byte(tmp_path, position):
    key = _key()
    signature = sshsig.sign(key.private_key, DATA, NOTICE_NAMESPACE)
    tampered = bytearray(DATA)
    tampered[position] ^= 0x01
    result = _ssh_verify(
        tmp_path, sshsig.allowed_signers(IDENTITY, [key]), signature, bytes(tampered)
    )
    assert result.returncode != 0


def test_ssh_keygen_rejects_a_notice_signature_as_a_checkpoint(tmp_path):
    key = _key()
    signature = sshsig.sign(key.private_key, DATA, NOTICE_NAMESPACE)
    result = _ssh_verify(
        tmp_path,
        sshsig.allowed_signers(IDENTITY, [key]),
        signature,
        DATA,
        namespace=CHECKPOINT_NAMESPACE,
    )
    assert result.returncode != 0


def test_ssh_keygen_rejects_a_namespace_the_file_does_not_allow(tmp_path):
    key = _key()
    signature = sshsig.sign(key.private_key, DATA, "git")
    result = _ssh_verify(
        tmp_path,
        sshsig.allowed_signers(IDENTITY, [key]),
        signature,
        DATA,
        namespace="git",
    )
    assert result.returncode != 0


def test_ssh_keygen_rejects_an_expired_key(tmp_path):
    key = _key(NOW - timedelta(days=400), NOW - timedelta(days=1))
    signature = sshsig.sign(key.private_key, DATA, NOTICE_NAMESPACE)
    result = _ssh_verify(
        tmp_path, sshsig.allowed_signers(IDENTITY, [key]), signature, DATA
    )
    assert result.returncode != 0
    assert b"expired" in result.stderr


def test_ssh_keygen_rejects_a_key_not_yet_valid(tmp_path):
    key = _key(NOW + timedelta(days=1))
    signature = sshsig.sign(key.private_key, DATA, NOTICE_NAMESPACE)
    result = _ssh_verify(
        tmp_path, sshsig.allowed_signers(IDENTITY, [key]), signature, DATA
    )
    assert result.returncode != 0


def test_ssh_keygen_accepts_a_retired_key_at_a_time_inside_its_validity(tmp_path):
    retired = _key(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    current = _key(datetime(2026, 3, 1, tzinfo=UTC))
    signature = sshsig.sign(retired.private_key, DATA, NOTICE_NAMESPACE)
    allowed = sshsig.allowed_signers(IDENTITY, [current, retired])
    assert _ssh_verify(tmp_path, allowed, signature, DATA).returncode != 0
    at_signing = _ssh_verify(
        tmp_path, allowed, signature, DATA, verify_time="20251120140211Z"
    )
    assert at_signing.returncode == 0, at_signing.stderr


def test_ssh_keygen_rejects_a_key_not_in_the_file(tmp_path):
    listed, stranger = _key(), _key()
    signature = sshsig.sign(stranger.private_key, DATA, NOTICE_NAMESPACE)
    result = _ssh_verify(
        tmp_path, sshsig.allowed_signers(IDENTITY, [listed]), signature, DATA
    )
    assert result.returncode != 0


def test_ssh_keygen_rejects_another_identity(tmp_path):
    key = _key()
    signature = sshsig.sign(key.private_key, DATA, NOTICE_NAMESPACE)
    result = _ssh_verify(
        tmp_path,
        sshsig.allowed_signers(IDENTITY, [key]),
        signature,
        DATA,
        identity="someone@example.org",
    )
    assert result.returncode != 0


def test_ssh_keygen_finds_the_identity_in_our_allowed_signers_file(tmp_path):
    old, current = _key(NOW - timedelta(days=900), NOW - timedelta(days=100)), _key()
    (tmp_path / "allowed").write_text(sshsig.allowed_signers(IDENTITY, [current, old]))
    (tmp_path / "data.sig").write_text(
        sshsig.sign(current.private_key, DATA, NOTICE_NAMESPACE)
    )
    result = _ssh_keygen(
        "-Y",
        "find-principals",
        "-f",
        str(tmp_path / "allowed"),
        "-s",
        str(tmp_path / "data.sig"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().split() == [IDENTITY]


# --- ssh-keygen signatures, our verify ------------------------------------------------------------


def _ssh_generated_key(tmp_path: Path, key_type: str, *extra: str) -> tuple[Path, str]:
    path = tmp_path / f"id_{key_type}"
    result = _ssh_keygen(
        "-q", "-t", key_type, *extra, "-N", "", "-C", "x", "-f", str(path)
    )
    assert result.returncode == 0, result.stderr
    key_type_name, key_data, _ = (tmp_path / f"id_{key_type}.pub").read_text().split()
    return path, f"{key_type_name} {key_data}"


@pytest.mark.parametrize(
    ("key_type", "extra"),
    [("ed25519", ()), ("ecdsa", ("-b", "256")), ("ecdsa", ("-b", "384")), ("rsa", ())],
)
def test_our_verify_accepts_ssh_keygen_signatures(tmp_path, key_type, extra):
    path, key_line = _ssh_generated_key(tmp_path, key_type, *extra)
    signature = _ssh_sign(tmp_path, path, DATA, NOTICE_NAMESPACE)
    allowed = sshsig.parse_allowed_signers(
        f'{IDENTITY} namespaces="steady-notice" {key_line} comment\n'
    )
    signer = sshsig.verify(signature, DATA, NOTICE_NAMESPACE, allowed, NOW)
    assert signer.principals == (IDENTITY,)
    fingerprint = _ssh_keygen("-l", "-f", f"{path}.pub").stdout.decode().split()[1]
    assert signer.fingerprint == fingerprint

    with pytest.raises(SignatureError, match="does not match the data"):
        sshsig.verify(signature, DATA + b" ", NOTICE_NAMESPACE, allowed, NOW)


def test_our_verify_reads_validity_from_an_allowed_signers_file(tmp_path):
    key = _key(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    allowed = sshsig.parse_allowed_signers(sshsig.allowed_signers(IDENTITY, [key]))
    signature = sshsig.sign(key.private_key, DATA, NOTICE_NAMESPACE)
    inside = datetime(2025, 6, 1, tzinfo=UTC)
    assert sshsig.verify(signature, DATA, NOTICE_NAMESPACE, allowed, inside)
    for outside in (
        datetime(2024, 12, 31, tzinfo=UTC),
        datetime(2026, 3, 2, tzinfo=UTC),
    ):
        with pytest.raises(SignatureError, match="not allowed to sign"):
            sshsig.verify(signature, DATA, NOTICE_NAMESPACE, allowed, outside)


# --- our verify refuses -----------------------------------------------------------------------------


@pytest.fixture
def signed():
    key = _key()
    return key, sshsig.sign(key.private_key, DATA, NOTICE_NAMESPACE)


def test_verify_returns_the_allowed_signer(signed):
    key, signature = signed
    allowed = [_key().allowed_signer("other"), key.allowed_signer(IDENTITY)]
    assert sshsig.verify(signature, DATA, NOTICE_NAMESPACE, allowed, NOW) == allowed[1]


def test_verify_refuses_a_flipped_byte(signed):
    key, signature = signed
    with pytest.raises(SignatureError, match="does not match the data"):
        sshsig.verify(
            signature,
            DATA.replace(b"0007", b"0008"),
            NOTICE_NAMESPACE,
            [key.allowed_signer(IDENTITY)],
            NOW,
        )


def test_verify_refuses_the_wrong_namespace(signed):
    key, signature = signed
    with pytest.raises(SignatureError, match="namespace 'steady-notice', not"):
        sshsig.verify(
            signature, DATA, CHECKPOINT_NAMESPACE, [key.allowed_signer(IDENTITY)], NOW
        )


def test_verify_refuses_a_namespace_the_signer_may_not_use():
    key = _key()
    signature = sshsig.sign(key.private_key, DATA, "git")
    with pytest.raises(SignatureError, match="not allowed to sign 'git'"):
        sshsig.verify(signature, DATA, "git", [key.allowed_signer(IDENTITY)], NOW)


def test_verify_refuses_a_key_not_in_the_list(signed):
    _, signature = signed
    with pytest.raises(SignatureError, match="is not an allowed signer"):
        sshsig.verify(
            signature, DATA, NOTICE_NAMESPACE, [_key().allowed_signer(IDENTITY)], NOW
        )


def test_verify_refuses_an_expired_key():
    key = _key(NOW - timedelta(days=400), NOW - timedelta(seconds=1))
    signature = sshsig.sign(key.private_key, DATA, NOTICE_NAMESPACE)
    with pytest.raises(SignatureError, match="not allowed to sign"):
        sshsig.verify(
            signature, DATA, NOTICE_NAMESPACE, [key.allowed_signer(IDENTITY)], NOW
        )


def test_verify_refuses_a_naive_time(signed):
    key, signature = signed
    with pytest.raises(ValueError, match="timezone-aware"):
        sshsig.verify(
            signature,
            DATA,
            NOTICE_NAMESPACE,
            [key.allowed_signer(IDENTITY)],
            datetime.now(),  # noqa: DTZ005
        )


def _reencode(signature: str, change) -> str:
    return sshsig.armour(change(sshsig.dearmour(signature)))


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda s: "", "not an SSH signature"),
        (lambda s: s.replace("SSH SIGNATURE", "PGP SIGNATURE"), "not an SSH signature"),
        (lambda s: s.replace("\n", "\n!", 1), "not valid base64"),
        (lambda s: _reencode(s, lambda b: b[:-5]), "truncated"),
        (lambda s: _reencode(s, lambda b: b + b"\x00"), "trailing bytes"),
        (lambda s: _reencode(s, lambda b: b"XSHSIG" + b[6:]), "SSHSIG preamble"),
        (lambda s: _reencode(s, lambda b: b[:9] + b"\x02" + b[10:]), "version 2"),
        (
            lambda s: _reencode(s, lambda b: b.replace(b"sha512", b"sha384")),
            "unsupported hash algorithm",
        ),
    ],
)
def test_verify_refuses_bad_armour_and_encoding(signed, mangle, message):
    key, signature = signed
    with pytest.raises(SignatureError, match=message):
        sshsig.verify(
            mangle(signature),
            DATA,
            NOTICE_NAMESPACE,
            [key.allowed_signer(IDENTITY)],
            NOW,
        )


def test_a_sha256_signature_verifies_both_here_and_with_ssh_keygen(tmp_path):
    key = _key()
    signature = sshsig.sign(
        key.private_key, DATA, NOTICE_NAMESPACE, hash_algorithm="sha256"
    )
    assert sshsig.verify(
        signature, DATA, NOTICE_NAMESPACE, [key.allowed_signer(IDENTITY)], NOW
    )
    result = _ssh_verify(
        tmp_path, sshsig.allowed_signers(IDENTITY, [key]), signature, DATA
    )
    assert result.returncode == 0, result.stderr


# --- keys and configuration -------------------------------------------------------------------------


def test_public_key_line_and_fingerprint_match_ssh_keygen(tmp_path):
    private_key = Ed25519PrivateKey.generate()
    path = _write_private_key(tmp_path, private_key)
    derived = _ssh_keygen("-y", "-f", str(path)).stdout.decode().split()
    assert sshsig.public_key_line(private_key.public_key()) == " ".join(derived[:2])
    (tmp_path / "id.pub").write_text(sshsig.public_key_line(private_key.public_key()))
    listed = _ssh_keygen("-l", "-f", str(tmp_path / "id.pub")).stdout.decode().split()
    assert sshsig.fingerprint(private_key.public_key()) == listed[1]


def _seed() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_parse_signing_keys_reads_current_and_retired_keys():
    current_seed, retired_seed = _seed(), _seed()
    keys = sshsig.parse_signing_keys(
        f" 2026-01-01:{current_seed} , 2025-01-01..2026-03-01T12:30:00Z:{retired_seed}"
    )
    assert [k.valid_after for k in keys] == [
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2025, 1, 1, tzinfo=UTC),
    ]
    assert [k.valid_before for k in keys] == [
        None,
        datetime(2026, 3, 1, 12, 30, tzinfo=UTC),
    ]
    expected = Ed25519PrivateKey.from_private_bytes(base64.b64decode(current_seed))
    assert keys[0].fingerprint == sshsig.fingerprint(expected.public_key())


def test_parse_signing_keys_accepts_urlsafe_unpadded_seeds():
    seed = os.urandom(32)
    text = base64.urlsafe_b64encode(seed).decode().rstrip("=")
    (key,) = sshsig.parse_signing_keys(f"2026-01-01:{text}")
    expected = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    assert key.fingerprint == sshsig.fingerprint(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no notice signing key is configured"),
        (" , ", "no notice signing key is configured"),
        ("justaseed", "must be written VALIDITY:BASE64SEED"),
        (":AAAA", "must be written VALIDITY:BASE64SEED"),
        ("2026-13-01:{seed}", "unreadable validity date '2026-13-01'"),
        ("yesterday:{seed}", "unreadable validity date"),
        ("2026-03-01..2026-01-01:{seed}", "ends \\(2026-01-01\\) before it starts"),
        ("2026-01-01:not base64!", "signing key 1 is not valid base64"),
        ("2026-01-01:{seed},2026-01-01:AAAA", "signing key 2 must be a 32-byte"),
        ("2026-01-01:{seed},2025-01-01:{seed}", "signing key 2 is listed twice"),
    ],
)
def test_parse_signing_keys_refuses_bad_configuration(text, message):
    seed = _seed()
    with pytest.raises(SigningKeyError, match=message) as caught:
        sshsig.parse_signing_keys(text.format(seed=seed))
    assert seed not in str(caught.value)


def test_generated_signing_key_parses_and_signs(tmp_path):
    entry = sshsig.generate_signing_key(date(2026, 1, 1))
    assert entry.startswith("2026-01-01:")
    (key,) = sshsig.parse_signing_keys(entry)
    assert key.valid_after == datetime(2026, 1, 1, tzinfo=UTC)
    assert sshsig.generate_signing_key() != sshsig.generate_signing_key()
    signature = sshsig.sign(key.private_key, DATA, NOTICE_NAMESPACE)
    result = _ssh_verify(
        tmp_path, sshsig.allowed_signers(IDENTITY, [key]), signature, DATA
    )
    assert result.returncode == 0, result.stderr


def test_allowed_signers_lines_carry_namespaces_and_utc_validity():
    key = _key(
        datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    )
    text = sshsig.allowed_signers(IDENTITY, [key])
    assert text == (
        f'{IDENTITY} namespaces="steady-notice,steady-checkpoint",'
        'valid-after="20250101000000Z",valid-before="20260301123000Z" '
        f"{sshsig.public_key_line(key.public_key)}\n"
    )
    (parsed,) = sshsig.parse_allowed_signers(text)
    assert parsed == key.allowed_signer(IDENTITY)


@pytest.mark.parametrize("identity", ["", "two words", "a,b", "*@example.org", '"q"'])
def test_allowed_signers_refuses_an_identity_ssh_keygen_would_misread(identity):
    with pytest.raises(SigningKeyError, match="must be one word"):
        sshsig.allowed_signers(identity, [_key()])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("me cert-authority ssh-ed25519 {key}", "unsupported option"),
        ("me ssh-ed25519 not-base64!", "not valid base64"),
        ("me ssh-rsa {key}", "key type does not match"),
        ('me valid-after="yesterday" ssh-ed25519 {key}', "unreadable time"),
    ],
)
def test_parse_allowed_signers_refuses_lines_it_cannot_honour(line, message):
    key_data = sshsig.public_key_line(_key().public_key).split()[1]
    with pytest.raises(SigningKeyError, match=f"line 2: .*{message}"):
        sshsig.parse_allowed_signers("# comment\n" + line.format(key=key_data))


@pytest.mark.parametrize(
    ("verify_time", "accepted"),
    [
        ("20250101000000Z", True),
        ("20241231235959Z", False),
        ("20260301000000Z", True),
        ("20260301000001Z", False),
    ],
)
def test_validity_bounds_are_inclusive_here_as_in_ssh_keygen(
    tmp_path, verify_time, accepted
):
    (key,) = sshsig.parse_signing_keys(
        f"2025-01-01..2026-03-01:{base64.b64encode(os.urandom(32)).decode()}"
    )
    signature = sshsig.sign(key.private_key, DATA, NOTICE_NAMESPACE)
    allowed_text = sshsig.allowed_signers(IDENTITY, [key])
    result = _ssh_verify(
        tmp_path, allowed_text, signature, DATA, verify_time=verify_time
    )
    assert (result.returncode == 0) is accepted, result.stderr
    at = datetime.strptime(verify_time, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)
    allowed = sshsig.parse_allowed_signers(allowed_text)
    if accepted:
        assert sshsig.verify(signature, DATA, NOTICE_NAMESPACE, allowed, at)
    else:
        with pytest.raises(SignatureError, match="not allowed to sign"):
            sshsig.verify(signature, DATA, NOTICE_NAMESPACE, allowed, at)


def test_mangled_signatures_only_ever_raise_signature_error(signed):
    # Seeded, so a failure reproduces: random byte changes, deletions and insertions in the
    # decoded signature must give a SignatureError, never a crash or a pass.
    key, signature = signed
    blob = sshsig.dearmour(signature)
    allowed = [key.allowed_signer(IDENTITY)]
    rnd = random.Random(6962)
    for _ in range(3000):
        mangled = bytearray(blob)
        for _ in range(rnd.randint(1, 3)):
            position = rnd.randrange(len(mangled))
            choice = rnd.random()
            if choice < 0.6:
                mangled[position] ^= rnd.randrange(1, 256)
            elif choice < 0.8:
                del mangled[position : position + rnd.randint(1, 8)]
            else:
                mangled[position:position] = rnd.randbytes(rnd.randint(1, 8))
        if bytes(mangled) == blob or _only_reserved_changed(blob, bytes(mangled)):
            continue
        with pytest.raises(SignatureError):
            sshsig.verify(
                sshsig.armour(bytes(mangled)), DATA, NOTICE_NAMESPACE, allowed, NOW
            )


def _only_reserved_changed(original: bytes, mangled: bytes) -> bool:
    # PROTOCOL.sshsig leaves the reserved field out of the signed data (verifiers ignore it),
    # so a signature with different reserved bytes is still the same valid signature.
    def without_reserved(blob: bytes) -> bytes | None:
        try:
            offset = 10
            for _ in range(2):  # public key, namespace
                offset += 4 + int.from_bytes(blob[offset : offset + 4], "big")
            reserved_length = int.from_bytes(blob[offset : offset + 4], "big")
            return blob[:offset] + blob[offset + 4 + reserved_length :]
        except (ValueError, IndexError):
            return None

    stripped = without_reserved(mangled)
    return stripped is not None and stripped == without_reserved(original)


def test_current_signing_key_is_the_first_key_while_it_is_valid():
    keys = sshsig.parse_signing_keys(
        f"2026-01-01..2027-01-01:{_seed()},2025-01-01..2026-01-01:{_seed()}"
    )
    at = datetime(2026, 6, 1, tzinfo=UTC)
    assert sshsig.current_signing_key(keys, at) is keys[0]
    for outside in (datetime(2025, 6, 1, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC)):
        with pytest.raises(SigningKeyError, match="put a key valid now first"):
            sshsig.current_signing_key(keys, outside)
    with pytest.raises(SigningKeyError, match="no notice signing key"):
        sshsig.current_signing_key([], at)


def test_check_signer_identity_accepts_an_address_like_identity():
    sshsig.check_signer_identity(IDENTITY)
    with pytest.raises(SigningKeyError, match="must be one word"):
        sshsig.check_signer_identity("notices@steady.example.org,*")
