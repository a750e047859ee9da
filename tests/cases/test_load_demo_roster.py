"""The demo's roster: vetted through the roster's services, and one excluded candidate whose
reason shows on the matching page of Maya's tinyzip case."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from cases.models import IdentityOfConcern, StewardRequest
from portal.accounts.models import User
from portal.roster.models import StewardProfile, Vouch

pytestmark = pytest.mark.django_db


def test_the_demo_roster_is_vetted_through_the_services():
    call_command("load_demo")
    vetted = StewardProfile.objects.filter(status=StewardProfile.Status.VETTED)
    assert vetted.count() == 5
    assert all(s.is_vetted for s in vetted)
    colin = User.objects.get(email="colin@example.org")
    for handle in ("jun-takahashi", "kit-newcomer"):
        steward = StewardProfile.objects.get(handle=handle)
        # Vetted by vet_steward: the approving caseworker is not the one who checked identity.
        assert steward.vetted_by == colin
        assert steward.identity_checks.get().recorded_by.email == "cara@example.org"
        assert Vouch.objects.filter(vouchee=steward).count() == 2
    assert StewardProfile.objects.filter(keys__isnull=True).count() == 0
    assert IdentityOfConcern.objects.count() == 1


def test_the_demo_matching_page_shows_the_eager_newcomer_excluded(client):
    call_command("load_demo")
    cara = User.objects.get(email="cara@example.org")
    steward_request = StewardRequest.objects.get()
    # The demo caseworkers come enrolled with an authenticator app, so the gate lets Cara in.
    client.force_login(cara)
    response = client.get(
        reverse("cases:steward-matching", args=[steward_request.public_id])
    )
    assert response.status_code == 200
    page = response.content.decode()
    ranked, excluded = page.split('id="excluded"')
    for handle in ("stella-ruiz", "jun-takahashi", "omar-haddad"):
        assert handle in ranked
    assert "kit-newcomer" not in ranked
    assert "kit-newcomer" in excluded
    assert "First offered to help with this project on" in excluded
