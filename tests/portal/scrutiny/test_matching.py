"""Matching the components of a dependency document against handover notices."""

import json
import pathlib
import random

import pytest

from portal.scrutiny.components import Component, parse_document
from portal.scrutiny.matching import (
    RESULT_FORMAT,
    check_components,
    results_as_json,
    version_key,
)

SAMPLES = pathlib.Path(__file__).parents[3] / "fixtures" / "sboms"


def notice(
    notice_id, purls, *, status="active", revision=1, releases=(), end=None, name="p"
):
    return {
        "format": "steady-notice/1",
        "id": notice_id,
        "revision": revision,
        "kind": {"active": "initial", "ended": "closure", "withdrawn": "withdrawal"}[
            status
        ],
        "status": status,
        "published": "2026-03-01T00:00:00Z",
        "modified": "2026-03-01T00:00:00Z",
        "effective": "2026-03-01T00:00:00Z",
        "project": {
            "name": name,
            "ecosystem": "generic",
            "repository": "",
            "purls": purls,
        },
        "window": {"start": "2026-02-01", "end": end},
        "releases": [{"version": v, "date": d} for v, d in releases],
    }


TINYZIP = notice(
    "HN-2026-0007",
    ["pkg:pypi/TinyZip"],
    releases=[("1.4.1", "2026-11-18")],
    name="tinyzip",
)
XZ = notice(
    "HN-2026-0002",
    ["pkg:github/tukaani-project/xz", "pkg:deb/debian/xz-utils?arch=source"],
    status="ended",
    releases=[("5.6.0", "2026-02-24"), ("5.6.1", "2026-03-09")],
    end="2026-03-29",
    name="xz",
)
BABEL_WITHDRAWN = notice(
    "HN-2026-0003",
    ["pkg:npm/%40babel/core"],
    status="withdrawn",
    revision=2,
    name="babel",
)
COMMONS_R1 = notice(
    "HN-2026-0004", ["pkg:maven/org.apache.commons/commons-lang3"], name="cl3"
)
COMMONS_R2 = {
    **COMMONS_R1,
    "revision": 2,
    "releases": [{"version": "3.14.0", "date": "2026-04-02"}],
}
NOTICES = [TINYZIP, XZ, BABEL_WITHDRAWN, COMMONS_R2, COMMONS_R1]


def by_purl(results):
    return {r.component.purl: r for r in results}


def test_cyclonedx_sample_against_notices():
    components = parse_document((SAMPLES / "cyclonedx.json").read_bytes())
    results = check_components(components, NOTICES)
    assert [r.component for r in results] == components
    found = by_purl(results)

    [tinyzip] = found["pkg:pypi/tinyzip"].notices
    assert (tinyzip.notice_id, tinyzip.status, tinyzip.released_in_window) == (
        "HN-2026-0007",
        "active",
        True,
    )
    assert tinyzip.release_date == "2026-11-18"

    # Debian's 5.6.1-1 is the upstream release 5.6.1, made in the (now ended) window.
    [xz] = found["pkg:deb/debian/xz-utils"].notices
    assert (xz.notice_id, xz.status, xz.released_in_window) == (
        "HN-2026-0002",
        "ended",
        True,
    )
    assert (xz.window_start, xz.window_end) == ("2026-02-01", "2026-03-29")
    assert found["pkg:deb/debian/liblzma5"].notices == ()

    babel = found["pkg:npm/%40babel/core"]
    assert babel.notices == () and not babel.is_concerned
    assert [m.notice_id for m in babel.withdrawn] == ["HN-2026-0003"]

    # Revision 2 of HN-2026-0004 added the release; revision 1, passed later, does not win.
    [commons] = found["pkg:maven/org.apache.commons/commons-lang3"].notices
    assert (commons.revision, commons.released_in_window) == (2, True)

    assert not found["pkg:cargo/serde"].is_concerned
    assert not found["pkg:npm/shop"].is_concerned


def test_a_version_outside_the_window_releases_is_concerned_but_not_released():
    components = parse_document(b"pkg:pypi/tinyzip@1.4.0\n")
    [result] = check_components(components, [TINYZIP])
    assert result.is_concerned and not result.is_released_in_window
    assert result.notices[0].released_in_window is False
    assert result.notices[0].release_date is None


def test_a_component_without_a_version_cannot_say_whether_it_was_released():
    [result] = check_components(parse_document(b"pkg:pypi/tinyzip\n"), [TINYZIP])
    assert result.is_concerned
    assert result.notices[0].released_in_window is None
    assert not result.is_released_in_window


@pytest.mark.parametrize(
    ("component", "notice_purl", "concerned"),
    [
        ("pkg:pypi/tiny-zip@1", "pkg:pypi/Tiny_Zip", True),
        ("pkg:npm/%40Scope/Pkg@1", "pkg:npm/%40scope/pkg", True),
        ("pkg:github/Tukaani-Project/XZ@v5.6.1", "pkg:github/tukaani-project/xz", True),
        ("pkg:deb/debian/xz-utils@5.6.1-1?arch=amd64", "pkg:deb/debian/xz-utils", True),
        ("pkg:deb/ubuntu/xz-utils@5.6.1-1", "pkg:deb/debian/xz-utils", False),
        ("pkg:pypi/xz@5.6.1", "pkg:github/tukaani-project/xz", False),
        ("pkg:npm/core@1", "pkg:npm/%40babel/core", False),
        ("pkg:maven/org.example/core@1", "pkg:maven/org.apache/core", False),
    ],
)
def test_packages_match_by_normalised_type_namespace_and_name(
    component, notice_purl, concerned
):
    [result] = check_components(
        parse_document(component.encode(), kind="purls"),
        [notice("HN-2026-0100", [notice_purl])],
    )
    assert result.is_concerned is concerned


@pytest.mark.parametrize(
    ("purl_type", "version", "key"),
    [
        ("pypi", " 1.4.1 ", "1.4.1"),
        ("github", "v5.6.1", "5.6.1"),
        ("golang", "V1.2.0", "1.2.0"),
        ("npm", "very-1", "very-1"),
        ("deb", "5.6.1-1", "5.6.1"),
        ("deb", "1:5.6.1-2+b1", "5.6.1"),
        ("deb", "5.6.1+really5.4.5-1", "5.6.1+really5.4.5"),
        ("rpm", "5.6.1-1.fc40", "5.6.1"),
        ("pypi", "1.0-1", "1.0-1"),
    ],
)
def test_version_keys(purl_type, version, key):
    assert version_key(purl_type, version) == key


def test_debian_revert_of_a_backdoored_release_is_not_flagged_as_released():
    components = parse_document(b"pkg:deb/debian/xz-utils@5.6.1+really5.4.5-1\n")
    [result] = check_components(components, [XZ])
    assert result.is_concerned and not result.is_released_in_window


def test_every_notice_naming_a_package_is_listed_in_id_order():
    later = notice(
        "HN-2026-0009", ["pkg:pypi/tinyzip"], status="ended", end="2026-05-01"
    )
    [result] = check_components(
        parse_document(b"pkg:pypi/tinyzip@1.4.1"), [later, TINYZIP]
    )
    assert [(m.notice_id, m.released_in_window) for m in result.notices] == [
        ("HN-2026-0007", True),
        ("HN-2026-0009", False),
    ]


def test_a_notice_listing_one_package_twice_matches_once_and_bad_purls_are_skipped():
    twice = notice(
        "HN-2026-0010", ["pkg:pypi/tinyzip", "pkg:pypi/TinyZip", "not a purl"]
    )
    [result] = check_components(parse_document(b"pkg:pypi/tinyzip@1"), [twice])
    assert len(result.notices) == 1


def test_later_revision_that_withdraws_a_notice_moves_it_to_withdrawn():
    withdrawn = {**TINYZIP, "revision": 2, "status": "withdrawn", "kind": "withdrawal"}
    notices = [TINYZIP, withdrawn]
    random.Random(4).shuffle(notices)
    [result] = check_components(parse_document(b"pkg:pypi/tinyzip@1.4.1"), notices)
    assert result.notices == ()
    assert [(m.notice_id, m.revision) for m in result.withdrawn] == [
        ("HN-2026-0007", 2)
    ]


def test_results_as_json_is_the_downloadable_answer():
    components = parse_document((SAMPLES / "purls.txt").read_bytes())
    answer = results_as_json(check_components(components, NOTICES))
    assert json.loads(json.dumps(answer)) == answer
    assert answer["format"] == RESULT_FORMAT
    assert answer["summary"] == {
        "components": 4,
        "concerned": 2,
        "released_in_window": 2,
        "notices": ["HN-2026-0002", "HN-2026-0007"],
    }
    first, xz, babel, mux = answer["components"]
    assert first == {
        "purl": "pkg:pypi/tinyzip",
        "version": "1.4.1",
        "source": "line 2",
        "notices": [
            {
                "id": "HN-2026-0007",
                "revision": 1,
                "status": "active",
                "project": "tinyzip",
                "window": {"start": "2026-02-01", "end": None},
                "released_in_window": True,
                "release_date": "2026-11-18",
            }
        ],
        "withdrawn_notices": [],
    }
    assert xz["notices"][0]["id"] == "HN-2026-0002"
    assert xz["notices"][0]["released_in_window"] is True
    assert (
        babel["notices"] == [] and babel["withdrawn_notices"][0]["id"] == "HN-2026-0003"
    )
    assert mux["notices"] == [] and mux["withdrawn_notices"] == []


def test_no_notices_concern_nothing():
    components = [Component(purl="pkg:pypi/tinyzip", version="1.4.1", source="line 1")]
    [result] = check_components(components, [])
    assert not result.is_concerned and result.withdrawn == ()
    assert results_as_json([])["summary"]["components"] == 0


def test_large_inputs_match_exactly_the_packages_notices_name():
    notices = [
        notice(
            f"HN-2026-{i:04d}",
            [f"pkg:npm/pkg-{i * 10}"],
            releases=[("1.0.0", "2026-03-01")],
        )
        for i in range(1000)
    ]
    components = [
        Component(
            purl=f"pkg:npm/pkg-{i}",
            version="1.0.0" if i % 20 else "2.0.0",
            source=str(i),
        )
        for i in range(10_000)
    ]
    results = check_components(components, notices)
    concerned = [r.component.purl for r in results if r.is_concerned]
    assert concerned == [f"pkg:npm/pkg-{i}" for i in range(0, 10_000, 10)]
    released = [r for r in results if r.is_released_in_window]
    assert len(released) == 500
