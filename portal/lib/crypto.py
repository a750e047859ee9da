"""Envelope encryption with AES-256-GCM. Framework-free: no Django here.

Each case has its own random data key. The data key is stored only *wrapped* (encrypted) by a
versioned master key that lives in the environment, never in the database. Destroying a case's
wrapped data key makes everything encrypted under it unreadable; database backups taken before
hold the wrapped key until the master key that wrapped it is rotated out and retired.

Wire format of every sealed value: 1 byte format version, 12 bytes nonce, ciphertext with tag.
"""

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_FORMAT = b"\x01"
_NONCE_BYTES = 12
KEY_BYTES = 32


class CryptoError(Exception):
    """Sealed data could not be opened: wrong key, wrong context, or tampered bytes."""


class MasterKeyError(ValueError):
    """The master key configuration is unusable."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, plaintext: bytes, *, context: bytes) -> bytes:
    """Encrypt and authenticate `plaintext`. `context` is bound to it (additional data), so a
    value copied to another row or field does not open there."""
    nonce = os.urandom(_NONCE_BYTES)
    return _FORMAT + nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def open_sealed(key: bytes, sealed: bytes, *, context: bytes) -> bytes:
    sealed = bytes(sealed)
    if len(sealed) < 1 + _NONCE_BYTES + 16 or sealed[:1] != _FORMAT:
        raise CryptoError("not a sealed value")
    nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, context)
    except InvalidTag as exc:
        raise CryptoError("authentication failed") from exc


def parse_master_keys(text: str) -> tuple[int, dict[int, bytes]]:
    """Parse "3:BASE64KEY,2:BASE64KEY" into (current version, {version: key}).

    The first entry is the current key, used for all new wrapping; the others are kept only so
    that `rotate_case_keys` can unwrap what they wrapped.
    """
    keys: dict[int, bytes] = {}
    current = None
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        version_text, sep, encoded = item.partition(":")
        if not sep or not version_text.strip().isdigit():
            raise MasterKeyError(
                "each master key must be written VERSION:BASE64KEY, e.g. 2:q83v..."
            )
        version = int(version_text)
        try:
            key = base64.urlsafe_b64decode(
                encoded.strip() + "=" * (-len(encoded.strip()) % 4)
            )
        except (binascii.Error, ValueError) as exc:
            raise MasterKeyError(
                f"master key version {version} is not valid base64"
            ) from exc
        if len(key) != KEY_BYTES:
            raise MasterKeyError(
                f"master key version {version} must be {KEY_BYTES} bytes, not {len(key)}"
            )
        if version in keys:
            raise MasterKeyError(f"master key version {version} is given twice")
        keys[version] = key
        current = version if current is None else current
    if current is None:
        raise MasterKeyError("no master key is configured")
    return current, keys


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode().rstrip("=")
