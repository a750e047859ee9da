"""Identity checks, holds, suspension, keys and declared involvement."""

import datetime

import pytest
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.lib.errors import Refused
from portal.roster.models import IdentityCheck, ProjectInvolvement, StewardProfile
from portal.roster.services import (
    add_signing_key,
    clear_hold,
    declare_involvement,
    record_identity_check,
    record_suspension,
)
from tests.factories import ProjectFactory, ssh_public_key_line

DAY = datetime.timedelta(days=1)


# --- Identity checks -------------------------------------------------------------------------


def test_caseworker_records_an_identity_check_without_evidence(applicant, caseworker):
    check = record_identity_check(
        steward=applicant,
        actor=caseworker,
        method=IdentityCheck.Method.IN_PERSON,
        checked_on=timezone.localdate() - DAY,
    )
    assert check.recorded_by == caseworker
    field_names = {f.name for f in IdentityCheck._meta.get_fields()}
    # SECURITY: how and when, never the document itself.
    assert field_names == {
        "id",
        "steward",
        "method",
        "checked_on",
        "recorded_by",
        "created_at",
    }
    assert AuditEvent.objects.filter(action="steward.identity_checked").exists()


@pytest.mark.parametrize("who", ["steward", "maintainer", "stranger"])
def test_only_caseworkers_record_identity_checks(request, applicant, who):
    with pytest.raises(Refused, match="Only caseworkers record identity checks"):
        record_identity_check(
            steward=applicant,
            actor=request.getfixturevalue(who),
            method="in-person",
            checked_on=timezone.localdate(),
        )
    assert not IdentityCheck.objects.exists()


@pytest.mark.parametrize(
    ("method", "days_ago", "message"),
    [
        ("passport-scan", 0, "Choose how"),
        ("in-person", -1, "future"),
        ("in-person", 400, "older than a year"),
    ],
)
def test_bad_identity_check_is_refused(
    applicant, caseworker, method, days_ago, message
):
    with pytest.raises(Refused, match=message):
        record_identity_check(
            steward=applicant,
            actor=caseworker,
            method=method,
            checked_on=timezone.localdate() - days_ago * DAY,
        )
    assert not IdentityCheck.objects.exists()


# --- Holds and suspension --------------------------------------------------------------------


def test_caseworker_clears_a_hold_with_a_note(applicant, caseworker):
    StewardProfile.objects.filter(pk=applicant.pk).update(
        is_on_hold=True, hold_reason_code="identity-of-concern"
    )
    applicant.refresh_from_db()
    clear_hold(steward=applicant, actor=caseworker, note="Namesake, verified.")
    applicant.refresh_from_db()
    assert not applicant.is_on_hold and applicant.hold_reason_code == ""
    assert applicant.hold_cleared_by == caseworker
    assert applicant.hold_cleared_note == "Namesake, verified."
    assert AuditEvent.objects.filter(action="steward.hold_cleared").exists()


def test_clearing_needs_a_caseworker_a_hold_and_a_note(applicant, caseworker, steward):
    with pytest.raises(Refused, match="is not on hold"):
        clear_hold(steward=applicant, actor=caseworker, note="ok")
    StewardProfile.objects.filter(pk=applicant.pk).update(is_on_hold=True)
    with pytest.raises(Refused, match="note is required"):
        clear_hold(steward=applicant, actor=caseworker, note=" ")
    with pytest.raises(Refused, match="Only caseworkers clear holds"):
        clear_hold(steward=applicant, actor=steward, note="ok")
    applicant.refresh_from_db()
    assert applicant.is_on_hold


def test_suspension_ends_vetting_at_once(voucher_a, caseworker):
    assert voucher_a.is_vetted
    record_suspension(steward=voucher_a, actor=caseworker, reason="Leaked a secret.")
    voucher_a.refresh_from_db()
    assert voucher_a.status == StewardProfile.Status.SUSPENDED
    assert not voucher_a.is_vetted
    assert voucher_a.suspension_reason == "Leaked a secret."
    assert voucher_a.suspended_at is not None
    assert AuditEvent.objects.filter(action="steward.suspended").exists()


def test_suspension_is_refused_without_reason_twice_or_by_others(
    voucher_a, caseworker, steward
):
    with pytest.raises(Refused, match="reason"):
        record_suspension(steward=voucher_a, actor=caseworker, reason="")
    with pytest.raises(Refused, match="Only caseworkers suspend"):
        record_suspension(steward=voucher_a, actor=steward, reason="x")
    record_suspension(steward=voucher_a, actor=caseworker, reason="x")
    with pytest.raises(Refused, match="already suspended"):
        record_suspension(steward=voucher_a, actor=caseworker, reason="y")
    assert AuditEvent.objects.filter(action="steward.suspended").count() == 1


# --- Keys ------------------------------------------------------------------------------------


def test_steward_adds_a_key_to_their_own_profile(applicant):
    key = add_signing_key(
        steward=applicant, actor=applicant.user, public_key=ssh_public_key_line()
    )
    assert list(applicant.keys.all()) == [key]


def test_adding_keys_is_refused_for_others_duplicates_and_garbage(applicant, voucher_a):
    line = ssh_public_key_line()
    with pytest.raises(Refused, match="your own profile"):
        add_signing_key(steward=applicant, actor=voucher_a.user, public_key=line)
    add_signing_key(steward=applicant, actor=applicant.user, public_key=line)
    with pytest.raises(Refused, match="already on your profile"):
        add_signing_key(steward=applicant, actor=applicant.user, public_key=line)
    with pytest.raises(Refused, match="The key: "):
        add_signing_key(steward=applicant, actor=applicant.user, public_key="hello")
    assert applicant.keys.count() == 1


# --- Involvement -----------------------------------------------------------------------------


def involve(steward, actor, project, **overrides):
    args = {
        "first_contributed_on": None,
        "first_offered_help_on": None,
        "conflict_of_interest": False,
        "conflict_note": "",
    }
    args.update(overrides)
    return declare_involvement(steward=steward, actor=actor, project=project, **args)


def test_steward_declares_involvement_and_a_conflict(voucher_a):
    project = ProjectFactory()
    row = involve(
        voucher_a,
        voucher_a.user,
        project,
        first_contributed_on=timezone.localdate() - 60 * DAY,
        conflict_of_interest=True,
        conflict_note="My employer competes with it.",
    )
    assert row.conflict_of_interest and row.recorded_by is None
    assert ProjectInvolvement.objects.get(steward=voucher_a, project=project) == row


def test_steward_may_tighten_but_not_loosen_their_declaration(voucher_a):
    project = ProjectFactory()
    recent = timezone.localdate() - 30 * DAY
    involve(voucher_a, voucher_a.user, project, first_offered_help_on=recent)
    # Moving the date earlier would lift them out of the eager-newcomer rule.
    with pytest.raises(Refused, match="not take back or move earlier"):
        involve(
            voucher_a,
            voucher_a.user,
            project,
            first_offered_help_on=recent - 400 * DAY,
        )
    with pytest.raises(Refused, match="not take back"):
        involve(voucher_a, voucher_a.user, project)
    row = involve(
        voucher_a,
        voucher_a.user,
        project,
        first_offered_help_on=recent,
        conflict_of_interest=True,
        conflict_note="I now work for its sponsor.",
    )
    assert row.conflict_of_interest
    with pytest.raises(Refused, match="conflict of interest"):
        involve(voucher_a, voucher_a.user, project, first_offered_help_on=recent)
    row.refresh_from_db()
    assert row.first_offered_help_on == recent and row.conflict_of_interest


def test_caseworker_records_and_corrects_anyone_s_involvement(voucher_a, caseworker):
    project = ProjectFactory()
    involve(
        voucher_a,
        voucher_a.user,
        project,
        conflict_of_interest=True,
        conflict_note="Thought so.",
    )
    row = involve(
        voucher_a,
        caseworker,
        project,
        first_contributed_on=timezone.localdate() - 3 * DAY,
    )
    assert row.recorded_by == caseworker
    assert not row.conflict_of_interest
    assert row.first_contributed_on == timezone.localdate() - 3 * DAY


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"first_contributed_on": timezone.localdate() + DAY}, "future"),
        ({"conflict_of_interest": True}, "Describe the conflict"),
    ],
)
def test_bad_involvement_is_refused(voucher_a, overrides, message):
    with pytest.raises(Refused, match=message):
        involve(voucher_a, voucher_a.user, ProjectFactory(), **overrides)
    assert not ProjectInvolvement.objects.exists()


def test_nobody_declares_for_someone_else(voucher_a, voucher_b, maintainer):
    for actor in (voucher_b.user, maintainer):
        with pytest.raises(Refused, match="only declare your own"):
            involve(voucher_a, actor, ProjectFactory())
    assert not ProjectInvolvement.objects.exists()
