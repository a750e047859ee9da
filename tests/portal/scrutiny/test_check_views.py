"""The dependency check page (/check/) and API (POST /api/v1/check) against published notices."""

import json
import pathlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from portal.scrutiny.components import MAX_BYTES
from tests.portal.notices.publishing import publish, revise

pytestmark = pytest.mark.django_db

SBOMS = pathlib.Path(__file__).parents[3] / "fixtures" / "sboms"
PAGE = "/check/"
API = "/api/v1/check"
PURLS = "pkg:pypi/tinyzip@1.4.1\npkg:pypi/tinyzip@1.4.0\npkg:npm/left-pad@1.3.0\n"


@pytest.fixture
def notices(caseworker, second_caseworker, maintainer):
    """tinyzip (active, 1.4.1 released in its window) and a withdrawn notice for left-pad."""
    tinyzip = publish(caseworker, second_caseworker).notice
    left = publish(
        caseworker,
        second_caseworker,
        project_name="left-pad",
        ecosystem="npm",
        repository_url="https://github.com/example/left-pad",
        purls=("pkg:npm/left-pad",),
        consent_by=maintainer,
    ).notice
    revise(
        caseworker,
        second_caseworker,
        left,
        kind="withdrawal",
        statement="Published in error.",
        consent_by=maintainer,
    )
    return tinyzip, left


def _by_version(result: dict) -> dict:
    return {(c["purl"], c["version"]): c for c in result["components"]}


# --- API ------------------------------------------------------------------------------------------


def test_api_answers_per_component_with_the_notices_and_window_releases(
    client, notices
):
    tinyzip, left = notices
    response = client.post(API, PURLS, content_type="text/plain")
    assert response.status_code == 200
    result = response.json()
    assert result["format"] == "steady-dependency-check/1"
    assert result["summary"] == {
        "components": 3,
        "concerned": 2,
        "released_in_window": 1,
        "notices": [tinyzip.reference],
    }
    components = _by_version(result)
    released = components[("pkg:pypi/tinyzip", "1.4.1")]["notices"]
    assert [(n["id"], n["released_in_window"]) for n in released] == [
        (tinyzip.reference, True)
    ]
    earlier = components[("pkg:pypi/tinyzip", "1.4.0")]["notices"]
    assert [(n["id"], n["released_in_window"]) for n in earlier] == [
        (tinyzip.reference, False)
    ]
    withdrawn = components[("pkg:npm/left-pad", "1.3.0")]
    assert withdrawn["notices"] == []
    assert [n["id"] for n in withdrawn["withdrawn_notices"]] == [left.reference]


def test_api_reads_a_cyclonedx_sbom_whatever_its_content_type(client, notices):
    tinyzip, _ = notices
    response = client.post(
        API,
        (SBOMS / "cyclonedx.json").read_bytes(),
        content_type="application/octet-stream",
    )
    assert response.status_code == 200
    assert response.json()["summary"]["notices"] == [tinyzip.reference]
    assert response.json()["summary"]["released_in_window"] == 1


def test_api_takes_the_kind_from_the_query(client, notices):
    # Read as a requirements file, "tinyzip==1.4.1" is the PyPI package.
    response = client.post(
        f"{API}?kind=requirements", "tinyzip==1.4.1\n", content_type="text/plain"
    )
    assert response.status_code == 200
    assert response.json()["summary"]["released_in_window"] == 1


@pytest.mark.parametrize(
    ("body", "query", "fragment"),
    [
        ((SBOMS / "bad" / "purls-bad.txt").read_bytes(), "", "line 3"),
        ((SBOMS / "bad" / "cyclonedx-bad-purl.json").read_bytes(), "", "components"),
        (b"", "", "empty"),
        (b"pkg:pypi/tinyzip@1.4.1\n", "?kind=sbom", "sbom"),
    ],
)
def test_api_refuses_a_malformed_document_naming_what_is_wrong(
    client, notices, body, query, fragment
):
    response = client.post(f"{API}{query}", body, content_type="text/plain")
    assert response.status_code == 400
    assert fragment in response.json()["detail"]


def test_api_refuses_a_document_over_the_limit_before_reading_it(client):
    response = client.post(
        API, b"x", content_type="text/plain", CONTENT_LENGTH=str(MAX_BYTES * 2)
    )
    assert response.status_code == 413
    assert "10 MB" in response.json()["detail"]


def test_api_refuses_a_body_just_over_the_limit(client):
    body = b"pkg:pypi/tinyzip@1.4.1\n" * (MAX_BYTES // 23 + 1)
    assert len(body) > MAX_BYTES
    response = client.post(API, body, content_type="text/plain")
    assert response.status_code == 413


def test_api_needs_no_csrf_token_and_no_account(notices):
    response = Client(enforce_csrf_checks=True).post(
        API, PURLS, content_type="text/plain"
    )
    assert response.status_code == 200


def test_api_is_post_only(client):
    assert client.get(API).status_code == 405


@pytest.mark.parametrize("extra", [0, 6])
def test_api_loads_the_notices_in_one_query(
    client, caseworker, second_caseworker, notices, django_assert_num_queries, extra
):
    for n in range(extra):
        publish(
            caseworker,
            second_caseworker,
            project_name=f"lib{n}",
            purls=(f"pkg:pypi/lib{n}",),
        )
    with django_assert_num_queries(1):
        response = client.post(API, PURLS, content_type="text/plain")
    assert response.status_code == 200


# --- Page -----------------------------------------------------------------------------------------


def test_page_shows_the_form_to_anyone(client):
    response = client.get(PAGE)
    assert response.status_code == 200
    assert b'enctype="multipart/form-data"' in response.content
    assert b'name="kind"' in response.content


def test_page_shows_a_pasted_document_as_a_table(client, notices):
    tinyzip, left = notices
    response = client.post(PAGE, {"text": PURLS, "kind": "", "format": "html"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<strong>2</strong> concerned by a handover notice" in html
    assert f'href="/notices/{tinyzip.reference}/"' in html
    assert "<strong>Yes</strong>, on 2026-11-18" in html
    # A withdrawn notice concerns nobody.
    assert left.reference not in html


def test_page_reads_an_uploaded_file(client, notices):
    tinyzip, _ = notices
    upload = SimpleUploadedFile(
        "bom.json", (SBOMS / "cyclonedx.json").read_bytes(), "application/json"
    )
    response = client.post(PAGE, {"document": upload, "kind": "cyclonedx"})
    assert response.status_code == 200
    assert f'href="/notices/{tinyzip.reference}/"' in response.content.decode()


def test_page_downloads_the_same_json_as_the_api(client, notices):
    response = client.post(PAGE, {"text": PURLS, "format": "json"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith("attachment;")
    api = client.post(API, PURLS, content_type="text/plain").json()
    assert json.loads(response.content) == api


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"text": "pkg:pypi/tinyzip@1.4.1\nnot a purl\n", "kind": "purls"}, "line 2"),
        ({"text": "", "kind": ""}, "Upload a file or paste a document"),
        ({"text": "x", "kind": "sbom"}, "Select a valid choice"),
    ],
)
def test_page_refuses_a_malformed_document_with_a_message(
    client, notices, data, message
):
    response = client.post(PAGE, data)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_page_refuses_a_file_and_a_pasted_document_together(client):
    upload = SimpleUploadedFile("purls.txt", b"pkg:pypi/tinyzip@1.4.1\n")
    response = client.post(PAGE, {"document": upload, "text": "pkg:pypi/tinyzip\n"})
    assert response.status_code == 400
    assert "not both" in response.content.decode()


def test_page_refuses_an_upload_over_the_limit(client):
    upload = SimpleUploadedFile(
        "big.txt", b"pkg:pypi/tinyzip@1.4.1\n" * (MAX_BYTES // 23 + 1)
    )
    response = client.post(PAGE, {"document": upload})
    assert response.status_code == 413
    assert "larger than 10 MB" in response.content.decode()


def test_page_refuses_a_request_over_the_limit_before_reading_it(client):
    response = client.post(
        PAGE,
        b"--x--\r\n",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(MAX_BYTES * 2),
    )
    assert response.status_code == 413


def test_page_form_needs_its_csrf_token(notices):
    browser = Client(enforce_csrf_checks=True)
    assert browser.post(PAGE, {"text": PURLS}).status_code == 403
    token = browser.get(PAGE).cookies["csrftoken"].value
    response = browser.post(PAGE, {"text": PURLS, "csrfmiddlewaretoken": token})
    assert response.status_code == 200


def test_page_limit_is_its_own_not_the_attachment_limit(client, notices, settings):
    # Case attachments keep their smaller bound; the check swaps in its own handler per request.
    settings.ATTACHMENT_MAX_BYTES = 1000
    document = b"# padding\n" * 500 + b"pkg:pypi/tinyzip@1.4.1\n"
    upload = SimpleUploadedFile("purls.txt", document)
    response = client.post(PAGE, {"document": upload})
    assert response.status_code == 200
    assert "<strong>Yes</strong>, on 2026-11-18" in response.content.decode()
