import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from portal.accounts import roles
from portal.accounts.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough passphrase 42"


def _sign_up(client, email="new@example.org"):
    return client.post(
        reverse("account_signup"),
        {"email": email, "password1": PASSWORD, "password2": PASSWORD},
    )


def test_sign_up_makes_a_maintainer_who_must_verify_their_email(client):
    response = _sign_up(client, "New.Person@Example.org")
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get()
    assert user.email == "new.person@example.org"
    assert roles.has_role(user, roles.MAINTAINER)
    assert not roles.has_role(user, roles.CASEWORKER)
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1
    # Mandatory verification: signing in before confirming sends you to the "verify" page.
    response = client.post(
        reverse("account_login"), {"login": user.email, "password": PASSWORD}
    )
    assert response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session


def test_confirming_the_email_lets_the_maintainer_in(client):
    _sign_up(client)
    link = re.search(
        r"http://testserver(/accounts/confirm-email/[^\s]+/)", mail.outbox[0].body
    ).group(1)
    client.post(link)
    assert EmailAddress.objects.get().verified
    response = client.post(
        reverse("account_login"), {"login": "new@example.org", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(User.objects.get().pk)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"email": "not-an-email", "password1": PASSWORD, "password2": PASSWORD},
            "Enter a valid email address.",
        ),
        (
            {"email": "a@example.org", "password1": "short", "password2": "short"},
            "too short",
        ),
        (
            {
                "email": "a@example.org",
                "password1": PASSWORD,
                "password2": PASSWORD + "x",
            },
            "same password",
        ),
    ],
)
def test_bad_sign_up_input_is_refused_clearly(client, data, message):
    response = client.post(reverse("account_signup"), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert User.objects.count() == 0


def test_password_reset_mails_a_link(client, maintainer):
    response = client.post(
        reverse("account_reset_password"), {"email": maintainer.email}
    )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


def test_admin_has_no_login_form_of_its_own(client):
    response = client.get("/admin/login/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
