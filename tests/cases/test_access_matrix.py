"""Every case URL × every role that may not see the case: always a 404, never a change.

One setup (the `case` fixture: opened by `maintainer`, assigned to `caseworker`) is shared by
every row, so a refusal cannot pass for the wrong reason: the same request as an allowed role
succeeds (see test_allowed_roles_reach_every_case_url).
"""

from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases import services
from cases.models import Case, CaseAttachment, CaseEvent, CaseMessage
from portal.audit.models import AuditEvent
from portal.notices.models import HandoverNotice
from tests.conftest import CANARY_NARRATIVE
from tests.factories import UserFactory
from tests.portal.notices.conftest import HANDOVER_FORM  # noqa: E402
from tests.totp import enrol

pytestmark = pytest.mark.django_db

DRAFT = HANDOVER_FORM


def _upload(setup):
    return {"file": SimpleUploadedFile("note.txt", b"Plain words, nothing else.")}


def _colleague(setup):
    return {"caseworker": setup.colleague.pk}


def _co_maintainer(setup):
    return {"email": setup.co_maintainer.email}


# (method, url name, POST data or a function of the shared setup giving it, status an allowed
# role gets, which allowed role)
CASE_URLS = [
    ("get", "cases:detail", None, 200, "maintainer"),
    ("post", "cases:post-message", {"body": "hello"}, 302, "maintainer"),
    ("get", "cases:draft-handover", None, 200, "caseworker"),
    ("post", "cases:draft-handover", DRAFT, 302, "caseworker"),
    ("post", "cases:change-status", {"status": "triaged"}, 302, "caseworker"),
    ("post", "cases:add-attachment", _upload, 302, "maintainer"),
    ("get", "cases:download-attachment", None, 200, "maintainer"),
    ("post", "cases:assign-colleague", _colleague, 302, "caseworker"),
    ("post", "cases:unassign-self", None, 302, "caseworker"),
    ("post", "cases:add-co-maintainer", _co_maintainer, 302, "maintainer"),
    ("get", "cases:withdraw", None, 200, "maintainer"),
    ("post", "cases:withdraw", None, 302, "maintainer"),
]
REFUSED_ROLES = ["stranger", "other_maintainer", "unassigned_caseworker", "steward"]


@pytest.fixture
def setup(case, maintainer, second_caseworker, project):
    """The one setup every row shares: `case`, a file on it, a caseworker colleague to assign,
    and a maintainer of the same project who could be added as a co-maintainer."""
    from portal.projects.services import register_project

    co_maintainer = UserFactory(email="cora@example.org", display_name="Cora Co")
    register_project(
        actor=co_maintainer,
        name=project.name,
        ecosystem=project.ecosystem,
        repository_url=project.repository_url,
        purls=project.purls,
    )
    attachment = services.add_attachment(
        case=case, actor=maintainer, name="evidence.txt", data=b"Shared evidence."
    )
    return SimpleNamespace(
        case=case,
        attachment=attachment,
        colleague=second_caseworker,
        co_maintainer=co_maintainer,
    )


def _request(client, method, name, data, setup):
    args = [setup.case.public_id]
    if name == "cases:download-attachment":
        args.append(setup.attachment.public_id)
    data = data(setup) if callable(data) else data
    return getattr(client, method)(reverse(name, args=args), data=data)


def _snapshot():
    return (
        Case.objects.values_list("status", flat=True).first(),
        Case.objects.values_list("wrapped_key", flat=True).first() is None,
        CaseMessage.objects.count(),
        CaseEvent.objects.count(),
        CaseAttachment.objects.count(),
        Case.caseworkers.through.objects.count(),
        Case.co_maintainers.through.objects.count(),
        HandoverNotice.objects.count(),
        # Reads are audited too; a snapshot compares writes.
        AuditEvent.objects.exclude(
            action__in=["case.viewed", "attachment.downloaded"]
        ).count(),
    )


@pytest.mark.parametrize("role", REFUSED_ROLES)
@pytest.mark.parametrize(("method", "name", "data", "ok_status", "ok_role"), CASE_URLS)
def test_roles_without_access_get_404_and_change_nothing(
    request, client, setup, role, method, name, data, ok_status, ok_role
):
    client.force_login(request.getfixturevalue(role))
    before = _snapshot()
    response = _request(client, method, name, data, setup)
    assert response.status_code == 404
    assert CANARY_NARRATIVE not in response.content.decode()
    assert _snapshot() == before


@pytest.mark.parametrize(("method", "name", "data", "ok_status", "ok_role"), CASE_URLS)
def test_allowed_roles_reach_every_case_url(
    request, client, setup, method, name, data, ok_status, ok_role
):
    client.force_login(request.getfixturevalue(ok_role))
    before = _snapshot()
    response = _request(client, method, name, data, setup)
    assert response.status_code == ok_status
    # A POST that succeeds changes something: the refusals above are not "nothing happens anyway".
    assert (_snapshot() != before) == (method == "post")


@pytest.mark.parametrize(("method", "name", "data", "ok_status", "ok_role"), CASE_URLS)
def test_anonymous_visitors_are_sent_to_sign_in(
    client, setup, method, name, data, ok_status, ok_role
):
    before = _snapshot()
    response = _request(client, method, name, data, setup)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert _snapshot() == before


@pytest.mark.parametrize("role", ["maintainer", "caseworker", "unassigned_caseworker"])
def test_unknown_case_id_is_the_same_404(request, client, case, role):
    client.force_login(request.getfixturevalue(role))
    response = client.get("/cases/00000000-0000-4000-8000-000000000000/")
    assert response.status_code == 404


def test_integer_ids_do_not_resolve(client, case, maintainer):
    client.force_login(maintainer)
    assert client.get(f"/cases/{case.pk}/").status_code == 404


@pytest.mark.parametrize(
    "role", ["maintainer", "other_maintainer", "stranger", "steward"]
)
def test_only_caseworkers_can_take_a_case_from_the_pool(
    request, client, new_case, role
):
    client.force_login(request.getfixturevalue(role))
    response = client.post(reverse("cases:assign-self", args=[new_case.public_id]))
    assert response.status_code == 403
    assert new_case.caseworkers.count() == 0


def test_an_assigned_case_cannot_be_taken_by_another_caseworker(
    client, case, unassigned_caseworker
):
    client.force_login(unassigned_caseworker)
    response = client.post(reverse("cases:assign-self", args=[case.public_id]))
    assert response.status_code == 404
    assert list(case.caseworkers.all()) != [unassigned_caseworker]
    assert not unassigned_caseworker.has_perm("cases.view_case", case)


def test_superuser_without_assignment_gets_404(client, case, stranger):
    stranger.is_superuser = True
    stranger.is_staff = True
    stranger.save(update_fields=["is_superuser", "is_staff"])
    enrol(stranger)  # past the second-factor gate, so the 404 is the permission's
    client.force_login(stranger)
    assert client.get(reverse("cases:detail", args=[case.public_id])).status_code == 404
