"""Proposals, the maintainer's answer, four-eyes approval of release scope, extensions, the end
of an assignment and the steward's report. Every refusal changes nothing."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from cases import services
from cases.models import Assignment, AssignmentExtension, ConcernAlert, StewardRequest
from cases.services.assignments import (
    end_finished_assignments,
    remind_assignment_endings,
    report_of,
)
from cases.tasks import remind_assignment_endings_task
from portal.audit.models import AuditEvent
from portal.lib.errors import Refused
from portal.roster.models import StewardProfile
from tests.cases.stewards import (
    ask_for_steward,
    involve,
    make_steward,
    run_after_commit,
)


@pytest.fixture
def stella(db):
    return make_steward("stella-ruiz")


@pytest.fixture
def steward_request(case, maintainer):
    return ask_for_steward(case, maintainer)


@pytest.fixture
def release_request(case, maintainer):
    return ask_for_steward(case, maintainer, scope=["triage", "release"])


def _propose(steward_request, steward, actor):
    return services.propose_assignment(
        request=steward_request, steward=steward, actor=actor
    )


def _snapshot():
    return (
        list(Assignment.objects.values()),
        list(AssignmentExtension.objects.values()),
        list(StewardRequest.objects.values("pk", "status")),
        AuditEvent.objects.count(),
    )


# --- Requests --------------------------------------------------------------------------------


def test_a_maintainer_asks_for_a_steward_with_a_sealed_brief(case, maintainer):
    request = ask_for_steward(case, maintainer, brief="Secret brief: quokka-7781.")
    assert request.scope == ["triage", "review"]
    assert b"quokka" not in bytes(request.brief_sealed)
    assert services.assignments.brief_of(request) == "Secret brief: quokka-7781."


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"scope": []}, "Choose what the steward may do"),
        ({"scope": ["everything"]}, "Choose what the steward may do"),
        ({"time_zone": "Mars/Olympus"}, "is not a time zone"),
        ({"hours_per_week": 0}, "between 1 and 80"),
        ({"ecosystem": "cobol"}, "ecosystem"),
        (
            {
                "starts_on": datetime.date(2020, 1, 1),
                "ends_on": datetime.date(2020, 2, 1),
            },
            "cannot start in the past",
        ),
    ],
)
def test_a_bad_request_is_refused(case, maintainer, overrides, message):
    with pytest.raises(Refused, match=message):
        ask_for_steward(case, maintainer, **overrides)
    assert not StewardRequest.objects.exists()


def test_only_the_cases_maintainer_asks_for_a_steward(
    case, caseworker, other_maintainer
):
    for actor in (caseworker, other_maintainer):
        with pytest.raises(Refused, match="Only the maintainers"):
            ask_for_steward(case, actor)
    assert not StewardRequest.objects.exists()


# --- Proposals and answers -------------------------------------------------------------------


def test_the_caseworker_proposes_and_the_maintainer_accepts(
    steward_request, stella, caseworker, maintainer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        assignment = _propose(steward_request, stella, caseworker)
    run_after_commit(callbacks)
    assert assignment.status == Assignment.Status.PROPOSED
    assert [m.to for m in mail.outbox] == [[maintainer.email]]
    assert "quokka" not in mail.outbox[0].body
    mail.outbox.clear()
    with django_capture_on_commit_callbacks() as callbacks:
        services.respond_to_assignment(
            assignment=assignment, actor=maintainer, accept=True
        )
    run_after_commit(callbacks)
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.ACTIVE
    assert assignment.responded_by == maintainer
    steward_request.refresh_from_db()
    assert steward_request.status == StewardRequest.Status.FILLED
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [caseworker.email, stella.user.email]
    )


def test_the_maintainer_may_decline(steward_request, stella, caseworker, maintainer):
    assignment = _propose(steward_request, stella, caseworker)
    services.respond_to_assignment(
        assignment=assignment, actor=maintainer, accept=False
    )
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.DECLINED
    steward_request.refresh_from_db()
    assert steward_request.status == StewardRequest.Status.OPEN
    # A new proposal can follow.
    other = make_steward("other-one")
    assert _propose(steward_request, other, caseworker).status == "proposed"


def test_accepting_someone_elses_proposal_is_refused(
    steward_request,
    stella,
    caseworker,
    other_maintainer,
    second_caseworker,
    stranger,
):
    assignment = _propose(steward_request, stella, caseworker)
    before = _snapshot()
    for actor in (
        other_maintainer,
        stella.user,
        caseworker,
        second_caseworker,
        stranger,
    ):
        with pytest.raises(Refused, match="Only the maintainers on this case"):
            services.respond_to_assignment(
                assignment=assignment, actor=actor, accept=True
            )
    assert _snapshot() == before


def test_answering_twice_is_refused(steward_request, stella, caseworker, maintainer):
    assignment = _propose(steward_request, stella, caseworker)
    services.respond_to_assignment(assignment=assignment, actor=maintainer, accept=True)
    with pytest.raises(Refused, match="already answered"):
        services.respond_to_assignment(
            assignment=assignment, actor=maintainer, accept=False
        )


@pytest.mark.parametrize(
    "exclude",
    ["conflict", "newcomer", "suspended", "expired", "unvetted", "on-hold", "full"],
)
def test_a_crafted_proposal_of_an_excluded_steward_is_refused_with_the_reason(
    steward_request, caseworker, maintainer, project, exclude
):
    kwargs = {
        "suspended": {"status": StewardProfile.Status.SUSPENDED},
        "expired": {"expires_in_days": -1},
        "unvetted": {"status": StewardProfile.Status.APPLIED},
        "on-hold": {"is_on_hold": True},
        "full": {"max_assignments": 1},
    }.get(exclude, {})
    steward = make_steward("excluded-one", **kwargs)
    if exclude == "conflict":
        involve(steward, project, conflict_of_interest=True)
    if exclude == "newcomer":
        involve(steward, project, first_contributed_on=timezone.localdate())
    if exclude == "full":
        other = ask_for_steward(steward_request.case, maintainer)
        _propose(other, steward, caseworker)
    reason = {
        "conflict": "conflict of interest",
        "newcomer": "less than 12 months ago",
        "suspended": "Suspended",
        "expired": "Vetting expired",
        "unvetted": "Not vetted",
        "on-hold": "On hold",
        "full": "No free capacity",
    }[exclude]
    before = _snapshot()
    with pytest.raises(Refused, match=reason):
        _propose(steward_request, steward, caseworker)
    assert _snapshot() == before


def test_proposing_on_a_case_one_is_not_assigned_to_is_refused(
    steward_request, stella, unassigned_caseworker
):
    with pytest.raises(Refused, match="Only the case's caseworkers"):
        _propose(steward_request, stella, unassigned_caseworker)
    assert not Assignment.objects.exists()


def test_one_proposal_at_a_time_per_request(steward_request, stella, caseworker):
    _propose(steward_request, stella, caseworker)
    with pytest.raises(Refused, match="already proposed"):
        _propose(steward_request, make_steward("second"), caseworker)


def test_a_steward_suspended_after_the_proposal_cannot_be_accepted(
    steward_request, stella, caseworker, maintainer
):
    assignment = _propose(steward_request, stella, caseworker)
    StewardProfile.objects.filter(pk=stella.pk).update(
        status=StewardProfile.Status.SUSPENDED
    )
    with pytest.raises(Refused, match="Suspended"):
        services.respond_to_assignment(
            assignment=assignment, actor=maintainer, accept=True
        )
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.PROPOSED


def test_accepting_does_not_count_the_assignment_against_its_own_capacity(
    steward_request, caseworker, maintainer
):
    single = make_steward("single", max_assignments=1)
    assignment = _propose(steward_request, single, caseworker)
    services.respond_to_assignment(assignment=assignment, actor=maintainer, accept=True)
    assert Assignment.objects.get().status == Assignment.Status.ACTIVE


# --- Identity of concern on a named steward --------------------------------------------------


def test_naming_a_steward_of_concern_blocks_the_assignment_and_alerts_the_other_case(
    steward_request,
    caseworker,
    maintainer,
    second_caseworker,
    other_project,
    other_maintainer,
):
    other_case = services.open_case(
        actor=other_maintainer,
        project=other_project,
        category="harassment",
        urgency=2,
        help_wanted=["intervention"],
        narrative="Pressure from jiat75.",
    )
    services.assign_caseworker(
        case=other_case, caseworker=second_caseworker, actor=second_caseworker
    )
    services.record_identity_of_concern(
        case=other_case, actor=second_caseworker, identity="github:jiat75"
    )
    jia = make_steward("jia", forge_accounts=["github:jiat75"])
    assignment = _propose(steward_request, jia, caseworker)
    assert assignment.is_blocked
    alert = ConcernAlert.objects.get(source="steward-named")
    assert alert.case == other_case and alert.subject == "jia"
    with pytest.raises(Refused, match="on hold"):
        services.respond_to_assignment(
            assignment=assignment, actor=maintainer, accept=True
        )
    services.clear_assignment_block(
        assignment=assignment, actor=caseworker, note="Checked: a different person."
    )
    services.respond_to_assignment(assignment=assignment, actor=maintainer, accept=True)
    assert Assignment.objects.get().status == Assignment.Status.ACTIVE


def test_an_identity_recorded_later_blocks_the_stewards_open_assignments(
    steward_request, stella, caseworker, maintainer
):
    assignment = _propose(steward_request, stella, caseworker)
    services.record_identity_of_concern(
        case=steward_request.case, actor=caseworker, identity="github:stella-ruiz"
    )
    assignment.refresh_from_db()
    assert assignment.is_blocked
    assert ConcernAlert.objects.get().source == "roster"
    with pytest.raises(Refused, match="on hold"):
        services.respond_to_assignment(
            assignment=assignment, actor=maintainer, accept=True
        )


def test_clearing_a_block_needs_a_caseworker_of_the_case_and_a_note(
    steward_request, caseworker, unassigned_caseworker, maintainer
):
    services.record_identity_of_concern(
        case=steward_request.case, actor=caseworker, identity="github:sock"
    )
    sock = make_steward("sock", forge_accounts=["github:sock"])
    assignment = _propose(steward_request, sock, caseworker)
    for actor in (unassigned_caseworker, maintainer):
        with pytest.raises(Refused):
            services.clear_assignment_block(
                assignment=assignment, actor=actor, note="ok"
            )
    with pytest.raises(Refused, match="Say why"):
        services.clear_assignment_block(
            assignment=assignment, actor=caseworker, note=""
        )
    assignment.refresh_from_db()
    assert assignment.is_blocked


# --- Release scope: the second caseworker ------------------------------------------------------


def test_a_release_scope_waits_for_a_second_caseworker(
    release_request, stella, caseworker, second_caseworker, maintainer
):
    assignment = _propose(release_request, stella, caseworker)
    services.respond_to_assignment(assignment=assignment, actor=maintainer, accept=True)
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.AWAITING_APPROVAL
    before = _snapshot()
    with pytest.raises(Refused, match="You proposed this steward"):
        services.approve_assignment(assignment=assignment, actor=caseworker)
    with pytest.raises(Refused, match="Only caseworkers"):
        services.approve_assignment(assignment=assignment, actor=maintainer)
    assert _snapshot() == before
    services.approve_assignment(assignment=assignment, actor=second_caseworker)
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.ACTIVE
    assert assignment.approved_by == second_caseworker


def test_a_scope_without_release_needs_no_second_approval(
    steward_request, stella, caseworker, second_caseworker, maintainer
):
    assignment = _propose(steward_request, stella, caseworker)
    services.respond_to_assignment(assignment=assignment, actor=maintainer, accept=True)
    with pytest.raises(Refused, match="not waiting for approval"):
        services.approve_assignment(assignment=assignment, actor=second_caseworker)


def test_the_database_refuses_an_approver_who_proposed(
    release_request, stella, caseworker
):
    from django.db import IntegrityError, transaction

    assignment = _propose(release_request, stella, caseworker)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.filter(pk=assignment.pk).update(approved_by=caseworker)


# --- Extensions ----------------------------------------------------------------------------------


def _active(request, steward, caseworker, maintainer, approver=None):
    assignment = _propose(request, steward, caseworker)
    services.respond_to_assignment(assignment=assignment, actor=maintainer, accept=True)
    if approver:
        services.approve_assignment(assignment=assignment, actor=approver)
    assignment.refresh_from_db()
    return assignment


def test_an_extension_needs_the_maintainer(
    steward_request, stella, caseworker, maintainer
):
    assignment = _active(steward_request, stella, caseworker, maintainer)
    new_end = assignment.ends_on + datetime.timedelta(days=30)
    extension = services.propose_extension(
        assignment=assignment, actor=caseworker, new_ends_on=new_end
    )
    assignment.refresh_from_db()
    assert assignment.ends_on != new_end
    services.respond_to_extension(extension=extension, actor=maintainer, accept=True)
    assignment.refresh_from_db()
    assert assignment.ends_on == new_end


def test_an_extension_of_a_release_scope_needs_a_second_caseworker(
    release_request, stella, caseworker, second_caseworker, maintainer
):
    assignment = _active(
        release_request, stella, caseworker, maintainer, approver=second_caseworker
    )
    new_end = assignment.ends_on + datetime.timedelta(days=30)
    extension = services.propose_extension(
        assignment=assignment, actor=caseworker, new_ends_on=new_end
    )
    services.respond_to_extension(extension=extension, actor=maintainer, accept=True)
    assignment.refresh_from_db()
    assert assignment.ends_on != new_end
    with pytest.raises(Refused, match="You proposed this extension"):
        services.approve_extension(extension=extension, actor=caseworker)
    services.approve_extension(extension=extension, actor=second_caseworker)
    assignment.refresh_from_db()
    assert assignment.ends_on == new_end


def test_bad_extensions_are_refused(
    steward_request, stella, caseworker, maintainer, other_maintainer
):
    assignment = _active(steward_request, stella, caseworker, maintainer)
    with pytest.raises(Refused, match="after the current one"):
        services.propose_extension(
            assignment=assignment, actor=caseworker, new_ends_on=assignment.ends_on
        )
    with pytest.raises(Refused, match="caseworkers can propose"):
        services.propose_extension(
            assignment=assignment,
            actor=maintainer,
            new_ends_on=assignment.ends_on + datetime.timedelta(days=5),
        )
    extension = services.propose_extension(
        assignment=assignment,
        actor=caseworker,
        new_ends_on=assignment.ends_on + datetime.timedelta(days=5),
    )
    with pytest.raises(Refused, match="Only the maintainers"):
        services.respond_to_extension(
            extension=extension, actor=other_maintainer, accept=True
        )


# --- The end: reminders, ending, report -----------------------------------------------------------


def test_the_end_reminder_goes_once_to_everyone_concerned(
    steward_request,
    stella,
    caseworker,
    maintainer,
    django_capture_on_commit_callbacks,
):
    assignment = _active(steward_request, stella, caseworker, maintainer)
    mail.outbox.clear()
    soon = assignment.ends_on - datetime.timedelta(days=3)
    assert remind_assignment_endings(today=soon - datetime.timedelta(days=10)) == []
    with django_capture_on_commit_callbacks() as callbacks:
        assert remind_assignment_endings(today=soon) == [assignment.pk]
    run_after_commit(callbacks)
    with django_capture_on_commit_callbacks() as callbacks:
        assert remind_assignment_endings(today=soon) == []
    run_after_commit(callbacks)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [maintainer.email, caseworker.email, stella.user.email]
    )
    assert all("ends within a week" in m.body for m in mail.outbox)


def test_finished_assignments_end_and_the_task_runs(
    steward_request, stella, caseworker, maintainer
):
    assignment = _active(steward_request, stella, caseworker, maintainer)
    assert end_finished_assignments(today=assignment.ends_on) == []
    ended = end_finished_assignments(
        today=assignment.ends_on + datetime.timedelta(days=1)
    )
    assert [a.pk for a in ended] == [assignment.pk]
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.ENDED
    assert assignment.end_reason == Assignment.EndReason.COMPLETED
    assert remind_assignment_endings_task.run() == 0


def test_the_steward_files_a_sealed_handover_report_once(
    steward_request, stella, caseworker, maintainer
):
    assignment = _active(steward_request, stella, caseworker, maintainer)
    answers = {
        "releases": "1.4.2, signed",
        "changes_merged": "12 pull requests",
        "access_granted": "maintain role on GitHub",
        "access_returned": "maintain role removed on 2027-03-01",
    }
    report = services.file_handover_report(
        assignment=assignment, actor=stella.user, **answers
    )
    assert b"signed" not in bytes(report.body_sealed)
    assert report_of(report) == answers
    with pytest.raises(Refused, match="already filed"):
        services.file_handover_report(
            assignment=assignment, actor=stella.user, **answers
        )


def test_only_the_assignments_steward_files_its_report(
    steward_request, stella, caseworker, maintainer
):
    assignment = _active(steward_request, stella, caseworker, maintainer)
    someone = make_steward("someone")
    for actor in (someone.user, maintainer, caseworker):
        with pytest.raises(Refused, match="Only the steward"):
            services.file_handover_report(
                assignment=assignment,
                actor=actor,
                releases="",
                changes_merged="",
                access_granted="",
                access_returned="none",
            )


def test_a_caseworker_with_a_conflict_on_the_project_cannot_approve(
    release_request, stella, caseworker, second_caseworker, maintainer, project
):
    assignment = _propose(release_request, stella, caseworker)
    services.respond_to_assignment(assignment=assignment, actor=maintainer, accept=True)
    services.declare_conflict(
        actor=second_caseworker, project=project, reason="I co-maintain it"
    )
    with pytest.raises(Refused, match="conflict of interest"):
        services.approve_assignment(assignment=assignment, actor=second_caseworker)
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.AWAITING_APPROVAL
