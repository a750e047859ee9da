import pytest
from django.core.management import call_command

from cases.access import cases_visible_to
from cases.models import Case
from portal.accounts.models import User
from portal.notices.models import HandoverNotice

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
        "published",
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
