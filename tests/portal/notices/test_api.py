"""The public JSON API: notices and their signed bytes, filters, cursors, ETags, the log, the schema."""

import base64
import datetime
import json
import shutil
import subprocess

import pytest
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from portal.lib import merkle
from portal.notices import services
from portal.notices.models import HandoverNotice, LogCheckpoint
from tests.portal.notices.publishing import content, publish, revise

pytestmark = pytest.mark.django_db

LIST = "/api/v1/notices"


@pytest.fixture
def notice(caseworker, second_caseworker):
    return publish(caseworker, second_caseworker).notice


def _ids(response) -> list[str]:
    return [item["id"] for item in response.json()["results"]]


# --- List -----------------------------------------------------------------------------------------


def test_list_shows_each_published_notice_with_its_signed_document(
    client, caseworker, second_caseworker, notice
):
    services.draft_notice(actor=caseworker, content=content(project_name="draftonly"))
    response = client.get(LIST)
    assert response.status_code == 200
    [item] = response.json()["results"]
    revision = notice.latest_revision
    assert item["id"] == notice.reference
    assert item["revision"] == 1
    assert item["document"] == json.loads(bytes(revision.document))
    assert client.get(item["document_url"]).content == bytes(revision.document)
    assert client.get(item["signature_url"]).content.decode() == revision.signature


def test_list_shows_the_latest_revision_of_an_amended_notice(
    client, caseworker, second_caseworker, notice
):
    revise(caseworker, second_caseworker, notice, guidance="Now pin 1.4.0.")
    [item] = client.get(LIST).json()["results"]
    assert item["revision"] == 2
    assert item["document"]["guidance"] == "Now pin 1.4.0."


@pytest.fixture
def three_notices(caseworker, second_caseworker, maintainer):
    tiny = publish(caseworker, second_caseworker).notice
    left = publish(
        caseworker,
        second_caseworker,
        project_name="leftpadx",
        ecosystem="npm",
        repository_url="https://github.com/example/leftpadx",
        purls=("pkg:npm/leftpadx",),
    ).notice
    ended = publish(
        caseworker,
        second_caseworker,
        project_name="oldlib",
        purls=("pkg:pypi/oldlib",),
        consent_by=maintainer,
    ).notice
    revise(
        caseworker,
        second_caseworker,
        ended,
        kind="closure",
        window_end=datetime.date(2026, 11, 30),
        statement="The maintainer is back.",
        consent_by=maintainer,
    )
    return tiny, left, ended


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=active", {"tinyzip", "leftpadx"}),
        ("status=ended", {"oldlib"}),
        ("status=withdrawn", set()),
        ("ecosystem=npm", {"leftpadx"}),
        ("ecosystem=pypi", {"tinyzip", "oldlib"}),
        ("purl=pkg:pypi/tinyzip", {"tinyzip"}),
        # Normalised before matching: type and pypi names are case-insensitive, _ is -.
        ("purl=pkg:PYPI/TinyZip", {"tinyzip"}),
        ("purl=pkg:npm/nothing-here", set()),
        ("project=LEFTPADX", {"leftpadx"}),
        ("project=left", set()),
        ("status=active&ecosystem=pypi", {"tinyzip"}),
    ],
)
def test_list_filters(client, three_notices, query, expected):
    response = client.get(f"{LIST}?{query}")
    assert response.status_code == 200
    names = {item["document"]["project"]["name"] for item in response.json()["results"]}
    assert names == expected


def test_modified_since_keeps_notices_revised_after_that_time(client, three_notices):
    base = datetime.datetime(2026, 11, 20, 12, 0, tzinfo=datetime.UTC)
    for hours, notice in enumerate(three_notices):
        HandoverNotice.objects.filter(pk=notice.pk).update(
            modified_at=base + datetime.timedelta(hours=hours)
        )
    tiny, left, ended = (n.reference for n in three_notices)

    def since(value):
        response = client.get(LIST, {"modified_since": value})
        assert response.status_code == 200
        return _ids(response)

    assert since("2026-11-20T12:30:00Z") == [ended, left]
    # The same instant, written with an offset.
    assert since("2026-11-20T13:30:00.000+01:00") == [ended, left]
    assert since("2026-11-20T11:59:59z") == [ended, left, tiny]
    # Strictly after: a notice modified at exactly that time is not new.
    assert since("2026-11-20T14:00:00Z") == []


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("status=open", "status"),
        ("status=awaiting_approval", "status"),
        ("ecosystem=cobol", "ecosystem"),
        ("purl=pkg:pypi/tinyzip@1.4.1", "purl"),
        ("purl=pkg:nosuchtype/tinyzip", "purl"),
        ("purl=tinyzip", "purl"),
        ("modified_since=yesterday", "modified_since"),
        ("modified_since=2026-11-20T14:02:11", "modified_since"),
        ("modified_since=2026-13-40T14:02:11Z", "modified_since"),
        ("modified_since=2026-W47-1", "modified_since"),
        ("status=active&status=ended", "status"),
        ("page_size=0", "page_size"),
        ("page_size=1000", "page_size"),
        ("page_size=ten", "page_size"),
        ("sort=project", "sort"),
    ],
)
def test_malformed_filters_get_400_naming_the_parameter(
    client, notice, query, parameter
):
    response = client.get(f"{LIST}?{query}")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["parameter"] == parameter
    assert body["detail"]


def test_an_unencoded_plus_in_an_offset_is_read_as_plus(client, notice):
    response = client.get(f"{LIST}?modified_since=2000-01-01T00:00:00+01:00")
    assert response.status_code == 200
    assert _ids(response) == [notice.reference]


def test_a_bogus_cursor_is_a_json_404_not_a_500(client, notice):
    response = client.get(LIST, {"cursor": "not-a-cursor"})
    assert response.status_code == 404
    assert "detail" in response.json()


def test_cursor_pagination_walks_every_notice_once_newest_first(
    client, caseworker, second_caseworker
):
    for n in range(5):
        publish(caseworker, second_caseworker, project_name=f"lib{n}")
    seen, url = [], f"{LIST}?page_size=2"
    while url:
        page = client.get(url).json()
        assert len(page["results"]) <= 2
        seen += [item["document"]["project"]["name"] for item in page["results"]]
        url = page["next"]
    # Same-second publications tie on modified_at; the id breaks the tie, newest first.
    assert seen == [f"lib{n}" for n in reversed(range(5))]


@pytest.mark.parametrize("size", [2, 8])
def test_list_queries_do_not_grow_with_the_number_of_notices(
    client, caseworker, second_caseworker, django_assert_max_num_queries, size
):
    for n in range(size):
        publish(caseworker, second_caseworker, project_name=f"lib{n}")
    with django_assert_max_num_queries(2):
        response = client.get(LIST, {"page_size": 200})
    assert len(response.json()["results"]) == size


# --- ETag -----------------------------------------------------------------------------------------


def test_list_has_a_strong_etag_and_answers_if_none_match_with_304(client, notice):
    first = client.get(LIST)
    etag = first["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = client.get(LIST, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    weak = client.get(LIST, headers={"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304


def test_etag_changes_when_a_notice_is_revised(
    client, caseworker, second_caseworker, notice
):
    etag = client.get(LIST)["ETag"]
    revise(caseworker, second_caseworker, notice, guidance="Pin 1.4.0.")
    response = client.get(LIST, headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response["ETag"] != etag


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/notices/{id}",
        "/api/v1/notices/{id}/revisions",
        "/api/v1/notices/{id}/revisions/1",
        "/api/v1/notices/{id}/revisions/1/signature",
        "/api/v1/notices/{id}/osv",
        "/api/v1/log/checkpoint",
        "/api/v1/log/entries?start=0",
        "/notices/{id}/osv.json",
        "/notices/osv.zip",
    ],
)
def test_every_get_carries_an_etag_that_revalidates(client, notice, path):
    url = path.format(id=notice.reference)
    response = client.get(url)
    assert response.status_code == 200
    assert (
        client.get(url, headers={"If-None-Match": response["ETag"]}).status_code == 304
    )


def test_an_error_is_not_answered_with_304(client):
    response = client.get(
        "/api/v1/notices/HN-2026-9999", headers={"If-None-Match": "*"}
    )
    assert response.status_code == 404


# --- Detail, revisions, signatures ----------------------------------------------------------------


def test_detail_serves_the_signed_bytes_exactly_with_links(client, notice):
    revision = notice.latest_revision
    response = client.get(f"/api/v1/notices/{notice.reference}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == bytes(revision.document)
    links = response["Link"]
    assert (
        f'/api/v1/notices/{notice.reference}/revisions/1/signature>; rel="signature"'
        in links
    )
    assert (
        f'/api/v1/notices/{notice.reference}/revisions>; rel="version-history"' in links
    )


def test_revisions_list_and_each_revision_are_served(
    client, caseworker, second_caseworker, notice
):
    second = revise(caseworker, second_caseworker, notice, guidance="Pin 1.4.0.")
    response = client.get(f"/api/v1/notices/{notice.reference}/revisions")
    assert response.status_code == 200
    items = response.json()
    assert [(i["number"], i["kind"]) for i in items] == [
        (1, "initial"),
        (2, "amendment"),
    ]
    assert items[1]["published"] == second.published_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    for item, revision in zip(
        items, [notice.revisions.get(number=1), second], strict=True
    ):
        assert client.get(item["document_url"]).content == bytes(revision.document)
        signature = client.get(item["signature_url"])
        assert signature["Content-Type"] == "text/plain; charset=utf-8"
        assert signature.content.decode() == revision.signature
    detail = client.get(f"/api/v1/notices/{notice.reference}")
    assert detail.content == bytes(second.document)


def test_page_download_api_and_osv_carry_identical_bytes(
    client, caseworker, second_caseworker, notice
):
    revise(caseworker, second_caseworker, notice, guidance="Pin 1.4.0.")
    reference = notice.reference
    page = client.get(f"/notices/{reference}/revisions/2.json").content
    api = client.get(f"/api/v1/notices/{reference}/revisions/2").content
    latest = client.get(f"/api/v1/notices/{reference}").content
    osv_page = json.loads(client.get(f"/notices/{reference}/osv.json").content)
    osv_api = json.loads(client.get(f"/api/v1/notices/{reference}/osv").content)
    assert page == api == latest
    assert osv_page["database_specific"]["notice"].encode("utf-8") == page
    assert osv_api == osv_page


def test_stock_ssh_keygen_verifies_what_the_api_serves(client, notice, tmp_path):
    reference = notice.reference
    (tmp_path / "allowed_signers").write_bytes(
        client.get("/.well-known/steady/allowed_signers").content
    )
    (tmp_path / "notice.json").write_bytes(
        client.get(f"/api/v1/notices/{reference}/revisions/1").content
    )
    (tmp_path / "notice.json.sig").write_bytes(
        client.get(f"/api/v1/notices/{reference}/revisions/1/signature").content
    )

    executable = shutil.which("ssh-keygen")
    assert executable, "OpenSSH's ssh-keygen is needed to check signatures"

    def verify(data: bytes) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603 - fixed arguments, our files
            [
                executable, "-Y", "verify", "-f", str(tmp_path / "allowed_signers"),
                "-I", "notices@steady.localhost", "-n", "steady-notice",
                "-s", str(tmp_path / "notice.json.sig"),
            ],
            input=data,
            capture_output=True,
            check=False,
        )  # fmt: skip

    data = (tmp_path / "notice.json").read_bytes()
    assert verify(data).returncode == 0
    flipped = bytearray(data)
    flipped[10] ^= 0x01
    assert verify(bytes(flipped)).returncode != 0


def test_allowed_signers_is_served_at_the_well_known_url(client):
    response = client.get("/.well-known/steady/allowed_signers")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode().startswith("notices@steady.localhost ")
    assert "valid-after=" in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/notices/HN-2026-9999",
        "/api/v1/notices/HN-2026-9999/revisions",
        "/api/v1/notices/{id}/revisions/7",
        "/api/v1/notices/{id}/revisions/7/signature",
        "/api/v1/notices/HN-2026-9999/osv",
    ],
)
def test_unknown_notices_and_revisions_get_a_json_404(client, notice, path):
    response = client.get(path.format(id=notice.reference))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]


def test_a_notice_awaiting_its_first_approval_is_not_served(client, caseworker):
    services.draft_notice(actor=caseworker, content=content())
    assert client.get(LIST).json()["results"] == []
    assert client.get("/api/v1/log/checkpoint").status_code == 404


# --- Transparency log -----------------------------------------------------------------------------


@pytest.fixture
def logged(caseworker, second_caseworker):
    """Three revisions in the log: two notices, one amended."""
    first = publish(caseworker, second_caseworker)
    second = publish(caseworker, second_caseworker, project_name="leftpadx")
    third = revise(caseworker, second_caseworker, first.notice, guidance="Pin 1.4.0.")
    return [first, second, third]


def test_checkpoint_is_the_latest_signed_head(client, logged):
    response = client.get("/api/v1/log/checkpoint")
    assert response.status_code == 200
    body = response.json()
    checkpoint = LogCheckpoint.objects.get(tree_size=3)
    assert body["origin"] == "steady.localhost/notices-log"
    assert body["tree_size"] == 3
    assert body["checkpoint"] == checkpoint.text
    assert body["signature"] == checkpoint.signature
    leaves = [merkle.leaf_hash(bytes(r.document)) for r in logged]
    assert base64.b64decode(body["root_hash"]) == merkle.root(leaves)
    assert body["checkpoint"].splitlines()[2] == body["root_hash"]


def test_log_entries_list_leaves_in_order(client, logged):
    response = client.get("/api/v1/log/entries", {"start": 1, "end": 3})
    assert response.status_code == 200
    entries = response.json()
    assert [e["index"] for e in entries] == [1, 2]
    assert [(e["notice"], e["revision"]) for e in entries] == [
        (logged[1].notice.reference, 1),
        (logged[2].notice.reference, 2),
    ]
    for entry, revision in zip(entries, logged[1:], strict=True):
        data = client.get(entry["document_url"]).content
        assert base64.b64decode(entry["leaf_hash"]) == merkle.leaf_hash(data)
        assert data == bytes(revision.document)


def test_log_entries_page_is_bounded(client, logged, monkeypatch):
    from portal.notices import api

    monkeypatch.setattr(api, "LOG_PAGE_SIZE", 2)
    response = client.get("/api/v1/log/entries", {"start": 0, "end": 10**9})
    assert response.status_code == 200
    assert [e["index"] for e in response.json()] == [0, 1]


def test_inclusion_proof_verifies_against_the_checkpoint(client, logged):
    root = base64.b64decode(client.get("/api/v1/log/checkpoint").json()["root_hash"])
    first = logged[0]
    response = client.get(
        "/api/v1/log/proof/inclusion",
        {"notice": first.notice.reference, "revision": 1},
    )
    assert response.status_code == 200
    proof = response.json()
    assert proof["index"] == 0 and proof["tree_size"] == 3
    assert merkle.verify_inclusion(
        proof["index"],
        proof["tree_size"],
        merkle.leaf_hash(bytes(first.document)),
        [base64.b64decode(h) for h in proof["audit_path"]],
        root,
    )


def test_consistency_proof_verifies_between_two_checkpoints(client, logged):
    old = LogCheckpoint.objects.get(tree_size=1)
    new = LogCheckpoint.objects.get(tree_size=3)
    response = client.get("/api/v1/log/proof/consistency", {"first": 1, "second": 3})
    assert response.status_code == 200
    body = response.json()
    assert (body["first"], body["second"]) == (1, 3)
    assert merkle.verify_consistency(
        1,
        3,
        bytes(old.root_hash),
        bytes(new.root_hash),
        [base64.b64decode(h) for h in body["proof"]],
    )


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/api/v1/log/entries", "start"),
        ("/api/v1/log/entries?start=-1", "start"),
        ("/api/v1/log/entries?start=abc", "start"),
        ("/api/v1/log/entries?start=5&end=5", "end"),
        ("/api/v1/log/proof/inclusion?revision=1", "notice"),
        ("/api/v1/log/proof/inclusion?notice={id}", "revision"),
        ("/api/v1/log/proof/inclusion?notice={id}&revision=1&tree_size=0", "tree_size"),
        (
            "/api/v1/log/proof/inclusion?notice={id}&revision=1&tree_size=99",
            "tree_size",
        ),
        ("/api/v1/log/proof/consistency?first=1", "second"),
        ("/api/v1/log/proof/consistency?first=0&second=3", "first"),
        ("/api/v1/log/proof/consistency?first=3&second=2", "first"),
        ("/api/v1/log/proof/consistency?first=1&second=99", "second"),
        ("/api/v1/log/proof/consistency?first=1&second=99999999999999", "second"),
        ("/api/v1/log/checkpoint?size=1", "size"),
    ],
)
def test_bad_log_parameters_get_a_json_400(client, logged, path, fragment):
    response = client.get(path.format(id=logged[0].notice.reference))
    assert response.status_code == 400
    body = response.json()
    assert fragment in (body.get("parameter", "") + body["detail"])


def test_inclusion_proof_of_an_unknown_revision_is_a_404(client, logged):
    response = client.get(
        "/api/v1/log/proof/inclusion", {"notice": "HN-2026-9999", "revision": 1}
    )
    assert response.status_code == 404


# --- Schema and docs ------------------------------------------------------------------------------


def test_openapi_schema_is_valid_and_lists_every_endpoint():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    assert {
        "/api/v1/notices",
        "/api/v1/notices/{reference}",
        "/api/v1/notices/{reference}/revisions",
        "/api/v1/notices/{reference}/revisions/{number}",
        "/api/v1/notices/{reference}/revisions/{number}/signature",
        "/api/v1/notices/{reference}/osv",
        "/api/v1/log/checkpoint",
        "/api/v1/log/entries",
        "/api/v1/log/proof/inclusion",
        "/api/v1/log/proof/consistency",
        "/api/v1/check",
    } <= set(schema["paths"])
    parameters = {
        p["name"] for p in schema["paths"]["/api/v1/notices"]["get"]["parameters"]
    }
    assert {
        "status",
        "ecosystem",
        "purl",
        "project",
        "modified_since",
        "cursor",
    } <= parameters


def test_schema_is_served(client):
    response = client.get("/api/v1/schema", {"format": "json"})
    assert response.status_code == 200
    assert (
        json.loads(response.content)["info"]["title"] == "Steady handover notices API"
    )


def test_docs_page_loads_its_script_from_our_origin_under_the_strict_csp(client):
    response = client.get(reverse("api_docs"))
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    html = response.content.decode()
    assert "<style" not in html
    # Every script has a src on our origin: none inline, none from a CDN.
    assert html.count("<script") == html.count('<script src="/') == 3
    script = client.get(reverse("api_docs"), {"script": ""})
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()
    assert "/api/v1/schema" in script.content.decode()
