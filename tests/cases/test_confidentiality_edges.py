"""Edges found in review: places where a case could show itself without the access rules."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases import services
from cases.models import CaseEvent
from portal.audit.models import AuditEvent
from tests.conftest import CANARY_NARRATIVE

pytestmark = pytest.mark.django_db


def test_the_admin_shows_no_case_and_no_case_event(client, case, stranger):
    from tests.totp import enrol

    stranger.is_superuser = stranger.is_staff = True
    stranger.save(update_fields=["is_superuser", "is_staff"])
    enrol(stranger)
    client.force_login(stranger)
    assert client.get("/admin/cases/case/").status_code == 404
    events = client.get("/admin/audit/auditevent/")
    assert events.status_code == 200
    assert str(case.public_id) not in events.content.decode()


def test_internal_files_leave_no_trace_for_the_maintainer(
    client, case, maintainer, caseworker
):
    attachment = services.add_attachment(
        case=case, actor=caseworker, name="notes.txt", data=b"our notes", internal=True
    )
    services.read_attachment(attachment=attachment, actor=caseworker)
    assert not case.events.filter(kind=CaseEvent.Kind.ATTACHMENT_ADDED).exists()
    client.force_login(maintainer)
    response = client.get(reverse("cases:detail", args=[case.public_id]))
    assert [e.action for e in response.context["access_log"]] == []
    assert "File attached" not in response.content.decode()


def test_a_shared_file_download_is_in_the_maintainers_access_log(
    client, case, maintainer, caseworker
):
    attachment = services.add_attachment(
        case=case, actor=maintainer, name="a.txt", data=b"text"
    )
    services.read_attachment(attachment=attachment, actor=caseworker)
    client.force_login(maintainer)
    response = client.get(reverse("cases:detail", args=[case.public_id]))
    assert [e.action for e in response.context["access_log"]] == [
        "attachment.downloaded"
    ]


def test_a_refused_post_that_shows_the_case_is_audited_as_a_read(
    client, case, caseworker
):
    client.force_login(caseworker)
    response = client.post(
        reverse("cases:post-message", args=[case.public_id]), {"body": ""}
    )
    assert response.status_code == 400
    assert CANARY_NARRATIVE in response.content.decode()
    assert (
        AuditEvent.objects.filter(action="case.viewed", actor=caseworker).count() == 1
    )


def test_a_request_carries_at_most_one_file(client):
    files = [SimpleUploadedFile(f"{n}.txt", b"x") for n in range(2)]
    response = client.post(
        reverse("notices:subscribe"), {"email": "a@example.org", "file": files}
    )
    assert response.status_code == 400
