import pytest
from guardian.shortcuts import get_perms

from cases import services
from cases.models import Case, CaseEvent, CaseMessage, Category, HelpWanted, Urgency
from cases.states import Status
from portal.audit.models import AuditEvent
from portal.lib.errors import Refused
from tests.conftest import CANARY_NARRATIVE
from tests.portal.notices.conftest import content  # noqa: E402

pytestmark = pytest.mark.django_db


def _open(actor, project, **overrides):
    fields = {
        "category": Category.BURNOUT,
        "urgency": Urgency.NORMAL,
        "help_wanted": [HelpWanted.TALK],
        "narrative": "I need a break.",
    }
    fields.update(overrides)
    return services.open_case(actor=actor, project=project, **fields)


def test_open_case_grants_only_the_maintainer(new_case, maintainer, caseworker):
    assert get_perms(maintainer, new_case) == ["view_case"]
    assert get_perms(caseworker, new_case) == []
    assert new_case.status == Status.NEW
    assert list(new_case.events.values_list("kind", flat=True)) == [
        CaseEvent.Kind.OPENED
    ]
    assert (
        AuditEvent.objects.filter(
            action="case.opened", object_id=str(new_case.public_id)
        ).count()
        == 1
    )


def test_open_case_refuses_a_project_the_actor_does_not_maintain(
    other_maintainer, project
):
    with pytest.raises(Refused, match="project you have registered"):
        _open(other_maintainer, project)
    assert Case.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"category": "gossip"}, "what the case is about"),
        ({"urgency": 9}, "how urgent"),
        ({"help_wanted": []}, "at least one kind of help"),
        ({"help_wanted": ["money-laundering"]}, "at least one kind of help"),
        ({"narrative": "   "}, "own words"),
    ],
)
def test_open_case_refuses_bad_input(maintainer, project, overrides, message):
    with pytest.raises(Refused, match=message):
        _open(maintainer, project, **overrides)
    assert Case.objects.count() == 0


def test_assign_caseworker_grants_view_and_work(new_case, caseworker):
    case = services.assign_caseworker(
        case=new_case, caseworker=caseworker, actor=caseworker
    )
    assert sorted(get_perms(caseworker, case)) == ["view_case", "work_case"]
    assert list(case.caseworkers.all()) == [caseworker]
    assert AuditEvent.objects.filter(action="caseworker.assigned").count() == 1


def test_assigning_twice_is_refused(case, caseworker):
    with pytest.raises(Refused, match="already assigned"):
        services.assign_caseworker(case=case, caseworker=caseworker, actor=caseworker)
    assert case.events.filter(kind=CaseEvent.Kind.ASSIGNED).count() == 1


def test_only_caseworkers_can_be_assigned(new_case, maintainer, steward, caseworker):
    with pytest.raises(Refused, match="Only caseworkers"):
        services.assign_caseworker(case=new_case, caseworker=steward, actor=caseworker)
    with pytest.raises(Refused, match="Only caseworkers"):
        services.assign_caseworker(
            case=new_case, caseworker=caseworker, actor=maintainer
        )
    assert get_perms(steward, new_case) == []
    assert new_case.caseworkers.count() == 0


def test_first_shared_reply_from_caseworker_starts_the_response_clock(
    case, maintainer, caseworker
):
    services.post_message(case=case, actor=maintainer, body="Are you there?")
    case.refresh_from_db()
    assert case.first_response_at is None
    services.post_message(
        case=case, actor=caseworker, body="Internal thought", internal=True
    )
    case.refresh_from_db()
    assert case.first_response_at is None
    reply = services.post_message(case=case, actor=caseworker, body="Yes, I am here.")
    case.refresh_from_db()
    assert case.first_response_at == reply.created_at


def test_maintainer_cannot_write_internal_notes(case, maintainer):
    with pytest.raises(Refused, match="internal notes"):
        services.post_message(case=case, actor=maintainer, body="secret", internal=True)
    assert CaseMessage.objects.count() == 0


def test_people_without_access_cannot_post(
    case, other_maintainer, unassigned_caseworker
):
    for person in (other_maintainer, unassigned_caseworker):
        with pytest.raises(Refused, match="cannot write"):
            services.post_message(case=case, actor=person, body="hello")
    assert CaseMessage.objects.count() == 0


def test_posting_to_a_closed_case_is_refused(case, caseworker, maintainer):
    services.change_status(case=case, actor=caseworker, to_status=Status.CLOSED)
    with pytest.raises(Refused, match="closed"):
        services.post_message(case=case, actor=maintainer, body="one more thing")
    assert CaseMessage.objects.count() == 0


def test_status_change_follows_the_table_and_is_on_the_timeline(case, caseworker):
    case = services.change_status(case=case, actor=caseworker, to_status=Status.TRIAGED)
    case = services.change_status(
        case=case, actor=caseworker, to_status=Status.IN_PROGRESS
    )
    changes = list(
        case.events.filter(kind=CaseEvent.Kind.STATUS_CHANGED).values_list(
            "from_status", "to_status", "actor"
        )
    )
    assert changes == [
        (Status.NEW, Status.TRIAGED, caseworker.pk),
        (Status.TRIAGED, Status.IN_PROGRESS, caseworker.pk),
    ]


def test_invalid_transition_is_refused_and_changes_nothing(case, caseworker):
    with pytest.raises(Refused, match="cannot move"):
        services.change_status(
            case=case, actor=caseworker, to_status=Status.HANDOVER_ACTIVE
        )
    case.refresh_from_db()
    assert case.status == Status.NEW
    assert not case.events.filter(kind=CaseEvent.Kind.STATUS_CHANGED).exists()


def test_maintainer_cannot_change_status(case, maintainer):
    with pytest.raises(Refused, match="caseworkers"):
        services.change_status(case=case, actor=maintainer, to_status=Status.CLOSED)
    case.refresh_from_db()
    assert case.status == Status.NEW


def test_draft_handover_copies_only_typed_fields_into_a_pending_notice(
    case, caseworker
):

    handover = services.draft_handover(case=case, actor=caseworker, content=content())
    notice = handover.notice
    assert notice.status == "awaiting_approval"
    assert notice.reference is None
    assert notice.revisions.get().drafted_by == caseworker
    assert CANARY_NARRATIVE not in str(vars(notice))


def test_unassigned_caseworker_cannot_draft_a_handover(case, unassigned_caseworker):

    with pytest.raises(Refused, match="caseworkers"):
        services.draft_handover(
            case=case, actor=unassigned_caseworker, content=content()
        )
    assert not case.handovers.exists()
