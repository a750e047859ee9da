"""Applying to the roster: every field checked, keys parsed, identities screened."""

import pytest

from cases.models import ConcernAlert
from cases.services.concerns import record_identity_of_concern
from portal.audit.models import AuditEvent
from portal.lib.errors import Refused
from portal.roster.models import SigningKey, StewardProfile
from portal.roster.services import apply_as_steward
from tests.factories import ssh_public_key_line
from tests.portal.roster.conftest import application


def test_application_creates_an_applied_profile_with_fingerprinted_keys(stranger):
    key = ssh_public_key_line()
    profile = apply_as_steward(user=stranger, **application(public_keys=[key]))
    profile.refresh_from_db()
    assert profile.status == StewardProfile.Status.APPLIED
    assert profile.handle == "river"
    assert profile.forge_accounts == ["github:river-dev", "codeberg:river"]
    assert profile.skills == ["python", "release engineering"]
    assert profile.languages == ["English", "Español"]
    assert not profile.is_vetted and not profile.is_on_hold
    (stored,) = profile.keys.all()
    assert stored.kind == SigningKey.Kind.SSH
    assert stored.fingerprint.startswith("SHA256:")
    assert stored.public_key == key
    assert AuditEvent.objects.filter(
        action="steward.applied", object_id=str(profile.public_id)
    ).exists()


def test_identities_are_email_and_forge_accounts(stranger):
    profile = apply_as_steward(user=stranger, **application())
    assert profile.identities() == [
        "email:sam@example.org",
        "github:river-dev",
        "codeberg:river",
    ]


def test_second_application_is_refused(stranger):
    apply_as_steward(user=stranger, **application())
    with pytest.raises(Refused, match="already applied"):
        apply_as_steward(user=stranger, **application(handle="river2"))
    assert StewardProfile.objects.count() == 1


def test_taken_handle_is_refused(stranger, maintainer):
    apply_as_steward(user=stranger, **application())
    with pytest.raises(Refused, match="taken"):
        apply_as_steward(user=maintainer, **application(handle="River"))
    assert not StewardProfile.objects.filter(user=maintainer).exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"handle": "-bad-"}, "handle is 1 to 40"),
        ({"handle": "x" * 41}, "handle is 1 to 40"),
        ({"handle": "has space"}, "handle is 1 to 40"),
        ({"forge_accounts": ["sourceforge:river"]}, "not a forge account"),
        ({"forge_accounts": ["github:bad name!"]}, "not a valid github username"),
        ({"ecosystems": []}, "at least one ecosystem"),
        ({"ecosystems": ["cobol"]}, "not an ecosystem"),
        ({"time_zone": "Mars/Olympus"}, "not a time zone"),
        ({"time_zone": "../../etc/passwd"}, "not a time zone"),
        ({"hours_per_week": 0}, "Hours per week"),
        ({"hours_per_week": 500}, "Hours per week"),
        ({"max_assignments": 0}, "Concurrent assignments"),
        ({"statement": "   "}, "Write a statement"),
        ({"skills": ["<script>"]}, "Skill '<script>' is not accepted"),
        ({"public_keys": []}, "at least one public signing key"),
        ({"public_keys": ["ssh-ed25519 not-base64!!"]}, "The key: The SSH key's data"),
    ],
)
def test_bad_application_is_refused_and_writes_nothing(stranger, overrides, message):
    with pytest.raises(Refused, match=message):
        apply_as_steward(user=stranger, **application(**overrides))
    assert not StewardProfile.objects.exists()
    assert not SigningKey.objects.exists()
    assert not AuditEvent.objects.filter(action="steward.applied").exists()


def test_malformed_key_is_named_by_its_position(stranger):
    good = ssh_public_key_line()
    with pytest.raises(Refused) as refused:
        apply_as_steward(
            user=stranger, **application(public_keys=[good, "ssh-rsa AAAA garbage"])
        )
    assert refused.value.messages[0].startswith("Key 2:")
    assert not StewardProfile.objects.exists()


def test_the_same_key_twice_is_refused(stranger):
    key = ssh_public_key_line()
    with pytest.raises(Refused, match="Key 2 .* already on your profile"):
        apply_as_steward(user=stranger, **application(public_keys=[key, key]))


def test_applicant_named_in_a_case_is_put_on_hold_and_the_case_alerted(
    case, caseworker, stranger
):
    concern = record_identity_of_concern(
        case=case, actor=caseworker, identity="github:river-dev"
    )
    profile = apply_as_steward(user=stranger, **application())
    assert profile.is_on_hold
    assert profile.hold_reason_code == "identity-of-concern"
    alert = ConcernAlert.objects.get(concern=concern)
    assert alert.source == ConcernAlert.Source.ROSTER_APPLICATION
    assert alert.subject == "river"


def test_applicant_email_of_concern_is_matched_case_insensitively(
    case, caseworker, stranger
):
    record_identity_of_concern(
        case=case, actor=caseworker, identity="email:sam@example.org"
    )
    profile = apply_as_steward(user=stranger, **application())
    assert profile.is_on_hold


def test_applicant_not_of_concern_is_not_held_and_alerts_nobody(
    case, caseworker, stranger
):
    record_identity_of_concern(
        case=case, actor=caseworker, identity="github:someone-else"
    )
    profile = apply_as_steward(user=stranger, **application())
    assert not profile.is_on_hold
    assert not ConcernAlert.objects.exists()
