"""Canonical JSON bytes of a notice revision (docs/notice-format.md). Framework-free.

The canonical bytes are what the foundation signs, what the transparency log records and what
every delivery channel carries, so they must be reproducible from the document alone:
`json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)` in UTF-8, no trailing
newline. Documents are restricted to strings, integers, booleans, null, arrays and objects so
that these bytes are also the RFC 8785 (JCS) form other languages can reproduce.
"""

import json
from collections.abc import Mapping
from typing import Any

# RFC 8785 numbers are IEEE 754 doubles; beyond this an integer no longer survives a JCS
# implementation in another language unchanged.
_MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalError(ValueError):
    """A document cannot be, or bytes are not, canonical notice JSON. The message says where."""


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """Return the canonical bytes of `document`.

    Refuses floats, non-finite numbers, integers outside the JSON-safe range, non-string object
    keys, strings that are not valid Unicode text, and any value that is not a JSON type.
    """
    if not isinstance(document, Mapping):
        raise CanonicalError("a notice document must be a JSON object")
    try:
        _check(document, "$")
        text = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
    except RecursionError as exc:
        raise CanonicalError("the document is nested too deeply") from exc
    return text.encode("utf-8")


def parse_canonical(data: bytes) -> dict[str, Any]:
    """Parse canonical bytes back into a document, refusing bytes that are not canonical.

    "Canonical" means re-encoding the parsed document gives exactly `data` back, so two
    different byte strings can never carry the same signed document.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CanonicalError("canonical data must be bytes")
    data = bytes(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanonicalError(f"not UTF-8 at byte {exc.start}") from exc
    try:
        document = json.loads(
            text,
            object_pairs_hook=_refuse_duplicate_keys,
            parse_float=_refuse_float,
            parse_constant=_refuse_constant,
            parse_int=_parse_integer,
        )
    except json.JSONDecodeError as exc:
        raise CanonicalError(f"not JSON: {exc.msg} at character {exc.pos}") from exc
    except RecursionError as exc:
        raise CanonicalError("the JSON is nested too deeply") from exc
    if not isinstance(document, dict):
        raise CanonicalError("a notice document must be a JSON object")
    if canonical_bytes(document) != data:
        raise CanonicalError(
            "the bytes are JSON but not in canonical form (sorted keys, no spaces, "
            "UTF-8 without escapes, no trailing newline)"
        )
    return document


def _check(value: Any, path: str) -> None:
    # bool is an int subclass and is fine; test it first so the range check skips it.
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        _check_text(value, path)
        return
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise CanonicalError(f"{path}: integer {value} is outside ±(2**53 - 1)")
        return
    if isinstance(value, float):
        raise CanonicalError(
            f"{path}: floats are not allowed in notice documents; use a string or an integer"
        )
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalError(
                    f"{path}: object key {key!r} is a {type(key).__name__}, not a string"
                )
            _check_text(key, f"{path} key {key!r}")
            if any(ord(char) > 0xFFFF for char in key):
                # RFC 8785 sorts keys by UTF-16 code units, Python by code points; they only
                # disagree for characters outside the Basic Multilingual Plane.
                raise CanonicalError(
                    f"{path}: object key {key!r} has a character outside the Basic "
                    "Multilingual Plane"
                )
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    raise CanonicalError(f"{path}: a {type(value).__name__} is not a JSON value")


def _check_text(value: str, path: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalError(
            f"{path}: the string holds a lone surrogate at position {exc.start}"
        ) from exc


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise CanonicalError(f"object key {key!r} appears twice")
        result[key] = value
    return result


def _parse_integer(text: str) -> int:
    # Checking the length first keeps a megabyte of digits from reaching int().
    if len(text.lstrip("-")) > 16:
        raise CanonicalError(f"integer {text[:20]}... is outside ±(2**53 - 1)")
    return int(text)


def _refuse_float(text: str) -> None:
    raise CanonicalError(f"number {text} is not an integer; floats are not allowed")


def _refuse_constant(text: str) -> None:
    raise CanonicalError(f"{text} is not a JSON value")
