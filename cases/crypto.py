"""Case text at rest: one data key per case, wrapped by the current master key from settings.

Every sealed value is bound to its row and field (the AES-GCM additional data), so ciphertext
copied onto another case, message or field fails to open instead of showing the wrong words.
"""

from django.conf import settings

from portal.lib.crypto import CryptoError, new_key, open_sealed, seal


class KeyDestroyed(Exception):
    """The case was withdrawn: its data key is gone and its words can never be read again."""


def _master_key(version: int) -> bytes:
    try:
        return settings.CASE_MASTER_KEYS[version]
    except KeyError:
        raise CryptoError(f"master key version {version} is not configured") from None


def _wrap_context(case) -> bytes:
    return f"steady:case-data-key:{case.public_id}".encode()


def issue_data_key(case) -> None:
    """Give a new (unsaved) case its own data key, wrapped by the current master key."""
    key = new_key()
    version = settings.CASE_MASTER_KEY_VERSION
    case.wrapped_key = seal(_master_key(version), key, context=_wrap_context(case))
    case.key_version = version
    case._data_key = key


def data_key(case) -> bytes:
    cached = getattr(case, "_data_key", None)
    if cached is not None:
        return cached
    if case.wrapped_key is None:
        raise KeyDestroyed
    key = open_sealed(
        _master_key(case.key_version), case.wrapped_key, context=_wrap_context(case)
    )
    case._data_key = key
    return key


def rewrap(case, version: int) -> None:
    """Wrap the case's data key under master key `version` (fields set on `case`, not saved)."""
    key = data_key(case)
    case.wrapped_key = seal(_master_key(version), key, context=_wrap_context(case))
    case.key_version = version


def _context(case, field: str, row_id) -> bytes:
    return f"steady:{field}:{case.public_id}:{row_id}".encode()


def seal_text(case, field: str, row_id, text: str) -> bytes:
    return seal(data_key(case), text.encode(), context=_context(case, field, row_id))


def open_text(case, field: str, row_id, sealed: bytes | None) -> str:
    if sealed is None:
        raise KeyDestroyed
    return open_sealed(
        data_key(case), sealed, context=_context(case, field, row_id)
    ).decode()


def seal_bytes(case, field: str, row_id, data: bytes) -> bytes:
    return seal(data_key(case), data, context=_context(case, field, row_id))


def open_bytes(case, field: str, row_id, sealed: bytes) -> bytes:
    return open_sealed(data_key(case), sealed, context=_context(case, field, row_id))
