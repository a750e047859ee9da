"""Every case URL × every role that may not see the case: always a 404, never a change.

One setup (the `case` fixture: opened by `maintainer`, assigned to `caseworker`) is shared by
every row, so a refusal cannot pass for the wrong reason: the same request as an allowed role
succeeds (see test_allowed_roles_reach_every_case_url).
"""

import pytest
from django.urls import reverse

from cases.models import Case, CaseEvent, CaseMessage
from portal.audit.models import AuditEvent
from portal.notices.models import HandoverNotice
from tests.conftest import CANARY_NARRATIVE

pytestmark = pytest.mark.django_db

DRAFT = {
    "project_name": "tinyzip",
    "ecosystem": "generic",
    "repository_url": "https://github.com/example/tinyzip",
    "purls": "pkg:github/example/tinyzip",
    "window_start": "2026-12-01",
    "steward_name": "Stella",
    "steward_handle": "@stella",
    "guidance": "Scrutinise releases.",
}

# (method, url name, POST data, status an allowed role gets, which allowed role)
CASE_URLS = [
    ("get", "cases:detail", None, 200, "maintainer"),
    ("post", "cases:post-message", {"body": "hello"}, 302, "maintainer"),
    ("get", "cases:draft-handover", None, 200, "caseworker"),
    ("post", "cases:draft-handover", DRAFT, 302, "caseworker"),
    ("post", "cases:change-status", {"status": "triaged"}, 302, "caseworker"),
]
REFUSED_ROLES = ["stranger", "other_maintainer", "unassigned_caseworker", "steward"]


def _snapshot():
    return (
        Case.objects.values_list("status", flat=True).first(),
        CaseMessage.objects.count(),
        CaseEvent.objects.count(),
        HandoverNotice.objects.count(),
        AuditEvent.objects.exclude(action="case.viewed").count(),
    )


@pytest.mark.parametrize("role", REFUSED_ROLES)
@pytest.mark.parametrize(("method", "name", "data", "ok_status", "ok_role"), CASE_URLS)
def test_roles_without_access_get_404_and_change_nothing(
    request, client, case, role, method, name, data, ok_status, ok_role
):
    client.force_login(request.getfixturevalue(role))
    before = _snapshot()
    response = getattr(client, method)(reverse(name, args=[case.public_id]), data=data)
    assert response.status_code == 404
    assert CANARY_NARRATIVE not in response.content.decode()
    assert _snapshot() == before


@pytest.mark.parametrize(("method", "name", "data", "ok_status", "ok_role"), CASE_URLS)
def test_allowed_roles_reach_every_case_url(
    request, client, case, method, name, data, ok_status, ok_role
):
    client.force_login(request.getfixturevalue(ok_role))
    response = getattr(client, method)(reverse(name, args=[case.public_id]), data=data)
    assert response.status_code == ok_status


@pytest.mark.parametrize(("method", "name", "data", "ok_status", "ok_role"), CASE_URLS)
def test_anonymous_visitors_are_sent_to_sign_in(
    client, case, method, name, data, ok_status, ok_role
):
    before = _snapshot()
    response = getattr(client, method)(reverse(name, args=[case.public_id]), data=data)
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
    client.force_login(stranger)
    assert client.get(reverse("cases:detail", args=[case.public_id])).status_code == 404
