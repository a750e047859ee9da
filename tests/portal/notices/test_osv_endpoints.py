"""OSV downloads of published notices: one record, and the archive of all of them."""

import io
import json
import zipfile

import jsonschema
import pytest

from portal.notices import services
from tests.portal.lib.test_osv import SCHEMA_PATH, _format_checker
from tests.portal.notices.publishing import content, publish, revise

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=_format_checker())


@pytest.fixture
def notice(caseworker, second_caseworker):
    return publish(caseworker, second_caseworker).notice


def test_notice_osv_record_validates_and_carries_the_signed_bytes(
    client, validator, notice
):
    response = client.get(f"/notices/{notice.reference}/osv.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    record = json.loads(response.content)
    validator.validate(record)
    revision = notice.latest_revision
    assert record["id"] == f"x_HANDOVER-{notice.reference}"
    assert record["affected"][0]["package"]["purl"] == "pkg:pypi/tinyzip"
    assert record["affected"][0]["versions"] == ["1.4.1"]
    extra = record["database_specific"]
    assert extra["notice"].encode("utf-8") == bytes(revision.document)
    assert extra["signature"] == revision.signature
    assert extra["url"] == f"http://testserver/notices/{notice.reference}/"
    signature = client.get(extra["signature_url"])
    assert signature.status_code == 200
    assert signature.content.decode() == revision.signature


def test_osv_record_follows_the_latest_revision_and_marks_a_withdrawal(
    client, validator, caseworker, second_caseworker, maintainer, notice
):
    revise(
        caseworker,
        second_caseworker,
        notice,
        kind="withdrawal",
        statement="Published in error.",
        consent_by=maintainer,
    )
    record = json.loads(client.get(f"/notices/{notice.reference}/osv.json").content)
    validator.validate(record)
    assert record["database_specific"]["revision"] == 2
    assert record["database_specific"]["status"] == "withdrawn"
    assert record["withdrawn"] == record["modified"]


def test_unknown_notice_has_no_osv_record(client, notice):
    assert client.get("/notices/HN-2026-9999/osv.json").status_code == 404
    assert client.get("/api/v1/notices/HN-2026-9999/osv").status_code == 404


def _archive(client) -> dict[str, bytes]:
    response = client.get("/notices/osv.zip")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_archive_holds_one_valid_record_per_published_notice(
    client, validator, caseworker, second_caseworker, notice
):
    other = publish(
        caseworker,
        second_caseworker,
        project_name="leftpadx",
        ecosystem="npm",
        repository_url="https://github.com/example/leftpadx",
        purls=("pkg:npm/leftpadx",),
    ).notice
    revise(caseworker, second_caseworker, notice, guidance="Pin 1.4.0.")
    services.draft_notice(actor=caseworker, content=content(project_name="draftonly"))
    files = _archive(client)
    assert sorted(files) == sorted(
        f"x_HANDOVER-{n.reference}.json" for n in (notice, other)
    )
    for name, data in files.items():
        validator.validate(json.loads(data))
        reference = name.removeprefix("x_HANDOVER-").removesuffix(".json")
        # The same bytes as the single-record download.
        assert data == client.get(f"/notices/{reference}/osv.json").content
    assert (
        json.loads(files[f"x_HANDOVER-{notice.reference}.json"])["database_specific"][
            "revision"
        ]
        == 2
    )


def test_archive_is_the_same_bytes_until_something_is_published(
    client, caseworker, second_caseworker, notice
):
    first = client.get("/notices/osv.zip")
    assert client.get("/notices/osv.zip").content == first.content
    revise(caseworker, second_caseworker, notice, guidance="Pin 1.4.0.")
    assert client.get("/notices/osv.zip")["ETag"] != first["ETag"]


def test_empty_archive_is_a_valid_zip(client):
    assert _archive(client) == {}


@pytest.mark.parametrize("size", [2, 6])
def test_archive_queries_do_not_grow_with_the_number_of_notices(
    client, caseworker, second_caseworker, django_assert_max_num_queries, size
):
    for n in range(size):
        publish(caseworker, second_caseworker, project_name=f"lib{n}")
    with django_assert_max_num_queries(1):
        files = _archive(client)
    assert len(files) == size
