"""Public signing keys as stewards paste them: OpenSSH public key lines and ASCII-armoured
OpenPGP public key blocks. Parsed, checked and fingerprinted here; nothing else trusts the text.

SSH fingerprints are what `ssh-keygen -l` prints (`SHA256:` + unpadded base64 of the SHA-256 of
the key blob). OpenPGP fingerprints are v4 fingerprints (RFC 4880 §12.2: SHA-1 over 0x99, the
two-byte length of the public-key packet body, and the body) in upper-case hex.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from portal.lib import sshsig

SSH = "ssh"
OPENPGP = "openpgp"
MIN_RSA_BITS = 2048
MAX_KEY_CHARS = 64_000

SSH_TYPES = {
    "ssh-ed25519": "Ed25519",
    "ecdsa-sha2-nistp256": "ECDSA P-256",
    "ecdsa-sha2-nistp384": "ECDSA P-384",
    "ecdsa-sha2-nistp521": "ECDSA P-521",
    "ssh-rsa": "RSA",
}

ARMOR_BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
ARMOR_END = "-----END PGP PUBLIC KEY BLOCK-----"

# OpenPGP packet tags (RFC 4880 §4.3) and public-key algorithms (§9.1, RFC 9580 §9.1).
TAG_PUBLIC_KEY = 6
TAG_SECRET_KEY = 5
TAG_SECRET_SUBKEY = 7
PGP_RSA = frozenset({1, 3})
PGP_ALGORITHMS = {
    1: "RSA",
    3: "RSA (sign only)",
    19: "ECDSA",
    22: "EdDSA",
    27: "Ed25519",
    28: "Ed448",
}
PGP_REFUSED_ALGORITHMS = {
    17: "DSA keys are obsolete",
    16: "Elgamal is for encryption, not signing",
    20: "Elgamal is for encryption, not signing",
    2: "this RSA key is for encryption only",
    18: "ECDH is for encryption, not signing",
    25: "X25519 is for encryption, not signing",
    26: "X448 is for encryption, not signing",
}


class InvalidKey(ValueError):
    """The text is not a usable public signing key. The message says what is wrong."""


@dataclass(frozen=True)
class ParsedKey:
    kind: str  # SSH or OPENPGP
    fingerprint: str
    algorithm: str  # e.g. "Ed25519", "RSA 4096"
    public_key: str  # the key as it should be stored (whitespace normalised)


def parse_public_key(text: str) -> ParsedKey:
    """Recognise and check one pasted public key. Raises `InvalidKey` saying what is wrong."""
    if not isinstance(text, str):
        raise InvalidKey("A key must be text.")
    text = text.strip().replace("\r\n", "\n")
    if not text:
        raise InvalidKey("The key is empty.")
    if len(text) > MAX_KEY_CHARS:
        raise InvalidKey("The key is too long to be a public key.")
    if "PRIVATE KEY" in text:
        # SECURITY: tell the person plainly; a pasted private key is never parsed or kept.
        raise InvalidKey(
            "This is a private key. Never share it: paste the public key instead "
            "(for SSH the .pub file, for OpenPGP `gpg --armor --export`)."
        )
    if text.startswith("-----BEGIN PGP"):
        return parse_openpgp_key(text)
    return parse_ssh_key(text)


# --- OpenSSH ---------------------------------------------------------------------------------


def parse_ssh_key(text: str) -> ParsedKey:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) != 1:
        raise InvalidKey(
            "An SSH public key is one line: type, key and an optional comment."
        )
    parts = lines[0].split(None, 2)
    if len(parts) < 2:
        raise InvalidKey(
            "This is neither an SSH public key line (such as `ssh-ed25519 AAAA… you@host`) "
            "nor an armoured OpenPGP public key block."
        )
    key_type, blob_b64 = parts[0], parts[1]
    comment = parts[2].strip() if len(parts) == 3 else ""
    if key_type not in SSH_TYPES:
        if (
            key_type.startswith("ssh-")
            or key_type.startswith("ecdsa-")
            or "@" in key_type
        ):
            raise InvalidKey(
                f"SSH key type {key_type!r} is not accepted; use ssh-ed25519, ecdsa-sha2-nistp256/384/521 "
                f"or ssh-rsa of at least {MIN_RSA_BITS} bits."
            )
        raise InvalidKey(
            "This is neither an SSH public key line (such as `ssh-ed25519 AAAA… you@host`) "
            "nor an armoured OpenPGP public key block."
        )
    try:
        blob = base64.b64decode(blob_b64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKey(
            "The SSH key's data is not valid base64; copy the whole line again."
        ) from None
    try:
        key = serialization.load_ssh_public_key(f"{key_type} {blob_b64}".encode())
    except (ValueError, TypeError):
        raise InvalidKey(
            f"The SSH key data is damaged or does not match its type {key_type}; "
            "copy the whole line again."
        ) from None
    except Exception:  # noqa: BLE001 - cryptography raises its own types for unsupported input
        raise InvalidKey(f"The SSH key of type {key_type} could not be read.") from None

    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise InvalidKey(
                f"This RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} are needed."
            )
        algorithm = f"RSA {key.key_size}"
    elif isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        algorithm = SSH_TYPES[key_type]
    else:
        raise InvalidKey(f"SSH key type {key_type} is not accepted.")

    canonical = key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    canonical_blob = base64.b64decode(canonical.split(b" ")[1])
    if canonical_blob != blob:
        # A key whose bytes differ from its canonical encoding would have two fingerprints.
        raise InvalidKey(
            "The SSH key is not in its canonical encoding; export it again with ssh-keygen."
        )
    fingerprint = sshsig.fingerprint(key)
    stored = f"{key_type} {blob_b64}" + (f" {comment}" if comment else "")
    return ParsedKey(
        kind=SSH, fingerprint=fingerprint, algorithm=algorithm, public_key=stored
    )


# --- OpenPGP ---------------------------------------------------------------------------------


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


_ARMOR_HEADER = re.compile(r"^[A-Za-z0-9-]+: ?.*$")


def _dearmor(text: str) -> bytes:
    lines = [line.strip() for line in text.strip().split("\n")]
    if lines[0] != ARMOR_BEGIN:
        raise InvalidKey(
            f"An OpenPGP public key starts with the line {ARMOR_BEGIN}; "
            "export it with `gpg --armor --export YOUR-KEY-ID`."
        )
    if ARMOR_END not in lines:
        raise InvalidKey(
            f"The OpenPGP key block has no {ARMOR_END} line; copy the whole block."
        )
    end = lines.index(ARMOR_END)
    if any(line for line in lines[end + 1 :]):
        raise InvalidKey(
            "Paste one OpenPGP key block at a time; there is text after its end line."
        )
    body = lines[1:end]
    # Armour headers ("Comment: ...") run until the first blank line.
    index = 0
    while index < len(body) and body[index] and _ARMOR_HEADER.match(body[index]):
        index += 1
    if index < len(body) and body[index] == "":
        body = body[index + 1 :]
    elif index:
        raise InvalidKey(
            "The OpenPGP key block's headers must be followed by a blank line."
        )
    body = [line for line in body if line]
    checksum = None
    if body and body[-1].startswith("="):
        checksum = body.pop()[1:]
    try:
        data = base64.b64decode("".join(body), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKey(
            "The OpenPGP key block is not valid base64; copy the whole block again."
        ) from None
    if not data:
        raise InvalidKey("The OpenPGP key block is empty.")
    if checksum is not None:
        try:
            expected = int.from_bytes(base64.b64decode(checksum, validate=True), "big")
        except (binascii.Error, ValueError):
            raise InvalidKey(
                "The OpenPGP key block's checksum line is damaged."
            ) from None
        if expected != _crc24(data):
            raise InvalidKey(
                "The OpenPGP key block's checksum does not match: part of it was changed "
                "or lost in copying."
            )
    return data


def _packets(data: bytes):
    """Yield (tag, body) for each packet; raise InvalidKey on a malformed or truncated one."""
    pos = 0
    while pos < len(data):
        header = data[pos]
        if not header & 0x80:
            raise InvalidKey("The OpenPGP data is not a sequence of packets.")
        if header & 0x40:  # new format
            tag = header & 0x3F
            if pos + 1 >= len(data):
                raise InvalidKey("The OpenPGP key is cut short.")
            first = data[pos + 1]
            if first < 192:
                length, pos = first, pos + 2
            elif first < 224:
                if pos + 2 >= len(data):
                    raise InvalidKey("The OpenPGP key is cut short.")
                length = ((first - 192) << 8) + data[pos + 2] + 192
                pos += 3
            elif first == 255:
                if pos + 6 > len(data):
                    raise InvalidKey("The OpenPGP key is cut short.")
                length = int.from_bytes(data[pos + 2 : pos + 6], "big")
                pos += 6
            else:
                raise InvalidKey(
                    "The OpenPGP key uses partial packet lengths, which keys never need."
                )
        else:  # old format
            tag = (header >> 2) & 0x0F
            size = {0: 1, 1: 2, 2: 4}.get(header & 0x03)
            if size is None:
                raise InvalidKey(
                    "The OpenPGP key has a packet of indeterminate length."
                )
            if pos + 1 + size > len(data):
                raise InvalidKey("The OpenPGP key is cut short.")
            length = int.from_bytes(data[pos + 1 : pos + 1 + size], "big")
            pos += 1 + size
        if pos + length > len(data):
            raise InvalidKey("The OpenPGP key is cut short.")
        yield tag, data[pos : pos + length]
        pos += length


def parse_openpgp_key(text: str) -> ParsedKey:
    if "-----BEGIN PGP PUBLIC KEY BLOCK-----" not in text:
        raise InvalidKey(
            "Only OpenPGP public key blocks are accepted "
            f"({ARMOR_BEGIN}); export yours with `gpg --armor --export YOUR-KEY-ID`."
        )
    data = _dearmor(text)
    packets = list(_packets(data))
    tags = [tag for tag, _ in packets]
    if TAG_SECRET_KEY in tags or TAG_SECRET_SUBKEY in tags:
        raise InvalidKey(
            "This block holds a secret key. Never share it: export the public key only."
        )
    if not packets or packets[0][0] != TAG_PUBLIC_KEY:
        raise InvalidKey("The OpenPGP block does not start with a public key.")
    if tags.count(TAG_PUBLIC_KEY) > 1:
        raise InvalidKey(
            "The OpenPGP block holds more than one key; paste one key at a time."
        )
    body = packets[0][1]
    if len(body) < 6:
        raise InvalidKey("The OpenPGP public key packet is cut short.")
    if len(body) > 0xFFFF:
        raise InvalidKey("The OpenPGP public key packet is too large to be a key.")
    version = body[0]
    if version != 4:
        raise InvalidKey(
            f"This is a version {version} OpenPGP key; only version 4 keys are accepted."
        )
    algorithm_id = body[5]
    if algorithm_id in PGP_REFUSED_ALGORITHMS:
        raise InvalidKey(
            f"This OpenPGP key cannot sign releases: {PGP_REFUSED_ALGORITHMS[algorithm_id]}."
        )
    if algorithm_id not in PGP_ALGORITHMS:
        raise InvalidKey(
            f"This OpenPGP key uses an unknown public-key algorithm ({algorithm_id})."
        )
    algorithm = PGP_ALGORITHMS[algorithm_id]
    if algorithm_id in PGP_RSA:
        if len(body) < 8:
            raise InvalidKey("The OpenPGP public key packet is cut short.")
        bits = int.from_bytes(body[6:8], "big")
        if bits < MIN_RSA_BITS:
            raise InvalidKey(
                f"This RSA key has {bits} bits; at least {MIN_RSA_BITS} are needed."
            )
        if len(body) < 8 + (bits + 7) // 8:
            raise InvalidKey("The OpenPGP public key packet is cut short.")
        algorithm = f"RSA {bits}"
    digest = hashlib.sha1(  # noqa: S324 - SHA-1 is what defines a v4 fingerprint
        b"\x99" + len(body).to_bytes(2, "big") + body
    ).hexdigest()
    return ParsedKey(
        kind=OPENPGP,
        fingerprint=digest.upper(),
        algorithm=f"OpenPGP {algorithm}",
        public_key=text.strip() + "\n",
    )


def split_keys(text: str) -> list[str]:
    """Split a pasted text into keys: each armoured OpenPGP block whole, every other non-empty
    line on its own (one SSH public key per line)."""
    keys: list[str] = []
    block: list[str] | None = None
    for line in (text or "").replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if block is not None:
            block.append(stripped)
            if stripped.startswith("-----END PGP"):
                keys.append("\n".join(block))
                block = None
        elif stripped.startswith("-----BEGIN PGP"):
            block = [stripped]
        elif stripped:
            keys.append(stripped)
    if block is not None:
        # An unterminated block is still one key: the parser explains what is missing.
        keys.append("\n".join(block))
    return keys
