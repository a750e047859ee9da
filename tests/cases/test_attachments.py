"""Files on a case, through the pages: what may be attached, how it comes back, and who gets it."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases import services
from cases.models import CaseAttachment
from cases.uploads import clean_filename
from portal.audit.models import AuditEvent
from portal.lib.errors import Refused

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)
TEXT = "Messages from the account that keeps pushing me. Ünïcode too.\n".encode()
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48
REFUSED_TYPE = "This kind of file cannot be attached."


def _upload_url(case):
    return reverse("cases:add-attachment", args=[case.public_id])


def _download_url(case, attachment):
    return reverse(
        "cases:download-attachment", args=[case.public_id, attachment.public_id]
    )


def _upload(client, case, name, data, **extra):
    return client.post(
        _upload_url(case), {"file": SimpleUploadedFile(name, data), **extra}
    )


def _raw_upload(client, case, filename: str, data: bytes):
    """A multipart body written by hand: the test client would strip a path from the name."""
    boundary = "steady-boundary-7MA4YWxkTrZu0gW"
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(
        _upload_url(case),
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def _stored_files(settings):
    from pathlib import Path

    root = Path(settings.ATTACHMENT_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _nothing_stored(settings):
    return CaseAttachment.objects.count() == 0 and _stored_files(settings) == []


@pytest.mark.parametrize(
    ("name", "data", "content_type", "stored_name"),
    [
        ("screenshot.png", PNG, "image/png", "screenshot.png"),
        ("threat letter.pdf", PDF, "application/pdf", "threat letter.pdf"),
        ("chat-log.txt", TEXT, "text/plain", "chat-log.txt"),
        # The extension follows the content, never the name the browser sent.
        ("chat-log.png", TEXT, "text/plain", "chat-log.txt"),
    ],
)
def test_upload_and_download_round_trip(
    client, case, maintainer, settings, name, data, content_type, stored_name
):
    client.force_login(maintainer)
    response = _upload(client, case, name, data)
    assert response.status_code == 302
    attachment = CaseAttachment.objects.get()
    assert (attachment.content_type, attachment.size) == (content_type, len(data))
    assert len(_stored_files(settings)) == 1

    response = client.get(_download_url(case, attachment))
    assert response.status_code == 200
    assert response.content == data
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("attachment;")
    assert stored_name in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert "sandbox" in response["Content-Security-Policy"]


def test_caseworker_downloads_the_maintainers_file_and_vice_versa(
    client, case, maintainer, caseworker
):
    mine = services.add_attachment(case=case, actor=maintainer, name="a.txt", data=TEXT)
    theirs = services.add_attachment(
        case=case, actor=caseworker, name="b.pdf", data=PDF
    )
    client.force_login(caseworker)
    assert client.get(_download_url(case, mine)).content == TEXT
    client.force_login(maintainer)
    assert client.get(_download_url(case, theirs)).content == PDF


@pytest.mark.parametrize(
    ("name", "data"),
    [
        (
            "cute-cat.png",
            b"<html><body><script>alert(document.cookie)</script></body></html>",
        ),
        ("cute-cat.png", EXE),
        ("setup.exe", EXE),
        (
            "drawing.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        ),
        (
            "drawing.svg",
            b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
        ),
        ("page.html", b"<!DOCTYPE html>\n<html><body>hi</body></html>"),
        ("page.txt", b"   \n\t<HTML><body>hi</body></HTML>"),
        ("page.txt", b"<script>alert(1)</script>"),
        ("binary.txt", b"text then a \x00 byte"),
        ("latin1.txt", "caf\xe9".encode("latin-1")),
    ],
)
def test_dangerous_or_unknown_content_is_refused_and_nothing_stored(
    client, case, maintainer, settings, name, data
):
    client.force_login(maintainer)
    response = _upload(client, case, name, data)
    assert response.status_code == 400
    assert REFUSED_TYPE in response.content.decode()
    assert _nothing_stored(settings)
    assert not AuditEvent.objects.filter(action="attachment.added").exists()


@pytest.mark.parametrize(
    "data",
    [
        b"<body onload=alert(1)>",
        b"<iframe src=javascript:alert(1)></iframe>",
        b"<!-- hi --><html><script>alert(1)</script></html>",
        b"<img src=x onerror=alert(1)>",
    ],
)
def test_html_without_a_leading_html_tag_is_refused(
    client, case, maintainer, settings, data
):
    client.force_login(maintainer)
    response = _upload(client, case, "notes.txt", data)
    assert response.status_code == 400
    assert _nothing_stored(settings)


def test_oversized_file_is_refused_with_the_limit_and_nothing_stored(
    client, case, maintainer, settings
):
    settings.ATTACHMENT_MAX_BYTES = 2 * 1024 * 1024
    client.force_login(maintainer)
    response = _upload(client, case, "big.txt", b"a" * (2 * 1024 * 1024 + 1))
    assert response.status_code == 400
    assert "larger than 2.0\xa0MB" in response.content.decode()
    assert _nothing_stored(settings)
    # Exactly at the limit is fine.
    assert _upload(client, case, "ok.txt", b"a" * (2 * 1024 * 1024)).status_code == 302


def test_tiny_limit_is_enforced_too(client, case, maintainer, settings):
    settings.ATTACHMENT_MAX_BYTES = 100
    client.force_login(maintainer)
    response = _upload(client, case, "small.txt", b"a" * 101)
    assert response.status_code == 400
    assert "larger than" in response.content.decode()
    assert _nothing_stored(settings)


def test_refusal_names_a_limit_below_one_megabyte_correctly(
    client, case, maintainer, settings
):
    settings.ATTACHMENT_MAX_BYTES = 512 * 1024
    client.force_login(maintainer)
    response = _upload(client, case, "big.txt", b"a" * (512 * 1024 + 1))
    assert response.status_code == 400
    body = response.content.decode()
    assert "larger than 0 MB" not in body
    assert "512" in body


def test_oversized_file_is_refused_by_the_service_too(case, maintainer, settings):
    settings.ATTACHMENT_MAX_BYTES = 10
    with pytest.raises(Refused, match="larger than"):
        services.add_attachment(
            case=case, actor=maintainer, name="a.txt", data=b"x" * 11
        )
    assert _nothing_stored(settings)


def test_empty_file_is_refused(client, case, maintainer, settings):
    client.force_login(maintainer)
    response = _upload(client, case, "empty.txt", b"")
    assert response.status_code == 400
    assert _nothing_stored(settings)


@pytest.mark.parametrize(
    ("sent_name", "stored_name"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\system.ini", "system.txt"),
        ("bell\x07and\x1bescape.txt", "bellandescape.txt"),
        ("invoice\u202etxt.exe", "invoicetxt.txt"),
        ("....txt", "attachment.txt"),
    ],
)
def test_file_names_are_cleaned(
    client, case, maintainer, settings, sent_name, stored_name
):
    client.force_login(maintainer)
    response = _raw_upload(client, case, sent_name, TEXT)
    assert response.status_code == 302, response.content.decode()
    attachment = CaseAttachment.objects.get()
    response = client.get(_download_url(case, attachment))
    disposition = response["Content-Disposition"]
    assert stored_name in disposition
    assert all(c.isprintable() for c in disposition)
    assert "/" not in disposition.split("filename", 1)[1]
    # Stored under random ids inside the attachment root, whatever the name said.
    [path] = _stored_files(settings)
    assert path.name == str(attachment.public_id)
    assert path.parent.name == str(case.public_id)


@pytest.mark.parametrize(
    ("sent_name", "extension", "expected"),
    [
        ("../../etc/passwd", "txt", "passwd.txt"),
        ("C:\\Users\\me\\secret.pdf", "pdf", "secret.pdf"),
        ("a\x00b\x1f\x7fc.png", "png", "a_b_c.png"),
        ("report\r\nX-Injected: yes.txt", "txt", "report_X-Injected_ yes.txt"),
        ('quote".pdf', "pdf", "quote.pdf"),
        ("<script>alert(1)</script>.png", "png", "script.png"),
        ("", "gif", "attachment.gif"),
        ("x" * 300 + ".txt", "txt", "x" * 100 + ".txt"),
    ],
)
def test_clean_filename_strips_paths_and_control_characters(
    sent_name, extension, expected
):
    assert clean_filename(sent_name, extension) == expected


def test_maintainer_cannot_download_an_internal_file(
    client, case, maintainer, caseworker
):
    internal = services.add_attachment(
        case=case, actor=caseworker, name="notes.txt", data=TEXT, internal=True
    )
    client.force_login(caseworker)
    assert client.get(_download_url(case, internal)).status_code == 200
    client.force_login(maintainer)
    assert client.get(_download_url(case, internal)).status_code == 404
    page = client.get(reverse("cases:detail", args=[case.public_id])).content.decode()
    assert str(internal.public_id) not in page


def test_maintainer_cannot_upload_an_internal_file(client, case, maintainer, settings):
    client.force_login(maintainer)
    response = _upload(client, case, "a.txt", TEXT, internal="on")
    assert response.status_code == 400
    assert "Only the case&#x27;s caseworkers can add internal files." in (
        response.content.decode()
    )
    assert _nothing_stored(settings)


@pytest.mark.parametrize(
    "role", ["stranger", "other_maintainer", "unassigned_caseworker", "steward"]
)
def test_people_without_access_get_404_on_upload_and_download(
    request, client, case, maintainer, settings, role
):
    attachment = services.add_attachment(
        case=case, actor=maintainer, name="a.txt", data=TEXT
    )
    client.force_login(request.getfixturevalue(role))
    assert client.get(_download_url(case, attachment)).status_code == 404
    assert _upload(client, case, "b.txt", TEXT).status_code == 404
    assert CaseAttachment.objects.count() == 1
    assert len(_stored_files(settings)) == 1
    assert not AuditEvent.objects.filter(action="attachment.downloaded").exists()


def test_attachment_of_another_case_is_a_404(client, case, maintainer, project):
    other = services.open_case(
        actor=maintainer,
        project=project,
        category="burnout",
        urgency=3,
        help_wanted=["talk"],
        narrative="Another one.",
    )
    attachment = services.add_attachment(
        case=other, actor=maintainer, name="a.txt", data=TEXT
    )
    client.force_login(maintainer)
    # SECURITY: the file id must belong to the case in the URL, not just to a readable case.
    url = reverse(
        "cases:download-attachment", args=[case.public_id, attachment.public_id]
    )
    assert client.get(url).status_code == 404


def test_every_download_is_audited(client, case, maintainer, caseworker):
    attachment = services.add_attachment(
        case=case, actor=maintainer, name="a.txt", data=TEXT
    )
    client.force_login(caseworker)
    client.get(_download_url(case, attachment))
    client.get(_download_url(case, attachment))
    client.force_login(maintainer)
    client.get(_download_url(case, attachment))
    events = list(
        AuditEvent.objects.filter(action="attachment.downloaded").order_by("id")
    )
    assert [e.actor for e in events] == [caseworker, caseworker, maintainer]
    assert {(e.object_type, e.object_id) for e in events} == {
        ("cases.case", str(case.public_id))
    }
    assert {e.data["attachment"] for e in events} == {str(attachment.public_id)}
    assert {e.source_ip for e in events} == {"127.0.0.1"}


def test_no_files_on_a_closed_case(client, case, maintainer, caseworker, settings):
    services.change_status(case=case, actor=caseworker, to_status="closed")
    client.force_login(maintainer)
    response = _upload(client, case, "a.txt", TEXT)
    assert response.status_code == 400
    assert _nothing_stored(settings)
