"""SSH signatures (OpenSSH PROTOCOL.sshsig) for notices and log checkpoints. Framework-free.

The foundation signs with Ed25519 keys. Anyone can check a signature with stock
`ssh-keygen -Y verify` and the allowed signers file this module writes; `verify` does the same
checks in pure Python (Ed25519, ECDSA and RSA keys) for the portal and its tests.

Foundation keys come from the environment variable NOTICE_SIGNING_KEYS, e.g.
`2026-01-01:<base64 seed>,2025-01-01..2026-03-01:<base64 seed>`: each entry is a validity
(`START` or `START..END`, dates or RFC 3339 UTC times) and a 32-byte Ed25519 seed. The first
entry signs; the others are only published so older signatures keep verifying.
"""

import base64
import binascii
import hashlib
import secrets
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

NOTICE_NAMESPACE = "steady-notice"
CHECKPOINT_NAMESPACE = "steady-checkpoint"
FOUNDATION_NAMESPACES = (NOTICE_NAMESPACE, CHECKPOINT_NAMESPACE)

_MAGIC = b"SSHSIG"
_VERSION = 1
_ARMOUR_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_ARMOUR_END = "-----END SSH SIGNATURE-----"
_ARMOUR_WIDTH = 70  # what ssh-keygen writes
_HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
_SEED_BYTES = 32
_ECDSA_CURVES = {
    "ecdsa-sha2-nistp256": hashes.SHA256,
    "ecdsa-sha2-nistp384": hashes.SHA384,
    "ecdsa-sha2-nistp521": hashes.SHA512,
}
_RSA_SIGNATURES = {"rsa-sha2-256": hashes.SHA256, "rsa-sha2-512": hashes.SHA512}
# Characters that mean something in an allowed_signers principals field (pattern list).
_PRINCIPAL_SPECIALS = set(',*?!"#') | {" ", "\t", "\n", "\r"}

PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class SignatureError(Exception):
    """A signature did not verify. The message says which check failed."""


class SigningKeyError(ValueError):
    """NOTICE_SIGNING_KEYS (or an allowed signers file) is unusable; the message says where."""


@dataclass(frozen=True)
class AllowedSigner:
    """One line of an allowed signers file: who, which key, for what, and when.

    `valid_after` / `valid_before` are inclusive bounds, as ssh-keygen applies them; None means
    unbounded. `namespaces` None means any namespace.
    """

    principals: tuple[str, ...]
    public_key: PublicKey = field(compare=False)
    key_blob: bytes
    namespaces: tuple[str, ...] | None = None
    valid_after: datetime | None = None
    valid_before: datetime | None = None

    @property
    def fingerprint(self) -> str:
        return _fingerprint_of_blob(self.key_blob)

    def is_valid_at(self, at: datetime) -> bool:
        if self.valid_after is not None and at < self.valid_after:
            return False
        return self.valid_before is None or at <= self.valid_before


@dataclass(frozen=True)
class FoundationKey:
    """One configured foundation key with its validity period (UTC, inclusive bounds)."""

    private_key: Ed25519PrivateKey = field(repr=False)
    valid_after: datetime
    valid_before: datetime | None = None

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def is_valid_at(self, at: datetime) -> bool:
        if at < self.valid_after:
            return False
        return self.valid_before is None or at <= self.valid_before

    def allowed_signer(self, identity: str) -> AllowedSigner:
        return AllowedSigner(
            principals=(identity,),
            public_key=self.public_key,
            key_blob=_key_blob(self.public_key),
            namespaces=FOUNDATION_NAMESPACES,
            valid_after=self.valid_after,
            valid_before=self.valid_before,
        )


# --- keys -------------------------------------------------------------------------------------


def public_key_line(public_key: PublicKey) -> str:
    """The key as OpenSSH writes it, without a comment: `ssh-ed25519 AAAA...`."""
    return public_key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode("ascii")


def fingerprint(public_key: PublicKey) -> str:
    """`SHA256:...` exactly as `ssh-keygen -l` prints it."""
    return _fingerprint_of_blob(_key_blob(public_key))


def parse_signing_keys(text: str) -> list[FoundationKey]:
    """Parse NOTICE_SIGNING_KEYS. The first key is the current signing key.

    Refuses an empty value, an entry without `VALIDITY:SEED`, an unreadable date, an end not
    after its start, a seed that is not base64 of 32 bytes, and the same key twice.
    """
    keys: list[FoundationKey] = []
    seen: set[bytes] = set()
    entries = [part.strip() for part in (text or "").split(",") if part.strip()]
    if not entries:
        raise SigningKeyError("no notice signing key is configured")
    for number, entry in enumerate(entries, start=1):
        # A seed is base64 and never contains ":", while an RFC 3339 time does.
        validity, sep, encoded = entry.rpartition(":")
        if not sep or not validity.strip():
            raise SigningKeyError(
                f"signing key {number} must be written VALIDITY:BASE64SEED, "
                "e.g. 2026-01-01:q83v... or 2025-01-01..2026-03-01:q83v..."
            )
        start_text, dots, end_text = validity.strip().partition("..")
        valid_after = _parse_config_time(start_text, number)
        valid_before = _parse_config_time(end_text, number) if dots else None
        if valid_before is not None and valid_before <= valid_after:
            raise SigningKeyError(
                f"signing key {number} ends ({end_text.strip()}) before it starts "
                f"({start_text.strip()})"
            )
        seed = _decode_seed(encoded.strip(), number)
        private_key = Ed25519PrivateKey.from_private_bytes(seed)
        blob = _key_blob(private_key.public_key())
        if blob in seen:
            raise SigningKeyError(f"signing key {number} is listed twice")
        seen.add(blob)
        keys.append(FoundationKey(private_key, valid_after, valid_before))
    return keys


def current_signing_key(keys: Sequence[FoundationKey], at: datetime) -> FoundationKey:
    """The key to sign with at `at`: the first configured key, provided it is valid then.

    Refuses rather than sign with a key outside its validity period, since stock ssh-keygen
    would reject every such signature.
    """
    if not keys:
        raise SigningKeyError("no notice signing key is configured")
    key = keys[0]
    if not key.is_valid_at(at):
        until = f" until {key.valid_before.isoformat()}" if key.valid_before else ""
        raise SigningKeyError(
            f"the current notice signing key {key.fingerprint} is valid from "
            f"{key.valid_after.isoformat()}{until}, not at {at.astimezone(UTC).isoformat()}; "
            "put a key valid now first in NOTICE_SIGNING_KEYS"
        )
    return key


def generate_signing_key(valid_after: date | None = None) -> str:
    """A new NOTICE_SIGNING_KEYS entry, `YYYY-MM-DD:<base64 seed>`, valid from today (UTC)."""
    start = valid_after or datetime.now(UTC).date()
    seed = base64.b64encode(secrets.token_bytes(_SEED_BYTES)).decode("ascii")
    return f"{start.isoformat()}:{seed}"


def check_signer_identity(identity: str) -> None:
    """Refuse an identity that ssh-keygen would read as a pattern list or split in two."""
    if (
        not isinstance(identity, str)
        or not identity
        or any(char in _PRINCIPAL_SPECIALS for char in identity)
    ):
        raise SigningKeyError(
            f"signer identity {identity!r} must be one word without spaces, commas, quotes "
            "or pattern characters (* ? !)"
        )


def allowed_signers(identity: str, keys: Iterable[FoundationKey]) -> str:
    """The allowed signers file `ssh-keygen -Y verify -f` reads, current key first.

    Every line names `identity`, limits the key to the foundation's namespaces and carries its
    validity period in UTC.
    """
    check_signer_identity(identity)
    lines = []
    for key in keys:
        options = [f'namespaces="{",".join(FOUNDATION_NAMESPACES)}"']
        options.append(f'valid-after="{_ssh_time(key.valid_after)}"')
        if key.valid_before is not None:
            options.append(f'valid-before="{_ssh_time(key.valid_before)}"')
        lines.append(
            f"{identity} {','.join(options)} {public_key_line(key.public_key)}"
        )
    if not lines:
        raise SigningKeyError("an allowed signers file needs at least one key")
    return "\n".join(lines) + "\n"


def parse_allowed_signers(text: str) -> list[AllowedSigner]:
    """Read an allowed signers file (ssh-keygen's ALLOWED SIGNERS format).

    Understands `namespaces`, `valid-after` and `valid-before`; refuses certificate authority
    lines and unknown options rather than silently accepting more than the file allows.
    """
    signers = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            signers.append(_parse_allowed_signer_line(line))
        except (ValueError, IndexError) as exc:
            raise SigningKeyError(f"allowed signers line {number}: {exc}") from exc
    return signers


# --- signing and verifying -------------------------------------------------------------------


def sign(
    private_key: Ed25519PrivateKey,
    data: bytes,
    namespace: str,
    *,
    hash_algorithm: str = "sha512",
) -> str:
    """Sign `data` in `namespace`; returns the armoured text `ssh-keygen -Y sign` would write."""
    if not namespace:
        raise ValueError("an SSH signature needs a namespace")
    digest = _HASHES[hash_algorithm](bytes(data)).digest()
    public_blob = _key_blob(private_key.public_key())
    raw = private_key.sign(_signed_data(namespace, hash_algorithm, digest))
    blob = (
        _MAGIC
        + struct.pack(">I", _VERSION)
        + _string(public_blob)
        + _string(namespace.encode())
        + _string(b"")
        + _string(hash_algorithm.encode())
        + _string(_string(b"ssh-ed25519") + _string(raw))
    )
    return armour(blob)


def verify(
    armoured: str,
    data: bytes,
    namespace: str,
    allowed: Sequence[AllowedSigner],
    at: datetime,
) -> AllowedSigner:
    """Check an armoured SSH signature over `data` and return the allowed signer who made it.

    Refuses bad armour or encoding, a namespace other than `namespace`, a signature that does
    not match the data, a key not in `allowed`, and a key not allowed for the namespace or not
    valid at `at` (timezone-aware).
    """
    if at.tzinfo is None:
        raise ValueError("the verification time must be timezone-aware")
    public_blob = verify_by_embedded_key(armoured, data, namespace)
    matching = [signer for signer in allowed if signer.key_blob == public_blob]
    if not matching:
        raise SignatureError(
            f"the signing key {_fingerprint_of_blob(public_blob)} is not an allowed signer"
        )
    for signer in matching:
        if signer.namespaces is not None and namespace not in signer.namespaces:
            continue
        if signer.is_valid_at(at):
            return signer
    raise SignatureError(
        f"the signing key {_fingerprint_of_blob(public_blob)} is not allowed to sign "
        f"{namespace!r} at {at.astimezone(UTC).isoformat()}"
    )


def signing_key_fingerprint(armoured: str | bytes) -> str:
    """The `SHA256:` fingerprint of the key a signature names, without checking anything else."""
    public_blob, _, _, _ = _parse_blob(dearmour(armoured))
    return _fingerprint_of_blob(public_blob)


def verify_by_embedded_key(armoured: str | bytes, data: bytes, namespace: str) -> bytes:
    """Check that the signature over `data` in `namespace` was made by the key it names.

    Returns that key's blob; whether the key is trusted is the caller's question (`verify`
    asks an allowed signers list; commit scrutiny compares fingerprints with a notice).
    Raises SignatureError for bad armour, another namespace or a signature that does not match.
    """
    public_blob, signed_namespace, hash_algorithm, signature = _parse_blob(
        dearmour(armoured)
    )
    # SECURITY: the namespace is bound into the signed data, so a notice signature can never
    # pass as a checkpoint signature (or a git commit signature made with the same key).
    if signed_namespace != namespace:
        raise SignatureError(
            f"the signature is for namespace {signed_namespace!r}, not {namespace!r}"
        )
    public_key = _load_public_blob(public_blob)
    digest = _HASHES[hash_algorithm](bytes(data)).digest()
    _check_raw_signature(
        public_key, signature, _signed_data(namespace, hash_algorithm, digest)
    )
    return public_blob


def armour(blob: bytes) -> str:
    encoded = base64.b64encode(blob).decode("ascii")
    lines = [
        encoded[i : i + _ARMOUR_WIDTH] for i in range(0, len(encoded), _ARMOUR_WIDTH)
    ]
    return "\n".join([_ARMOUR_BEGIN, *lines, _ARMOUR_END]) + "\n"


def dearmour(armoured: str | bytes) -> bytes:
    if isinstance(armoured, bytes):
        try:
            armoured = armoured.decode("ascii")
        except UnicodeDecodeError as exc:
            raise SignatureError("the signature armour is not ASCII text") from exc
    lines = [line.strip() for line in armoured.strip().splitlines()]
    if len(lines) < 3 or lines[0] != _ARMOUR_BEGIN or lines[-1] != _ARMOUR_END:
        raise SignatureError(
            f"not an SSH signature: expected {_ARMOUR_BEGIN} ... {_ARMOUR_END}"
        )
    try:
        return base64.b64decode("".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("the SSH signature armour is not valid base64") from exc


# --- wire format -----------------------------------------------------------------------------


def _string(value: bytes) -> bytes:
    return struct.pack(">I", len(value)) + value


class _Reader:
    def __init__(self, data: bytes):
        self._data = data
        self._pos = 0

    def take(self, count: int) -> bytes:
        if count < 0 or self._pos + count > len(self._data):
            raise SignatureError("the SSH signature is truncated")
        chunk = self._data[self._pos : self._pos + count]
        self._pos += count
        return chunk

    def uint32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def string(self) -> bytes:
        return self.take(self.uint32())

    def text(self) -> str:
        try:
            return self.string().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SignatureError("the SSH signature holds invalid text") from exc

    def done(self) -> bool:
        return self._pos == len(self._data)


def _parse_blob(blob: bytes) -> tuple[bytes, str, str, bytes]:
    reader = _Reader(blob)
    if reader.take(len(_MAGIC)) != _MAGIC:
        raise SignatureError("not an SSH signature (missing SSHSIG preamble)")
    version = reader.uint32()
    if version != _VERSION:
        raise SignatureError(f"unsupported SSH signature version {version}")
    public_blob = reader.string()
    namespace = reader.text()
    reader.string()  # reserved, ignored as PROTOCOL.sshsig says
    hash_algorithm = reader.text()
    signature = reader.string()
    if not reader.done():
        raise SignatureError("the SSH signature has trailing bytes")
    if hash_algorithm not in _HASHES:
        raise SignatureError(f"unsupported hash algorithm {hash_algorithm!r}")
    return public_blob, namespace, hash_algorithm, signature


def _signed_data(namespace: str, hash_algorithm: str, digest: bytes) -> bytes:
    return (
        _MAGIC
        + _string(namespace.encode())
        + _string(b"")
        + _string(hash_algorithm.encode())
        + _string(digest)
    )


def _load_public_blob(blob: bytes) -> PublicKey:
    key_type = _Reader(blob).text()
    line = f"{key_type} {base64.b64encode(blob).decode('ascii')}".encode()
    try:
        key = serialization.load_ssh_public_key(line)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SignatureError(
            f"unsupported or malformed signing key ({key_type})"
        ) from exc
    if not isinstance(key, PublicKey):
        raise SignatureError(f"unsupported signing key type {key_type!r}")
    return key


def _check_raw_signature(
    public_key: PublicKey, signature: bytes, message: bytes
) -> None:
    reader = _Reader(signature)
    algorithm = reader.text()
    raw = reader.string()
    if not reader.done():
        raise SignatureError("the SSH signature has trailing bytes")
    try:
        if isinstance(public_key, Ed25519PublicKey) and algorithm == "ssh-ed25519":
            public_key.verify(raw, message)
        elif (
            isinstance(public_key, ec.EllipticCurvePublicKey)
            and algorithm in _ECDSA_CURVES
            and _ecdsa_name(public_key) == algorithm
        ):
            parts = _Reader(raw)
            r = int.from_bytes(parts.string(), "big")
            s = int.from_bytes(parts.string(), "big")
            public_key.verify(
                encode_dss_signature(r, s),
                message,
                ec.ECDSA(_ECDSA_CURVES[algorithm]()),
            )
        elif isinstance(public_key, rsa.RSAPublicKey) and algorithm in _RSA_SIGNATURES:
            # PROTOCOL.sshsig forbids the SHA-1 "ssh-rsa" signature algorithm.
            public_key.verify(
                raw, message, padding.PKCS1v15(), _RSA_SIGNATURES[algorithm]()
            )
        else:
            raise SignatureError(
                f"signature algorithm {algorithm!r} does not fit the signing key"
            )
    except InvalidSignature as exc:
        raise SignatureError("the signature does not match the data") from exc


def _ecdsa_name(public_key: ec.EllipticCurvePublicKey) -> str:
    names = {"secp256r1": "nistp256", "secp384r1": "nistp384", "secp521r1": "nistp521"}
    return f"ecdsa-sha2-{names.get(public_key.curve.name, public_key.curve.name)}"


def _key_blob(public_key: PublicKey) -> bytes:
    line = public_key_line(public_key)
    return base64.b64decode(line.split()[1])


def _fingerprint_of_blob(blob: bytes) -> str:
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii")
    return "SHA256:" + digest.rstrip("=")


# --- configuration and allowed signers text --------------------------------------------------


def _parse_config_time(text: str, number: int) -> datetime:
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        if text.endswith("Z"):
            return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    except ValueError:
        pass
    raise SigningKeyError(
        f"signing key {number} has an unreadable validity date {text!r}; write YYYY-MM-DD "
        "or YYYY-MM-DDTHH:MM:SSZ"
    )


def _decode_seed(encoded: str, number: int) -> bytes:
    try:
        padded = encoded + "=" * (-len(encoded) % 4)
        altchars = b"-_" if ("-" in encoded or "_" in encoded) else None
        seed = base64.b64decode(padded, altchars=altchars, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SigningKeyError(f"signing key {number} is not valid base64") from exc
    if len(seed) != _SEED_BYTES:
        raise SigningKeyError(
            f"signing key {number} must be a {_SEED_BYTES}-byte Ed25519 seed, not "
            f"{len(seed)} bytes"
        )
    return seed


def _ssh_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S") + "Z"


def _parse_ssh_time(text: str) -> datetime:
    utc = text.endswith("Z")
    digits = text[:-1] if utc else text
    formats = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}
    if not digits.isdigit() or len(digits) not in formats:
        raise ValueError(f"unreadable time {text!r}")
    moment = datetime.strptime(digits, formats[len(digits)])
    # Without "Z", ssh-keygen reads the time in the system time zone; so do we.
    return moment.replace(tzinfo=UTC) if utc else moment.astimezone()


def _split_options(text: str) -> list[str]:
    options, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            options.append("".join(current))
            current = []
            continue
        current.append(char)
    if quoted:
        raise ValueError("unterminated quote in options")
    options.append("".join(current))
    return options


def _next_field(line: str) -> tuple[str, str]:
    """Split off the first field, honouring double quotes as ssh-keygen does."""
    quoted = False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char in " \t" and not quoted:
            return line[:index], line[index:].lstrip()
    if quoted:
        raise ValueError("unterminated quote")
    return line, ""


def _parse_allowed_signer_line(line: str) -> AllowedSigner:
    principals_text, rest = _next_field(line)
    principals = tuple(p for p in principals_text.strip('"').split(",") if p)
    if not principals:
        raise ValueError("no principals")
    first, rest_after_first = _next_field(rest)
    options: dict[str, str] = {}
    if first and not _looks_like_key_type(first):
        for option in _split_options(first):
            name, _, value = option.partition("=")
            options[name.strip().lower()] = value.strip().strip('"')
        rest = rest_after_first
    key_type, rest = _next_field(rest)
    key_data, _comment = _next_field(rest)
    unknown = set(options) - {"namespaces", "valid-after", "valid-before"}
    if unknown:
        raise ValueError(f"unsupported option(s) {', '.join(sorted(unknown))}")
    try:
        blob = base64.b64decode(key_data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the key is not valid base64") from exc
    try:
        public_key = _load_public_blob(blob)
    except SignatureError as exc:
        raise ValueError(str(exc)) from exc
    if _Reader(blob).text() != key_type:
        raise ValueError("the key type does not match the key")
    namespaces = options.get("namespaces")
    return AllowedSigner(
        principals=principals,
        public_key=public_key,
        key_blob=blob,
        namespaces=tuple(namespaces.split(",")) if namespaces is not None else None,
        valid_after=(
            _parse_ssh_time(options["valid-after"])
            if "valid-after" in options
            else None
        ),
        valid_before=(
            _parse_ssh_time(options["valid-before"])
            if "valid-before" in options
            else None
        ),
    )


def _looks_like_key_type(word: str) -> bool:
    return word.startswith(("ssh-", "ecdsa-", "sk-", "rsa-"))
