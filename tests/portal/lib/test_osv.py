"""OSV records for notice revisions, validated against the vendored official OSV schema."""

import copy
import datetime
import io
import json
import pathlib
import shutil
import subprocess
import zipfile
from urllib.parse import urlsplit

import jsonschema
import pytest

from portal.lib.canonical import canonical_bytes
from portal.lib.osv import (
    osv_archive,
    osv_json,
    osv_package,
    osv_record,
)

SCHEMA_PATH = (
    pathlib.Path(__file__).parents[3] / "fixtures" / "osv-schema" / "schema.json"
)
NOTICE_URL = "https://steady.example.org/notices/HN-2026-0007/"


def _format_checker() -> jsonschema.FormatChecker:
    # jsonschema checks "date-time" and "uri" only with optional packages this project does not
    # install, so both are checked here with the standard library instead of being skipped.
    checker = jsonschema.FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def is_datetime(value):
        if not isinstance(value, str):
            return True
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.tzinfo is not None

    @checker.checks("uri", raises=ValueError)
    def is_uri(value):
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme and parts.netloc) and " " not in value

    return checker


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=_format_checker())


def notice(**changes) -> dict:
    document = {
        "format": "steady-notice/1",
        "id": "HN-2026-0007",
        "revision": 1,
        "kind": "initial",
        "status": "active",
        "published": "2026-11-03T09:15:00Z",
        "modified": "2026-11-03T09:15:00Z",
        "effective": "2026-11-03T09:15:00Z",
        "project": {
            "name": "tinyzip",
            "ecosystem": "pypi",
            "repository": "https://github.com/tinyzip/tinyzip",
            "purls": ["pkg:pypi/tinyzip"],
        },
        "window": {"start": "2026-11-01", "end": None},
        "scope": ["triage", "review", "merge", "release"],
        "stewards": [
            {
                "handle": "stella",
                "name": "Stella Zoë Steward",
                "forge_accounts": ["github:stella-s"],
                "key_fingerprints": [
                    "SHA256:3vFh0X6WnKpXoAn2U2mJ0YlC5m1JxkQ9s6vB7yGd1fQ"
                ],
            }
        ],
        "authorized_identities": [
            {
                "name": "Stella Zoë Steward",
                "email": "stella@example.org",
                "key_fingerprint": "SHA256:3vFh0X6WnKpXoAn2U2mJ0YlC5m1JxkQ9s6vB7yGd1fQ",
                "may": ["commit", "release"],
            }
        ],
        "release_channels": ["https://pypi.org/project/tinyzip/"],
        "releases": [],
        "guidance": "Treat releases in the window with **extra** scrutiny — verify signatures.",
        "references": ["https://github.com/tinyzip/tinyzip/issues/412"],
        "statement": "",
        "handover_report": None,
        "consent": "maintainer",
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(document.get(key), dict):
            document[key] = {**document[key], **value}
        else:
            document[key] = value
    return document


ACTIVE = notice()
AMENDED = notice(
    revision=2,
    kind="amendment",
    modified="2026-11-20T14:02:11Z",
    effective="2026-12-11T14:02:11Z",
    consent="objection-period",
    releases=[{"version": "1.4.1", "date": "2026-11-18"}],
    statement="Added a release made during the window.",
)
ENDED = notice(
    revision=3,
    kind="closure",
    status="ended",
    modified="2027-01-10T08:00:00Z",
    effective="2027-01-10T08:00:00Z",
    window={"end": "2027-01-09"},
    releases=[
        {"version": "1.4.1", "date": "2026-11-18"},
        {"version": "1.5.0", "date": "2027-01-02"},
    ],
    statement="The maintainer is back.",
    handover_report={"summary": "Two releases, both reviewed.", "filed": "2027-01-09"},
    consent="not-needed",
)
WITHDRAWN = notice(
    revision=2,
    kind="withdrawal",
    status="withdrawn",
    modified="2026-11-05T10:00:00Z",
    effective="2026-11-05T10:00:00Z",
    statement="Published for the wrong project.",
    consent="not-needed",
)
MULTI_PURL = notice(
    id="HN-2026-0012",
    project={
        "name": "xz",
        "ecosystem": "github",
        "repository": "https://github.com/tukaani-project/xz",
        "purls": [
            "pkg:github/tukaani-project/xz",
            "pkg:deb/debian/xz-utils",
            "pkg:rpm/redhat/xz",
            "pkg:rpm/fedora/xz",
            "pkg:generic/xz-utils",
            "pkg:npm/%40tukaani/xz-wasm",
            "pkg:maven/org.tukaani/xz",
            "pkg:cargo/xz2",
            "pkg:golang/github.com/ulikunitz/xz",
        ],
    },
    releases=[
        {"version": "5.6.0", "date": "2026-02-24"},
        {"version": "5.6.1", "date": "2026-03-09"},
    ],
)
NO_PURLS = notice(
    id="HN-2026-0013",
    project={"name": "libtiny", "ecosystem": "generic", "repository": "", "purls": []},
    release_channels=[],
    references=[],
    guidance="",
)

CASES = {
    "active": ACTIVE,
    "amended": AMENDED,
    "ended": ENDED,
    "withdrawn": WITHDRAWN,
    "multi-purl": MULTI_PURL,
    "no-purls": NO_PURLS,
}


def record_for(document, **kwargs):
    return osv_record(
        document,
        canonical=canonical_bytes(document),
        signature="-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n",
        notice_url=NOTICE_URL,
        **kwargs,
    )


@pytest.mark.parametrize("name", CASES)
def test_records_validate_against_the_official_osv_schema(name, validator):
    record = record_for(CASES[name])
    errors = sorted(validator.iter_errors(record), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_the_validator_refuses_a_record_that_breaks_the_schema(validator):
    # Proves the schema really constrains these records, so the test above can fail.
    record = record_for(ACTIVE)
    for broken in (
        {**record, "id": "HN-2026-0007"},
        {**record, "modified": "2026-11-03 09:15"},
        {**record, "steady": {}},
        {**record, "affected": [{"package": {"ecosystem": "pypi", "name": "tinyzip"}}]},
        {**record, "references": [{"type": "WEB", "url": "not a url"}]},
    ):
        assert not validator.is_valid(broken)


@pytest.mark.parametrize("name", CASES)
def test_embedded_notice_round_trips_to_the_signed_bytes(name):
    document = CASES[name]
    served = json.dumps(record_for(document)).encode("utf-8")
    embedded = json.loads(served)["database_specific"]["notice"].encode("utf-8")
    assert embedded == canonical_bytes(document)
    assert json.loads(embedded) == document


def ssh_keygen(*args, **kwargs):
    executable = shutil.which("ssh-keygen")
    assert executable, "OpenSSH's ssh-keygen is needed to check signatures"
    return subprocess.run([executable, *args], **kwargs)  # noqa: S603 - fixed arguments, our files


def test_stock_ssh_keygen_verifies_the_notice_carried_in_the_osv_record(tmp_path):
    key = tmp_path / "foundation"
    ssh_keygen("-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(key), check=True)
    canonical = canonical_bytes(ENDED)
    (tmp_path / "notice.json").write_bytes(canonical)
    ssh_keygen(
        "-q", "-Y", "sign", "-n", "steady-notice", "-f", str(key), "notice.json",
        check=True, cwd=tmp_path,
    )  # fmt: skip
    signature = (tmp_path / "notice.json.sig").read_text()
    record = osv_record(
        ENDED, canonical=canonical, signature=signature, notice_url=NOTICE_URL
    )

    # A downstream user has only the served OSV JSON and the published allowed_signers file.
    served = json.loads(json.dumps(record, ensure_ascii=True))
    (tmp_path / "downloaded").write_bytes(
        served["database_specific"]["notice"].encode("utf-8")
    )
    (tmp_path / "downloaded.sig").write_text(served["database_specific"]["signature"])
    public_key = (tmp_path / "foundation.pub").read_text().strip()
    (tmp_path / "allowed_signers").write_text(
        f'notices@steady.example.org namespaces="steady-notice" {public_key}\n'
    )

    def verify(path):
        with open(path, "rb") as data:
            return ssh_keygen(
                "-Y", "verify", "-f", "allowed_signers", "-I", "notices@steady.example.org",
                "-n", "steady-notice", "-s", "downloaded.sig",
                stdin=data, cwd=tmp_path, capture_output=True,
            )  # fmt: skip

    assert verify(tmp_path / "downloaded").returncode == 0
    tampered = bytearray(canonical)
    tampered[canonical.index(b"1.5.0")] ^= 0x01
    (tmp_path / "tampered").write_bytes(bytes(tampered))
    assert verify(tmp_path / "tampered").returncode != 0


def test_id_is_the_notice_id_under_the_handover_prefix():
    assert record_for(ACTIVE)["id"] == "x_HANDOVER-HN-2026-0007"


def test_summaries_say_where_the_window_stands():
    assert (
        record_for(ACTIVE)["summary"]
        == "tinyzip is in a maintainer handover since 2026-11-01"
    )
    assert record_for(notice(window={"end": "2027-01-31"}))["summary"] == (
        "tinyzip is in a maintainer handover from 2026-11-01 to 2027-01-31"
    )
    assert record_for(ENDED)["summary"] == (
        "tinyzip was in a maintainer handover from 2026-11-01 to 2027-01-09"
    )
    assert record_for(WITHDRAWN)["summary"] == "Withdrawn handover notice for tinyzip"


def test_only_a_withdrawn_notice_carries_withdrawn():
    assert record_for(WITHDRAWN)["withdrawn"] == "2026-11-05T10:00:00Z"
    for document in (ACTIVE, AMENDED, ENDED):
        assert "withdrawn" not in record_for(document)


def test_withdrawal_reason_and_guidance_are_in_details():
    details = record_for(WITHDRAWN)["details"]
    assert details.startswith("Treat releases in the window")
    assert "Published for the wrong project." in details
    assert record_for(ACTIVE)["details"] == ACTIVE["guidance"]


def test_versions_are_the_releases_made_during_the_window():
    record = record_for(ENDED)
    assert record["affected"] == [
        {
            "package": {
                "ecosystem": "PyPI",
                "name": "tinyzip",
                "purl": "pkg:pypi/tinyzip",
            },
            "versions": ["1.4.1", "1.5.0"],
        }
    ]
    assert record_for(ACTIVE)["affected"][0]["versions"] == []


def test_one_affected_entry_per_purl_osv_can_name():
    record = record_for(MULTI_PURL)
    packages = [entry["package"] for entry in record["affected"]]
    assert [(p["ecosystem"], p["name"]) for p in packages] == [
        ("GIT", "https://github.com/tukaani-project/xz"),
        ("Debian", "xz-utils"),
        ("Red Hat", "xz"),
        ("npm", "@tukaani/xz-wasm"),
        ("Maven", "org.tukaani:xz"),
        ("crates.io", "xz2"),
        ("Go", "github.com/ulikunitz/xz"),
    ]
    assert all(entry["versions"] == ["5.6.0", "5.6.1"] for entry in record["affected"])
    # What OSV cannot name (Fedora rpm, generic) is still in the signed notice it carries.
    assert (
        record["database_specific"]["project"]["purls"]
        == MULTI_PURL["project"]["purls"]
    )


def test_no_purls_gives_an_empty_affected_list():
    assert record_for(NO_PURLS)["affected"] == []


@pytest.mark.parametrize(
    ("purl", "ecosystem", "name"),
    [
        ("pkg:pypi/Django_Allauth", "PyPI", "django-allauth"),
        ("pkg:npm/left-pad", "npm", "left-pad"),
        ("pkg:npm/%40Babel/core", "npm", "@babel/core"),
        ("pkg:cargo/serde", "crates.io", "serde"),
        (
            "pkg:maven/org.apache.commons/commons-lang3",
            "Maven",
            "org.apache.commons:commons-lang3",
        ),
        ("pkg:golang/github.com/gorilla/mux", "Go", "github.com/gorilla/mux"),
        ("pkg:gem/rails", "RubyGems", "rails"),
        ("pkg:nuget/Newtonsoft.Json", "NuGet", "Newtonsoft.Json"),
        ("pkg:composer/laravel/framework", "Packagist", "laravel/framework"),
        ("pkg:deb/debian/xz-utils?arch=source", "Debian", "xz-utils"),
        ("pkg:deb/ubuntu/openssl", "Ubuntu", "openssl"),
        ("pkg:rpm/opensuse/curl", "openSUSE", "curl"),
        (
            "pkg:github/Tukaani-Project/XZ",
            "GIT",
            "https://github.com/tukaani-project/xz",
        ),
    ],
)
def test_purls_map_to_osv_ecosystems(purl, ecosystem, name):
    package = osv_package(purl)
    assert (package["ecosystem"], package["name"]) == (ecosystem, name)
    assert "@" not in package["purl"].split("/", 1)[1].replace("%40", "")
    assert "?" not in package["purl"]


@pytest.mark.parametrize(
    "purl",
    [
        "pkg:generic/xz-utils",
        "pkg:rpm/fedora/xz",
        "pkg:docker/library/nginx",
        "nonsense",
    ],
)
def test_purls_without_an_osv_ecosystem_are_left_out(purl):
    assert osv_package(purl) is None


def test_database_specific_carries_the_window_scope_status_and_stewards():
    custom = record_for(AMENDED)["database_specific"]
    assert custom["window"] == {"start": "2026-11-01", "end": None}
    assert custom["scope"] == ["triage", "review", "merge", "release"]
    assert custom["status"] == "active"
    assert custom["stewards"][0]["handle"] == "stella"
    assert custom["revision"] == 2
    assert custom["signature"].startswith("-----BEGIN SSH SIGNATURE-----")
    assert custom["signature_url"] == f"{NOTICE_URL.rstrip('/')}/revisions/2/signature"
    given = record_for(
        AMENDED, signature_url="https://steady.example.org/api/v1/sig/7/2"
    )
    assert (
        given["database_specific"]["signature_url"]
        == "https://steady.example.org/api/v1/sig/7/2"
    )


def test_references_start_with_the_notice_and_are_not_repeated():
    document = notice(references=[NOTICE_URL, "https://github.com/tinyzip/tinyzip"])
    assert record_for(document)["references"] == [
        {"type": "ADVISORY", "url": NOTICE_URL},
        {"type": "PACKAGE", "url": "https://pypi.org/project/tinyzip/"},
        {"type": "WEB", "url": "https://github.com/tinyzip/tinyzip"},
    ]


def test_bytes_that_are_not_the_documents_canonical_form_are_refused():
    other = copy.deepcopy(ACTIVE)
    other["guidance"] = "Something else."
    with pytest.raises(ValueError, match="not the canonical form"):
        osv_record(
            ACTIVE,
            canonical=canonical_bytes(other),
            signature="",
            notice_url=NOTICE_URL,
        )
    pretty = json.dumps(ACTIVE, sort_keys=True, indent=2).encode()
    with pytest.raises(ValueError, match="not the canonical form"):
        osv_record(ACTIVE, canonical=pretty, signature="", notice_url=NOTICE_URL)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "steady-notice/2"}, "Not a steady-notice/1 document"),
        ({"id": "HN-26-7"}, "not of the form HN-YYYY-NNNN"),
        ({"modified": "2026-11-03T09:15:00+01:00"}, "not an RFC 3339 UTC timestamp"),
    ],
)
def test_documents_outside_the_notice_format_are_refused(change, message):
    document = notice(**change)
    with pytest.raises(ValueError, match=message):
        record_for(document)


def test_archive_holds_the_newest_record_of_each_notice(validator):
    records = [
        record_for(document) for document in (ACTIVE, AMENDED, ENDED, MULTI_PURL)
    ]
    data = osv_archive(records)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == [
            "x_HANDOVER-HN-2026-0007.json",
            "x_HANDOVER-HN-2026-0012.json",
        ]
        newest = json.loads(archive.read("x_HANDOVER-HN-2026-0007.json"))
        assert archive.read("x_HANDOVER-HN-2026-0007.json") == osv_json(
            record_for(ENDED)
        )
        assert archive.getinfo("x_HANDOVER-HN-2026-0007.json").date_time == (
            2027,
            1,
            10,
            8,
            0,
            0,
        )
    assert newest["database_specific"]["revision"] == 3
    assert validator.is_valid(newest)
    # The same records give the same bytes, whatever order they come in.
    assert osv_archive(list(reversed(records))) == data


def test_served_json_is_utf8_and_round_trips():
    record = record_for(ACTIVE)
    served = osv_json(record)
    assert "Zoë".encode() in served
    assert json.loads(served) == record
