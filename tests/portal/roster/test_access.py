"""Who reaches which roster page: one matrix of URL x role sharing one setup."""

import pytest
from django.urls import reverse

from portal.roster.models import IdentityCheck, StewardProfile

LOGIN = "/accounts/login/"
ENROL = "/accounts/2fa/totp/activate"

# (name, method, needs a steward id). Caseworker POSTs are sent empty, so a caseworker gets
# the form's 400 (the view ran) while everyone else must be stopped before it.
CASEWORKER_PAGES = [
    ("roster:list", "get", False),
    ("roster:detail", "get", True),
    ("roster:identity-check", "post", True),
    ("roster:vet", "post", True),
    ("roster:clear-hold", "post", True),
    ("roster:record-involvement", "post", True),
]
EXPECTED = {
    "anonymous": "login",
    "stranger": 403,
    "maintainer": 403,
    "steward": 403,
    "applicant_user": 403,
    "caseworker_without_mfa": "enrol",
    "caseworker": "ok",
}


@pytest.fixture
def as_role(request, client, applicant):
    def login(role):
        if role == "anonymous":
            return client
        user = (
            applicant.user
            if role == "applicant_user"
            else request.getfixturevalue(role)
        )
        client.force_login(user)
        return client

    return login


@pytest.mark.parametrize(("name", "method", "with_id"), CASEWORKER_PAGES)
@pytest.mark.parametrize("role", list(EXPECTED))
def test_caseworker_pages_matrix(as_role, applicant, role, name, method, with_id):
    client = as_role(role)
    url = reverse(name, args=[applicant.public_id] if with_id else [])
    response = getattr(client, method)(url)
    expected = EXPECTED[role]
    if expected == "login":
        assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    elif expected == "enrol":
        assert response.status_code == 302 and response["Location"].startswith(ENROL)
    elif expected == "ok":
        assert response.status_code == (200 if method == "get" else 400)
    else:
        assert response.status_code == expected
    applicant.refresh_from_db()
    assert applicant.status == StewardProfile.Status.APPLIED
    assert not IdentityCheck.objects.exists()


def test_unknown_steward_is_404_for_a_caseworker(client, caseworker):
    client.force_login(caseworker)
    url = reverse("roster:detail", args=["00000000-0000-4000-8000-000000000000"])
    assert client.get(url).status_code == 404


def test_non_uuid_steward_id_is_404(client, caseworker):
    client.force_login(caseworker)
    assert client.get("/roster/12/").status_code == 404
    assert client.get("/roster/not-a-uuid/vouch/").status_code == 404


@pytest.mark.parametrize("name", ["roster:apply", "roster:me"])
def test_steward_pages_need_sign_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_vouch_page_needs_sign_in(client, applicant):
    response = client.get(reverse("roster:vouch", args=[applicant.public_id]))
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
