import datetime
import decimal

import pytest

from portal.lib.canonical import CanonicalError, canonical_bytes, parse_canonical

DOCUMENT = {
    "format": "steady-notice/1",
    "id": "HN-2026-0007",
    "revision": 2,
    "window": {"start": "2026-11-01", "end": None},
    "scope": ["triage", "review"],
    "stewards": [{"name": "Zoë Ødegaard", "handle": "zoe"}],
    "guidance": 'Line one\nline "two"\t\\ – ✓ 🙂',
    "active": True,
}


def test_canonical_bytes_follow_the_notice_format():
    assert (
        canonical_bytes(DOCUMENT)
        == (
            '{"active":true,"format":"steady-notice/1","guidance":"Line one\\nline \\"two\\"'
            '\\t\\\\ – ✓ 🙂","id":"HN-2026-0007","revision":2,"scope":["triage","review"],'
            '"stewards":[{"handle":"zoe","name":"Zoë Ødegaard"}],'
            '"window":{"end":null,"start":"2026-11-01"}}'
        ).encode()
    )


def test_canonical_bytes_do_not_depend_on_key_order():
    reordered = dict(reversed(list(DOCUMENT.items())))
    assert canonical_bytes(reordered) == canonical_bytes(DOCUMENT)


def test_control_characters_use_the_rfc8785_escapes():
    assert (
        canonical_bytes({"s": "\x00\x08\x0c\x1f\x7f"})
        == b'{"s":"\\u0000\\b\\f\\u001f\x7f"}'
    )


def test_parse_canonical_round_trips():
    data = canonical_bytes(DOCUMENT)
    assert parse_canonical(data) == DOCUMENT
    assert canonical_bytes(parse_canonical(data)) == data


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, r"\$\.x: floats are not allowed"),
        (1.0, "floats are not allowed"),
        (float("nan"), "floats are not allowed"),
        (decimal.Decimal("1"), "a Decimal is not a JSON value"),
        (datetime.date(2026, 1, 1), "a date is not a JSON value"),
        (b"bytes", "a bytes is not a JSON value"),
        ({"a", "b"}, "a set is not a JSON value"),
        ({1: "x"}, "key 1 is a int, not a string"),
        (
            [{"deep": [2**53]}],
            r"\$\.x\[0\]\.deep\[0\]: integer 9007199254740992 is outside",
        ),
        ("\ud800", "lone surrogate"),
        ({"\U0001f642": 1}, "outside the Basic Multilingual Plane"),
    ],
)
def test_canonical_bytes_refuse_what_json_cannot_carry_exactly(value, message):
    with pytest.raises(CanonicalError, match=message):
        canonical_bytes({"x": value})


def test_largest_safe_integers_are_allowed():
    assert canonical_bytes({"n": -(2**53 - 1), "m": 2**53 - 1}) == (
        b'{"m":9007199254740991,"n":-9007199254740991}'
    )


def test_a_top_level_array_is_not_a_document():
    with pytest.raises(CanonicalError, match="must be a JSON object"):
        canonical_bytes(["x"])
    with pytest.raises(CanonicalError, match="must be a JSON object"):
        parse_canonical(b'["x"]')


def test_deeply_nested_input_is_refused_not_crashed():
    data = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(CanonicalError, match="nested too deeply"):
        parse_canonical(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"b":1,"a":2}', "not in canonical form"),
        (b'{"a": 1}', "not in canonical form"),
        (b'{"a":1}\n', "not in canonical form"),
        (b'{"a":"\\u00e9"}', "not in canonical form"),
        (b'{"a":"\\/"}', "not in canonical form"),
        (b'{"a":-0}', "not in canonical form"),
        (b'{"a":1e2}', "floats are not allowed"),
        (b'{"a":1.0}', "floats are not allowed"),
        (b'{"a":NaN}', "NaN is not a JSON value"),
        (b'{"a":1,"a":1}', "'a' appears twice"),
        (b'{"a":' + b"9" * 5000 + b"}", "outside"),
        (b'{"a":"\\ud800"}', "lone surrogate"),
        (b'\xef\xbb\xbf{"a":1}', "not JSON"),
        (b'{"a":"\xff"}', "not UTF-8 at byte 6"),
        (b"", "not JSON"),
        (b"{", "not JSON"),
    ],
)
def test_parse_canonical_refuses_non_canonical_bytes(data, message):
    with pytest.raises(CanonicalError, match=message):
        parse_canonical(data)


def test_parse_canonical_refuses_text():
    with pytest.raises(CanonicalError, match="must be bytes"):
        parse_canonical('{"a":1}')
