"""The second-factor gate: caseworkers and staff enrol an authenticator app before any case,
notice review or admin page; signing in with one asks for its code."""

import time
from urllib.parse import urlencode

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.contrib.messages import get_messages
from django.urls import reverse

from cases.models import Case
from portal.accounts.mfa import GATE_MESSAGE, PENDING_NEXT_SESSION_KEY
from portal.accounts.services import enrol_totp
from portal.notices.models import HandoverNotice
from tests.factories import PASSWORD, UserFactory
from tests.portal.notices.conftest import draft
from tests.totp import code_at, enrol, fresh_code, secret_of

pytestmark = pytest.mark.django_db

ENROL_URL = reverse("mfa_activate_totp")
AUTHENTICATE_URL = reverse("mfa_authenticate")


@pytest.fixture
def staff_member(db):
    return UserFactory(email="stan@example.org", is_staff=True)


@pytest.fixture
def superuser(db):
    return UserFactory(email="sue@example.org", is_staff=True, is_superuser=True)


@pytest.fixture
def pending_notice(caseworker):
    return draft(caseworker)


def _gated_urls(case, notice):
    return {
        "case list": reverse("cases:list"),
        "new case": reverse("cases:create"),
        "case detail": reverse("cases:detail", args=[case.public_id]),
        "queue": reverse("cases:queue"),
        "conflicts": reverse("cases:conflicts"),
        "notice review": reverse("notices:review"),
        "admin": reverse("admin:index"),
        "admin login": reverse("admin:login"),
        "admin users": reverse("admin:accounts_user_changelist"),
    }


def _enrol_redirect(path):
    return f"{ENROL_URL}?{urlencode({'next': path})}"


def _sign_in_with_password(client, user):
    """The real sign-in form, so allauth records how the person signed in."""
    response = client.post(
        reverse("account_login"), {"login": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    return response


def _confirm_password(client, response):
    """allauth asks for the password again before adding an authenticator (`next` is kept)."""
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    return client.post(response["Location"], {"password": PASSWORD}, follow=True)


# --- Who is held, and where ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    [
        "case list",
        "new case",
        "case detail",
        "queue",
        "conflicts",
        "notice review",
        "admin",
        "admin login",
        "admin users",
    ],
)
def test_caseworker_without_mfa_is_sent_to_enrolment(
    client, caseworker_without_mfa, case, pending_notice, page
):
    path = _gated_urls(case, pending_notice)[page]
    client.force_login(caseworker_without_mfa)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == _enrol_redirect(path)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [GATE_MESSAGE]


def test_posts_of_a_caseworker_without_mfa_change_nothing(
    client, caseworker_without_mfa, new_case, pending_notice
):
    client.force_login(caseworker_without_mfa)
    response = client.post(reverse("cases:assign-self", args=[new_case.public_id]))
    # A POST is not replayed after enrolment, so there is no `next` to come back to.
    assert response["Location"] == ENROL_URL
    assert not Case.objects.get(pk=new_case.pk).caseworkers.exists()

    revision = pending_notice.revisions.get()
    response = client.post(reverse("notices:approve", args=[revision.public_id]))
    assert response["Location"] == ENROL_URL
    pending_notice.refresh_from_db()
    assert pending_notice.status == HandoverNotice.Status.AWAITING_APPROVAL


@pytest.mark.parametrize(
    "page", ["case list", "case detail", "queue", "conflicts", "notice review"]
)
def test_caseworker_with_mfa_goes_through(
    client, caseworker, case, pending_notice, page
):
    assert Authenticator.objects.filter(
        user=caseworker, type=Authenticator.Type.TOTP
    ).exists()
    client.force_login(caseworker)
    response = client.get(_gated_urls(case, pending_notice)[page])
    assert response.status_code == 200


def test_caseworker_with_mfa_but_not_staff_gets_no_admin(client, caseworker):
    client.force_login(caseworker)
    response = client.get(reverse("admin:index"), follow=True)
    assert response.status_code == 403
    assert response.redirect_chain == [
        (f"{reverse('admin:login')}?next={reverse('admin:index')}", 302)
    ]


@pytest.mark.parametrize(
    "name",
    [
        "home",
        "notices:list",
        "account_email",
        "account_change_password",
        "mfa_index",
        "mfa_activate_totp",
    ],
)
def test_caseworker_without_mfa_keeps_the_rest_of_the_portal(
    client, caseworker_without_mfa, name
):
    _sign_in_with_password(client, caseworker_without_mfa)
    response = client.get(reverse(name), follow=True)
    assert response.status_code == 200
    assert ENROL_URL not in [url for url, _ in response.redirect_chain]


def test_caseworker_without_mfa_can_sign_out(client, caseworker_without_mfa):
    _sign_in_with_password(client, caseworker_without_mfa)
    client.post(reverse("account_logout"))
    assert "_auth_user_id" not in client.session


def test_maintainer_is_not_forced_to_enrol(client, maintainer, case):
    client.force_login(maintainer)
    assert client.get(reverse("cases:list")).status_code == 200
    assert client.get(reverse("cases:create")).status_code == 200
    assert client.get(reverse("cases:detail", args=[case.public_id])).status_code == 200


def test_maintainer_finds_enrolment_in_the_account_area(client, maintainer):
    _sign_in_with_password(client, maintainer)
    page = client.get(reverse("account_email")).content.decode()
    assert f'href="{reverse("mfa_index")}"' in page
    page = client.get(reverse("mfa_index")).content.decode()
    assert f'href="{ENROL_URL}"' in page
    response = _confirm_password(client, client.get(ENROL_URL))
    assert response.status_code == 200
    assert "Authenticator secret" in response.content.decode()


@pytest.mark.parametrize("person", ["staff_member", "superuser"])
@pytest.mark.parametrize("page", ["admin", "admin users", "case list"])
def test_staff_and_superusers_without_mfa_are_sent_to_enrolment(
    client, request, case, pending_notice, person, page
):
    path = _gated_urls(case, pending_notice)[page]
    client.force_login(request.getfixturevalue(person))
    response = client.get(path)
    assert response["Location"] == _enrol_redirect(path)


@pytest.mark.parametrize("person", ["staff_member", "superuser"])
def test_staff_and_superusers_with_mfa_reach_the_admin(client, request, person):
    user = request.getfixturevalue(person)
    enrol(user)
    client.force_login(user)
    assert client.get(reverse("admin:index")).status_code == 200
    response = client.get(reverse("admin:login"))
    assert response["Location"] == reverse("admin:index")


# --- Enrolment and the way back ---------------------------------------------------------------


def test_enrolment_brings_the_caseworker_back_to_the_page_they_asked_for(
    client, caseworker_without_mfa
):
    _sign_in_with_password(client, caseworker_without_mfa)
    queue = reverse("cases:queue")
    response = client.get(queue)
    assert response["Location"] == _enrol_redirect(queue)
    response = client.get(response["Location"])
    response = _confirm_password(client, response)
    assert response.redirect_chain[-1] == (_enrol_redirect(queue), 302)
    page = response.content.decode()
    assert GATE_MESSAGE in page
    assert "Authenticator secret" in page
    secret = response.context["form"].secret
    assert response.context["form"].secret in page

    response = client.post(
        ENROL_URL, {"code": code_at(secret, time.time())}, follow=True
    )
    assert response.redirect_chain == [(reverse("mfa_view_recovery_codes"), 302)]
    assert secret_of(caseworker_without_mfa) == secret
    codes = RecoveryCodes(
        Authenticator.objects.get(
            user=caseworker_without_mfa, type=Authenticator.Type.RECOVERY_CODES
        )
    ).get_unused_codes()
    assert len(codes) == 10
    page = response.content.decode()
    assert codes[0] in page
    assert f'<a href="{queue}">continue to the page you asked for</a>' in page

    assert client.get(queue).status_code == 200
    assert PENDING_NEXT_SESSION_KEY not in client.session


def test_a_wrong_enrolment_code_enrols_nothing(client, caseworker_without_mfa):
    _sign_in_with_password(client, caseworker_without_mfa)
    response = _confirm_password(client, client.get(ENROL_URL))
    secret = response.context["form"].secret
    wrong = f"{(int(code_at(secret, time.time())) + 1) % 1_000_000:06d}"
    response = client.post(ENROL_URL, {"code": wrong})
    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert not Authenticator.objects.filter(user=caseworker_without_mfa).exists()
    assert client.get(reverse("cases:queue")).status_code == 302


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/cases/queue/",
        "//evil.example/cases/queue/",
        "/projects/",
        "/no/such/page/",
    ],
)
def test_enrolment_only_remembers_local_gated_pages(
    client, caseworker_without_mfa, next_url
):
    _sign_in_with_password(client, caseworker_without_mfa)
    client.get(ENROL_URL, {"next": next_url})
    assert PENDING_NEXT_SESSION_KEY not in client.session


def test_enrol_totp_refuses_a_bad_secret_and_a_second_app(caseworker_without_mfa):
    with pytest.raises(ValueError, match="base32"):
        enrol_totp(user=caseworker_without_mfa, secret="not base32!")
    assert not Authenticator.objects.filter(user=caseworker_without_mfa).exists()
    enrol(caseworker_without_mfa)
    with pytest.raises(ValueError, match="already has an authenticator app"):
        enrol_totp(user=caseworker_without_mfa, secret="JBSWY3DPEHPK3PXP")
    assert Authenticator.objects.filter(user=caseworker_without_mfa).count() == 2


# --- Signing in with a second factor ---------------------------------------------------------


def test_sign_in_asks_an_enrolled_caseworker_for_the_code(client, caseworker):
    response = _sign_in_with_password(client, caseworker)
    assert response["Location"] == AUTHENTICATE_URL
    assert "_auth_user_id" not in client.session
    # Not signed in yet: the gated pages still send them to sign in.
    response = client.get(reverse("cases:queue"))
    assert response["Location"].startswith(reverse("account_login"))

    code = fresh_code(secret_of(caseworker))
    response = client.post(AUTHENTICATE_URL, {"code": code})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(caseworker.pk)
    assert client.get(reverse("cases:queue")).status_code == 200


def test_a_wrong_code_is_refused_at_sign_in(client, caseworker):
    _sign_in_with_password(client, caseworker)
    secret = secret_of(caseworker)
    right = fresh_code(secret)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    response = client.post(AUTHENTICATE_URL, {"code": wrong})
    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_used_code_cannot_be_replayed(client, caseworker):
    secret = secret_of(caseworker)
    code = fresh_code(secret, margin=15)
    _sign_in_with_password(client, caseworker)
    assert client.post(AUTHENTICATE_URL, {"code": code}).status_code == 302
    client.post(reverse("account_logout"))

    _sign_in_with_password(client, caseworker)
    assert code == code_at(secret, time.time()), "the code must still be current"
    response = client.post(AUTHENTICATE_URL, {"code": code})
    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_recovery_code_signs_in_once(client, caseworker):
    codes = RecoveryCodes(
        Authenticator.objects.get(
            user=caseworker, type=Authenticator.Type.RECOVERY_CODES
        )
    ).get_unused_codes()
    _sign_in_with_password(client, caseworker)
    assert client.post(AUTHENTICATE_URL, {"code": codes[0]}).status_code == 302
    assert client.session["_auth_user_id"] == str(caseworker.pk)
    client.post(reverse("account_logout"))

    _sign_in_with_password(client, caseworker)
    response = client.post(AUTHENTICATE_URL, {"code": codes[0]})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


# --- The admin has no door of its own ------------------------------------------------------------


def _shows_a_password_form(response) -> bool:
    page = response.content.decode()
    return 'name="password"' in page or "this_is_the_login_form" in page


def test_admin_login_sends_visitors_to_the_portal_sign_in(client):
    response = client.get(reverse("admin:login"), {"next": reverse("admin:index")})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next=/admin/"
    assert not _shows_a_password_form(response)


def test_admin_login_checks_no_password(client, staff_member):
    enrol(staff_member)
    response = client.post(
        reverse("admin:login"), {"username": staff_member.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "_auth_user_id" not in client.session


def test_admin_login_refuses_a_signed_in_non_staff_user(client, maintainer, superuser):
    client.force_login(maintainer)
    response = client.get(reverse("admin:login"))
    assert response.status_code == 403
    assert not _shows_a_password_form(response)
    # Nor can they switch to a staff account through it.
    response = client.post(
        reverse("admin:login"), {"username": superuser.email, "password": PASSWORD}
    )
    assert response.status_code == 403
    assert client.session["_auth_user_id"] == str(maintainer.pk)


def test_admin_is_refused_to_non_staff(client, maintainer):
    client.force_login(maintainer)
    response = client.get(reverse("admin:accounts_user_changelist"), follow=True)
    assert response.status_code == 403
    assert not _shows_a_password_form(response)


def test_admin_login_does_not_redirect_off_site(client, staff_member):
    enrol(staff_member)
    client.force_login(staff_member)
    response = client.get(reverse("admin:login"), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("admin:index")
