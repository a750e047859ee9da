"""Roster pages through the client: status, redirect, message, and the rows that changed or not."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.services.concerns import record_identity_of_concern
from portal.roster.models import (
    IdentityCheck,
    ProjectInvolvement,
    SigningKey,
    StewardProfile,
    Vouch,
)
from tests.factories import (
    IdentityCheckFactory,
    ProjectFactory,
    VouchFactory,
    ssh_public_key_line,
)

DAY = datetime.timedelta(days=1)


def apply_form(**overrides):
    data = {
        "handle": "river",
        "forge_accounts": "github:River-Dev\ncodeberg:river",
        "ecosystems": ["pypi", "cargo"],
        "languages": "English, Deutsch",
        "skills": "Rust, Python, release engineering",
        "time_zone": "Europe/Berlin",
        "hours_per_week": "6",
        "max_assignments": "2",
        "statement": "Maintainer of two compression crates since 2017.",
        "public_keys": ssh_public_key_line() + "\n" + ssh_public_key_line("laptop"),
    }
    data.update(overrides)
    return data


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- Applying and one's own profile ----------------------------------------------------------


def test_application_through_the_page_shows_fingerprints_on_the_profile(
    client, stranger
):
    client.force_login(stranger)
    assert client.get(reverse("roster:apply")).status_code == 200
    response = client.post(reverse("roster:apply"), apply_form())
    assert response.status_code == 302
    assert response["Location"] == reverse("roster:me")
    profile = StewardProfile.objects.get(user=stranger)
    assert profile.forge_accounts == ["github:river-dev", "codeberg:river"]
    assert profile.ecosystems == ["pypi", "cargo"]
    assert profile.skills == ["rust", "python", "release engineering"]
    page = client.get(reverse("roster:me"))
    body = page.content.decode()
    for key in profile.keys.all():
        assert key.fingerprint in body
    assert reverse("roster:vouch", args=[profile.public_id]) in body


def test_malformed_key_is_refused_with_its_number_and_nothing_is_created(
    client, stranger
):
    client.force_login(stranger)
    response = client.post(
        reverse("roster:apply"),
        apply_form(public_keys=ssh_public_key_line() + "\nssh-ed25519 AAAAbroken"),
    )
    assert response.status_code == 400
    assert "Key 2: The SSH key" in response.content.decode()
    assert not StewardProfile.objects.exists() and not SigningKey.objects.exists()


def test_pasted_private_key_is_refused(client, stranger):
    client.force_login(stranger)
    response = client.post(
        reverse("roster:apply"),
        apply_form(
            public_keys="-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\n-----END OPENSSH PRIVATE KEY-----"
        ),
    )
    assert response.status_code == 400
    assert "This is a private key" in response.content.decode()
    assert not StewardProfile.objects.exists()


@pytest.mark.parametrize(
    "overrides",
    [
        {"time_zone": "Nowhere/Land"},
        {"hours_per_week": "many"},
        {"ecosystems": ["cobol"]},
        {"handle": ""},
        {"handle": "Not A Handle"},
        {"forge_accounts": "myspace:river"},
    ],
)
def test_bad_application_fields_get_400_and_nothing_changes(
    client, stranger, overrides
):
    client.force_login(stranger)
    response = client.post(reverse("roster:apply"), apply_form(**overrides))
    assert response.status_code == 400
    assert not StewardProfile.objects.exists()


def test_applicant_of_concern_sees_a_neutral_hold_and_no_case_fact(
    client, stranger, case, caseworker
):
    record_identity_of_concern(case=case, actor=caseworker, identity="github:river-dev")
    client.force_login(stranger)
    client.post(reverse("roster:apply"), apply_form())
    body = client.get(reverse("roster:me")).content.decode()
    assert "on hold until a caseworker has reviewed it" in body
    assert case.project.name not in body and str(case.public_id) not in body


def test_second_application_redirects_to_the_profile(client, applicant):
    client.force_login(applicant.user)
    response = client.get(reverse("roster:apply"))
    assert response.status_code == 302 and response["Location"] == reverse("roster:me")
    response = client.post(reverse("roster:apply"), apply_form(handle="again"))
    assert response.status_code == 302
    assert StewardProfile.objects.count() == 1


def test_me_without_a_profile_leads_to_the_application(client, stranger):
    client.force_login(stranger)
    response = client.get(reverse("roster:me"))
    assert response.status_code == 302 and response["Location"] == reverse(
        "roster:apply"
    )


def test_steward_adds_a_key_and_a_bad_key_changes_nothing(client, applicant):
    client.force_login(applicant.user)
    response = client.post(
        reverse("roster:add-key"), {"public_key": ssh_public_key_line()}
    )
    assert response.status_code == 302
    assert applicant.keys.count() == 1
    response = client.post(reverse("roster:add-key"), {"public_key": "ssh-rsa short"})
    assert response.status_code == 400
    assert "The key:" in response.content.decode()
    assert applicant.keys.count() == 1


def test_steward_declares_involvement_by_project_name(client, voucher_a):
    project = ProjectFactory(name="tinyzip", ecosystem="pypi")
    client.force_login(voucher_a.user)
    form = {
        "ecosystem": "pypi",
        "project_name": "TinyZip",
        "first_offered_help_on": (timezone.localdate() - 20 * DAY).isoformat(),
        "conflict_of_interest": "",
        "conflict_note": "",
    }
    assert client.post(reverse("roster:declare-involvement"), form).status_code == 302
    row = ProjectInvolvement.objects.get(steward=voucher_a, project=project)
    assert row.first_offered_help_on == timezone.localdate() - 20 * DAY
    # Moving it earlier is refused on the page too.
    form["first_offered_help_on"] = (timezone.localdate() - 900 * DAY).isoformat()
    response = client.post(reverse("roster:declare-involvement"), form)
    assert response.status_code == 400
    assert "ask a caseworker" in response.content.decode()
    row.refresh_from_db()
    assert row.first_offered_help_on == timezone.localdate() - 20 * DAY


def test_involvement_with_an_unknown_project_is_refused(client, voucher_a):
    client.force_login(voucher_a.user)
    response = client.post(
        reverse("roster:declare-involvement"),
        {"ecosystem": "pypi", "project_name": "does-not-exist"},
    )
    assert response.status_code == 400
    assert "No project of that name" in response.content.decode()
    assert not ProjectInvolvement.objects.exists()


# --- Vouching --------------------------------------------------------------------------------


def test_vetted_steward_vouches_through_the_link(client, voucher_a, applicant):
    client.force_login(voucher_a.user)
    url = reverse("roster:vouch", args=[applicant.public_id])
    page = client.get(url)
    assert page.status_code == 200 and applicant.statement in page.content.decode()
    response = client.post(url, {"statement": "Worked with them for years."})
    assert response.status_code == 302
    assert Vouch.objects.filter(voucher=voucher_a, vouchee=applicant).exists()
    again = client.post(url, {"statement": "Again."})
    assert again.status_code == 400
    assert "already vouched for newcomer" in again.content.decode()
    assert Vouch.objects.count() == 1


def test_self_vouch_through_a_crafted_url_is_refused(client, voucher_a):
    client.force_login(voucher_a.user)
    response = client.post(
        reverse("roster:vouch", args=[voucher_a.public_id]), {"statement": "Me!"}
    )
    assert response.status_code == 400
    assert "cannot vouch for yourself" in response.content.decode()
    assert not Vouch.objects.exists()


def test_newly_vetted_steward_is_told_when_they_may_vouch(client, voucher_a, applicant):
    StewardProfile.objects.filter(pk=voucher_a.pk).update(
        vetted_at=timezone.now() - DAY
    )
    client.force_login(voucher_a.user)
    response = client.post(
        reverse("roster:vouch", args=[applicant.public_id]), {"statement": "Yes."}
    )
    assert response.status_code == 400
    assert "90 days of being vetted" in response.content.decode()
    assert not Vouch.objects.exists()


def test_unvetted_and_suspended_stewards_get_403_from_the_vouch_page(
    client, applicant, voucher_a, voucher_b
):
    StewardProfile.objects.filter(pk=voucher_b.pk).update(status="suspended")
    for user in (applicant.user, voucher_b.user):
        client.force_login(user)
        url = reverse("roster:vouch", args=[voucher_a.public_id])
        assert client.get(url).status_code == 403
        assert client.post(url, {"statement": "x"}).status_code == 403
    assert not Vouch.objects.exists()


def test_vouch_for_an_unknown_steward_is_404(client, voucher_a):
    client.force_login(voucher_a.user)
    url = reverse("roster:vouch", args=["00000000-0000-4000-8000-000000000000"])
    assert client.post(url, {"statement": "x"}).status_code == 404


# --- Caseworker pages ------------------------------------------------------------------------


@pytest.fixture
def vouched_applicant(applicant, voucher_a, voucher_b):
    VouchFactory(voucher=voucher_a, vouchee=applicant)
    VouchFactory(voucher=voucher_b, vouchee=applicant)
    return applicant


def test_caseworker_records_the_check_and_only_a_second_caseworker_approves(
    client, vouched_applicant, caseworker, second_caseworker
):
    steward = vouched_applicant
    client.force_login(caseworker)
    detail = reverse("roster:detail", args=[steward.public_id])
    body = client.get(detail).content.decode()
    assert "No identity check is recorded." in body

    response = client.post(
        reverse("roster:identity-check", args=[steward.public_id]),
        {"method": "video-document", "checked_on": timezone.localdate().isoformat()},
    )
    assert response.status_code == 302
    assert IdentityCheck.objects.filter(
        steward=steward, recorded_by=caseworker
    ).exists()

    response = client.post(reverse("roster:vet", args=[steward.public_id]))
    assert response.status_code == 400
    assert "a second caseworker must approve" in response.content.decode()
    steward.refresh_from_db()
    assert steward.status == StewardProfile.Status.APPLIED

    client.force_login(second_caseworker)
    assert "Every rule holds" in client.get(detail).content.decode()
    response = client.post(reverse("roster:vet", args=[steward.public_id]))
    assert response.status_code == 302
    steward.refresh_from_db()
    assert steward.is_vetted and steward.vetted_by == second_caseworker


def test_approval_page_lists_the_vouching_ring(
    client, vouched_applicant, voucher_a, caseworker, second_caseworker
):
    IdentityCheckFactory(steward=vouched_applicant, recorded_by=caseworker)
    VouchFactory(
        voucher=vouched_applicant,
        vouchee=voucher_a,
        created_at=timezone.now() - 10 * DAY,
    )
    client.force_login(second_caseworker)
    response = client.post(reverse("roster:vet", args=[vouched_applicant.public_id]))
    assert response.status_code == 400
    assert "ada vouched for newcomer, who vouched for them" in response.content.decode()
    vouched_applicant.refresh_from_db()
    assert vouched_applicant.status == StewardProfile.Status.APPLIED


def test_identity_check_in_the_future_is_refused(client, applicant, caseworker):
    client.force_login(caseworker)
    response = client.post(
        reverse("roster:identity-check", args=[applicant.public_id]),
        {"method": "in-person", "checked_on": (timezone.localdate() + DAY).isoformat()},
    )
    assert response.status_code == 400
    assert "cannot be dated in the future" in response.content.decode()
    assert not IdentityCheck.objects.exists()


def test_caseworker_clears_a_hold(client, applicant, caseworker):
    StewardProfile.objects.filter(pk=applicant.pk).update(
        is_on_hold=True, hold_reason_code="identity-of-concern"
    )
    client.force_login(caseworker)
    url = reverse("roster:clear-hold", args=[applicant.public_id])
    assert client.post(url, {"note": ""}).status_code == 400
    applicant.refresh_from_db()
    assert applicant.is_on_hold
    assert client.post(url, {"note": "A namesake; met by video."}).status_code == 302
    applicant.refresh_from_db()
    assert not applicant.is_on_hold


def test_caseworker_records_involvement_for_a_steward(client, voucher_a, caseworker):
    project = ProjectFactory(name="xz-lite", ecosystem="deb")
    client.force_login(caseworker)
    response = client.post(
        reverse("roster:record-involvement", args=[voucher_a.public_id]),
        {
            "ecosystem": "deb",
            "project_name": "xz-lite",
            "first_contributed_on": (timezone.localdate() - 40 * DAY).isoformat(),
        },
    )
    assert response.status_code == 302
    row = ProjectInvolvement.objects.get(steward=voucher_a, project=project)
    assert row.recorded_by == caseworker


def test_suspend_form_on_the_steward_page_suspends_the_steward(
    client, voucher_a, caseworker
):
    client.force_login(caseworker)
    page = reverse("roster:detail", args=[voucher_a.public_id])
    body = client.get(page).content.decode()
    url = reverse("cases:suspend_steward", args=[voucher_a.public_id])
    assert f'action="{url}"' in body and 'name="reason"' in body
    response = client.post(url, {"reason": "Merged an unreviewed release script."})
    assert response.status_code == 302 and response["Location"] == page
    voucher_a.refresh_from_db()
    assert voucher_a.status == StewardProfile.Status.SUSPENDED
    assert "Suspend ada" not in client.get(page).content.decode()


def test_get_on_a_change_is_refused(client, applicant, caseworker):
    client.force_login(caseworker)
    for name in ("roster:vet", "roster:identity-check", "roster:clear-hold"):
        assert client.get(reverse(name, args=[applicant.public_id])).status_code == 405
    applicant.refresh_from_db()
    assert applicant.status == StewardProfile.Status.APPLIED


JUNK = [
    {},
    {
        "statement": "x" * 10_000,
        "note": "\x00",
        "public_key": "-----BEGIN PGP PUBLIC KEY BLOCK-----",
    },
    {
        "handle": "ü" * 30,
        "forge_accounts": "github:\ngitlab:@\n:::",
        "ecosystems": ["pypi", "pypi"],
        "skills": ",,,," * 100,
        "time_zone": "UTC",
        "hours_per_week": "99999999999999999999",
        "max_assignments": "-1",
        "statement": "s",
        "public_keys": "\n".join(["ssh-ed25519 AAAA"] * 50),
        "method": "in-person",
        "checked_on": "0001-01-01",
        "ecosystem": "pypi",
        "project_name": "x" * 500,
        "first_contributed_on": "9999-12-31",
        "conflict_of_interest": "on",
    },
]


@pytest.mark.parametrize("payload", JUNK)
def test_junk_posted_anywhere_gets_a_clear_refusal_never_a_500(
    client, payload, stranger, voucher_a, applicant, caseworker
):
    def post(user, name, *args):
        client.force_login(user)
        response = client.post(reverse(name, args=args), payload)
        assert response.status_code in (302, 400), (name, response.status_code)

    post(stranger, "roster:apply")
    post(applicant.user, "roster:add-key")
    post(applicant.user, "roster:declare-involvement")
    post(voucher_a.user, "roster:vouch", applicant.public_id)
    for name in (
        "roster:identity-check",
        "roster:vet",
        "roster:clear-hold",
        "roster:record-involvement",
    ):
        post(caseworker, name, applicant.public_id)
    assert not StewardProfile.objects.filter(user=stranger).exists()
    assert not IdentityCheck.objects.exists()
    applicant.refresh_from_db()
    assert applicant.status == StewardProfile.Status.APPLIED
