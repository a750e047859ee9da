import tomllib

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from cases.access import cases_visible_to
from cases.models import Case
from portal.accounts.models import User
from portal.notices.models import HandoverNotice
from tests.totp import fresh_code

pytestmark = pytest.mark.django_db


def test_demo_data_loads_once_through_the_services(capsys):
    call_command("load_demo")
    call_command("load_demo")
    out = capsys.readouterr().out
    assert "Demo data is already loaded." in out
    assert "cara@example.org" in out
    assert User.objects.filter(groups__name="caseworker").count() == 2
    assert Case.objects.count() == 3
    assert set(HandoverNotice.objects.values_list("status", flat=True)) == {
        "active",
        "awaiting_approval",
    }
    maya = User.objects.get(email="maya@example.org")
    lin = User.objects.get(email="lin@example.org")
    cara = User.objects.get(email="cara@example.org")
    # Real permissions: each maintainer sees only their own cases, the caseworker only the assigned one.
    assert cases_visible_to(maya).count() == 2
    assert cases_visible_to(lin).count() == 1
    assert cases_visible_to(cara).count() == 1


def test_demo_users_can_sign_in_with_the_printed_password(client):
    call_command("load_demo")
    response = client.post(
        "/accounts/login/",
        {"login": "maya@example.org", "password": "steady-demo-pass"},
    )
    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_demo_caseworkers_sign_in_with_their_published_authenticator_secrets(
    client, capsys
):
    demo = tomllib.loads((settings.BASE_DIR / "fixtures" / "demo.toml").read_text())
    readme = (settings.BASE_DIR / "README.md").read_text()
    call_command("load_demo")
    out = capsys.readouterr().out
    caseworkers = [u for u in demo["users"] if "caseworker" in u["roles"]]
    assert caseworkers
    for person in caseworkers:
        # Printed by the command and documented in the README, so a person can add it to an app.
        assert person["totp_secret"] in out
        assert person["totp_secret"] in readme
        client.post(
            reverse("account_login"),
            {"login": person["email"], "password": demo["password"]},
        )
        assert "_auth_user_id" not in client.session
        client.post(
            reverse("mfa_authenticate"), {"code": fresh_code(person["totp_secret"])}
        )
        user = User.objects.get(email=person["email"])
        assert client.session["_auth_user_id"] == str(user.pk)
        assert client.get(reverse("cases:queue")).status_code == 200
        client.post(reverse("account_logout"))
