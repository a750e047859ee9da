"""Signatures on git commits and tags, read without running gpg or ssh-keygen.

SSH signatures (the sshsig format git writes with gpg.format=ssh) are verified here with
`cryptography` over the payload git signed, in the namespace "git". OpenPGP signatures are only
read for their issuer: verifying them needs the signer's OpenPGP key, which the notice does not
carry, so they are reported as "not verified". Nothing here runs a program.
"""

import base64
import re
from dataclasses import dataclass

from portal.lib import sshsig

SSH_BEGIN = b"-----BEGIN SSH SIGNATURE-----"
SSH_END = b"-----END SSH SIGNATURE-----"
PGP_BEGIN = (b"-----BEGIN PGP SIGNATURE-----", b"-----BEGIN PGP MESSAGE-----")
X509_BEGIN = b"-----BEGIN SIGNED MESSAGE-----"
SIGNATURE_STARTS = (SSH_BEGIN, *PGP_BEGIN, X509_BEGIN)
GIT_NAMESPACE = b"git"
SIGNATURE_HEADERS = (b"gpgsig", b"gpgsig-sha256")

UNSIGNED = "unsigned"
SSH_VERIFIED = "ssh-verified"
SSH_INVALID = "ssh-invalid"
OPENPGP = "openpgp-unverified"
X509 = "x509-unverified"
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class SignatureInfo:
    """What a signature says and whether it holds.

    state: unsigned, ssh-verified, ssh-invalid, openpgp-unverified, x509-unverified, unreadable.
    fingerprint: "SHA256:..." for SSH keys, upper-case hex for an OpenPGP issuer fingerprint.
    """

    state: str
    fingerprint: str | None = None
    key_id: str | None = None
    detail: str = ""

    @property
    def is_signed(self) -> bool:
        return self.state != UNSIGNED

    def describe(self) -> str:
        if self.state == UNSIGNED:
            return "unsigned"
        if self.state == SSH_VERIFIED:
            return f"SSH signature by {self.fingerprint}, verified"
        if self.state == SSH_INVALID:
            who = f" claiming {self.fingerprint}" if self.fingerprint else ""
            return f"SSH signature{who} that does NOT verify ({self.detail})"
        if self.state == OPENPGP:
            who = self.fingerprint or (
                f"key id {self.key_id}" if self.key_id else "an unknown key"
            )
            return f"OpenPGP signature by {who} (not verified: OpenPGP)"
        if self.state == X509:
            return "X.509 signature (not verified: X.509)"
        return f"signature that cannot be read ({self.detail})"


def fingerprints_match(authorised: str | None, signature: SignatureInfo) -> bool:
    """Does the signature's key equal the fingerprint a notice authorises?"""
    if not authorised or not signature.fingerprint and not signature.key_id:
        return False
    wanted = authorised.strip()
    if wanted.startswith("SHA256:"):
        return signature.fingerprint == wanted.rstrip("=")
    wanted_hex = re.sub(r"[\s:]", "", wanted).upper()
    if signature.fingerprint and signature.fingerprint == wanted_hex:
        return True
    # An OpenPGP signature may carry only the 64-bit key id, the fingerprint's last 16 digits.
    return bool(signature.key_id) and wanted_hex.endswith(signature.key_id)


def split_commit(raw: bytes, header: bytes = b"gpgsig") -> tuple[bytes, bytes | None]:
    """Split a commit object into (payload git signed, armoured signature or None).

    `header` is gpgsig in SHA-1 repositories and gpgsig-sha256 in SHA-256 ones. The payload is
    the object without any signature header, as git rebuilds it to verify.
    """
    header_end = raw.find(b"\n\n")
    headers = raw if header_end < 0 else raw[:header_end]
    rest = b"" if header_end < 0 else raw[header_end:]
    kept: list[bytes] = []
    signature: list[bytes] = []
    block: list[bytes] | None = (
        None  # where continuation lines of a signature header go
    )
    for line in headers.split(b"\n"):
        if block is not None and line.startswith(b" "):
            block.append(line[1:])
            continue
        block = None
        name, separator, value = line.partition(b" ")
        if separator and name in SIGNATURE_HEADERS:
            # Only the first signature header for this repository's hash counts, as in git.
            block = signature if name == header and not signature else []
            block.append(value)
            continue
        kept.append(line)
    payload = b"\n".join(kept) + rest
    return payload, (b"\n".join(signature) + b"\n") if signature else None


def split_tag(raw: bytes) -> tuple[bytes, bytes | None]:
    """Split a tag object into (payload, signature): the signature is the last armoured block."""
    start = None
    offset = 0
    for line in raw.splitlines(keepends=True):
        if line.startswith(SIGNATURE_STARTS):
            start = offset
        offset += len(line)
    if start is None:
        return raw, None
    return raw[:start], raw[start:]


def check_signature(payload: bytes, armoured: bytes | None) -> SignatureInfo:
    if not armoured:
        return SignatureInfo(UNSIGNED)
    if armoured.startswith(SSH_BEGIN):
        return _check_ssh(payload, armoured)
    if armoured.startswith(PGP_BEGIN):
        return _read_openpgp(armoured)
    if armoured.startswith(X509_BEGIN):
        return SignatureInfo(X509)
    return SignatureInfo(UNREADABLE, detail="unknown signature format")


def _check_ssh(payload: bytes, armoured: bytes) -> SignatureInfo:
    try:
        fingerprint = sshsig.signing_key_fingerprint(armoured)
    except sshsig.SignatureError as exc:
        return SignatureInfo(UNREADABLE, detail=f"malformed SSH signature: {exc}")
    try:
        sshsig.verify_by_embedded_key(armoured, payload, GIT_NAMESPACE.decode())
    except sshsig.SignatureError as exc:
        return SignatureInfo(SSH_INVALID, fingerprint, detail=str(exc))
    return SignatureInfo(SSH_VERIFIED, fingerprint)


def _read_openpgp(armoured: bytes) -> SignatureInfo:
    """Read the issuer of an OpenPGP signature packet (RFC 4880 section 5.2.3)."""
    lines = armoured.decode("ascii", errors="replace").splitlines()
    body: list[str] = []
    in_body = False
    for line in lines[1:]:
        if line.startswith("-----END"):
            break
        if not in_body:
            # Armour headers end at the first empty line.
            if not line.strip():
                in_body = True
            elif ":" not in line:
                in_body = True
                body.append(line)
            continue
        if line.startswith("="):
            break
        body.append(line.strip())
    try:
        packet = base64.b64decode("".join(body), validate=True)
        fingerprint, key_id = _openpgp_issuer(packet)
    except (ValueError, IndexError, base64.binascii.Error) as exc:
        return SignatureInfo(UNREADABLE, detail=f"malformed OpenPGP signature: {exc}")
    return SignatureInfo(OPENPGP, fingerprint=fingerprint, key_id=key_id)


def _openpgp_issuer(packet: bytes) -> tuple[str | None, str | None]:
    header = packet[0]
    if not header & 0x80:
        raise ValueError("not an OpenPGP packet")
    if header & 0x40:
        tag = header & 0x3F
        first = packet[1]
        if first < 192:
            pos = 2
        elif first < 224:
            pos = 3
        else:
            pos = 6
    else:
        tag = (header >> 2) & 0x0F
        pos = 1 + {0: 1, 1: 2, 2: 4}.get(header & 0x03, 0)
    if tag != 2:
        raise ValueError("not a signature packet")
    version = packet[pos]
    if version == 3:
        return None, packet[pos + 7 : pos + 15].hex().upper()
    if version not in (4, 5):
        raise ValueError(f"signature version {version}")
    pos += 4
    fingerprint = key_id = None
    for _ in range(2):  # hashed, then unhashed subpackets
        length = int.from_bytes(packet[pos : pos + 2], "big")
        area = packet[pos + 2 : pos + 2 + length]
        pos += 2 + length
        i = 0
        while i < len(area):
            first = area[i]
            if first < 192:
                size, i = first, i + 1
            elif first < 255:
                size, i = ((first - 192) << 8) + area[i + 1] + 192, i + 2
            else:
                size, i = int.from_bytes(area[i + 1 : i + 5], "big"), i + 5
            kind = area[i] & 0x7F
            data = area[i + 1 : i + size]
            if kind == 33 and data:
                fingerprint = data[1:].hex().upper()
            elif kind == 16:
                key_id = data.hex().upper()
            i += size
    if fingerprint and not key_id:
        key_id = fingerprint[-16:]
    return fingerprint, key_id
