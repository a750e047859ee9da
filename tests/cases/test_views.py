import pytest
from django.urls import reverse

from cases import selectors, services
from cases.models import Case, CaseMessage
from cases.states import Status
from portal.audit.models import AuditEvent
from tests.conftest import CANARY_NARRATIVE
from tests.factories import CaseFactory
from tests.portal.notices.conftest import HANDOVER_FORM  # noqa: E402

pytestmark = pytest.mark.django_db


def test_maintainer_opens_a_case_and_lands_on_it(client, maintainer, project):
    client.force_login(maintainer)
    response = client.post(
        reverse("cases:create"),
        {
            "project": project.pk,
            "category": "harassment",
            "urgency": "1",
            "help_wanted": ["steward", "intervention"],
            "narrative": "Someone keeps pushing me to hand over commit rights.",
        },
        follow=True,
    )
    case = Case.objects.get()
    assert response.redirect_chain[-1][0] == reverse(
        "cases:detail", args=[case.public_id]
    )
    assert "Your case is open" in response.content.decode()
    assert case.opened_by == maintainer
    assert case.urgency == 1
    assert case.help_wanted == ["intervention", "steward"]
    assert maintainer.has_perm("cases.view_case", case)


def test_case_form_shows_clear_errors_and_creates_nothing(client, maintainer, project):
    client.force_login(maintainer)
    response = client.post(
        reverse("cases:create"), {"project": project.pk, "narrative": "  "}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "This field is required." in body
    assert "Tell us in your own words" in body
    assert Case.objects.count() == 0


def test_case_form_refuses_someone_elses_project(
    client, maintainer, other_project, project
):
    client.force_login(maintainer)
    response = client.post(
        reverse("cases:create"),
        {
            "project": other_project.pk,
            "category": "burnout",
            "urgency": "3",
            "help_wanted": ["talk"],
            "narrative": "x",
        },
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert Case.objects.count() == 0


def test_maintainer_without_projects_is_sent_to_register_one(client, other_maintainer):
    client.force_login(other_maintainer)
    response = client.get(reverse("cases:create"))
    assert response.status_code == 302
    assert response["Location"] == reverse("projects:create")


def test_case_page_shows_narrative_and_records_the_read(client, case, maintainer):
    client.force_login(maintainer)
    response = client.get(reverse("cases:detail", args=[case.public_id]))
    assert response.status_code == 200
    assert CANARY_NARRATIVE in response.content.decode()
    event = AuditEvent.objects.get(action="case.viewed")
    assert (event.actor, event.object_id, event.source_ip) == (
        maintainer,
        str(case.public_id),
        "127.0.0.1",
    )


def test_maintainer_never_sees_internal_notes(client, case, maintainer, caseworker):
    services.post_message(
        case=case, actor=caseworker, body="Shared reply", internal=False
    )
    services.post_message(
        case=case,
        actor=caseworker,
        body="Internal: check the sockpuppets",
        internal=True,
    )
    client.force_login(maintainer)
    body = client.get(reverse("cases:detail", args=[case.public_id])).content.decode()
    assert "Shared reply" in body
    assert "check the sockpuppets" not in body
    client.force_login(caseworker)
    body = client.get(reverse("cases:detail", args=[case.public_id])).content.decode()
    assert "check the sockpuppets" in body


def test_conversation_round_trip(client, case, maintainer, caseworker):
    client.force_login(maintainer)
    response = client.post(
        reverse("cases:post-message", args=[case.public_id]),
        {"body": "Hello, I need help."},
    )
    assert response.status_code == 302
    client.force_login(caseworker)
    response = client.post(
        reverse("cases:post-message", args=[case.public_id]),
        {"body": "I am here for you."},
    )
    assert response.status_code == 302
    conversation = selectors.messages_for(maintainer, case)
    assert [(m.author_id, m.body) for m in conversation] == [
        (maintainer.pk, "Hello, I need help."),
        (caseworker.pk, "I am here for you."),
    ]


def test_empty_message_is_refused_with_a_message(client, case, maintainer):
    client.force_login(maintainer)
    response = client.post(
        reverse("cases:post-message", args=[case.public_id]), {"body": "   "}
    )
    assert response.status_code == 400
    assert "Write a message before sending." in response.content.decode()
    assert CaseMessage.objects.count() == 0


def test_maintainer_posting_internal_flag_is_refused(client, case, maintainer):
    client.force_login(maintainer)
    response = client.post(
        reverse("cases:post-message", args=[case.public_id]),
        {"body": "x", "internal": "on"},
    )
    assert response.status_code == 400
    assert (
        "Only the case&#x27;s caseworkers can write internal notes."
        in response.content.decode()
    )
    assert CaseMessage.objects.count() == 0


def test_get_on_a_write_url_changes_nothing(client, case, maintainer):
    client.force_login(maintainer)
    assert (
        client.get(reverse("cases:post-message", args=[case.public_id])).status_code
        == 405
    )


def test_caseworker_changes_status(client, case, caseworker):
    client.force_login(caseworker)
    response = client.post(
        reverse("cases:change-status", args=[case.public_id]),
        {"status": "triaged"},
        follow=True,
    )
    assert "The case is now “Triaged”." in response.content.decode()
    case.refresh_from_db()
    assert case.status == Status.TRIAGED


def test_invalid_transition_from_a_crafted_post_is_a_400(client, case, caseworker):
    client.force_login(caseworker)
    response = client.post(
        reverse("cases:change-status", args=[case.public_id]),
        {"status": "handover_active"},
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    case.refresh_from_db()
    assert case.status == Status.NEW


def test_maintainer_cannot_change_status(client, case, maintainer):
    client.force_login(maintainer)
    response = client.post(
        reverse("cases:change-status", args=[case.public_id]), {"status": "closed"}
    )
    # The maintainer can see the case, but status changes need the work permission.
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.status == Status.NEW


def test_queue_lists_pool_and_own_cases_but_no_case_text(
    client, new_case, unassigned_caseworker
):
    client.force_login(unassigned_caseworker)
    body = client.get(reverse("cases:queue")).content.decode()
    assert "tinyzip" in body
    assert "Assign to me" in body
    assert CANARY_NARRATIVE not in body


def test_queue_is_most_urgent_then_newest(client, caseworker, maintainer, project):
    for urgency, text in [(3, "normal-old"), (1, "critical"), (3, "normal-new")]:
        services.open_case(
            actor=maintainer,
            project=project,
            category="burnout",
            urgency=urgency,
            help_wanted=["talk"],
            narrative=text,
        )
    client.force_login(caseworker)
    response = client.get(reverse("cases:queue"))
    urgencies_and_times = [(c.urgency, c.created_at) for c in response.context["rows"]]
    assert [u for u, _ in urgencies_and_times] == [1, 3, 3]
    assert urgencies_and_times[1][1] > urgencies_and_times[2][1]


def test_queue_is_for_caseworkers_only(client, maintainer):
    client.force_login(maintainer)
    assert client.get(reverse("cases:queue")).status_code == 403


def test_assign_to_me_from_the_queue(client, new_case, unassigned_caseworker):
    client.force_login(unassigned_caseworker)
    response = client.post(reverse("cases:assign-self", args=[new_case.public_id]))
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:detail", args=[new_case.public_id])
    assert unassigned_caseworker.has_perm("cases.work_case", new_case)
    assert CANARY_NARRATIVE in client.get(response["Location"]).content.decode()


def _seed_pool(project, maintainer, count):
    CaseFactory.create_batch(count, project=project, opened_by=maintainer)


@pytest.mark.parametrize("count", [3, 40])
def test_queue_query_count_does_not_grow_with_cases(
    client, caseworker, maintainer, project, count, django_assert_num_queries
):
    _seed_pool(project, maintainer, count)
    client.force_login(caseworker)
    # The first request fills process-wide caches (guardian's content types).
    client.get(reverse("cases:queue"))
    # session, user, roles, second factor (the gate), colleagues for the assignee filter, queue
    # rows (with the total and own cases marked), prefetched caseworkers.
    with django_assert_num_queries(7):
        response = client.get(reverse("cases:queue"))
    assert len(response.context["rows"]) == count


def test_draft_handover_form_is_prefilled_and_saves_a_pending_notice(
    client, case, caseworker
):
    client.force_login(caseworker)
    response = client.get(reverse("cases:draft-handover", args=[case.public_id]))
    assert response.context["form"].initial["purls"] == "pkg:github/example/tinyzip"
    response = client.post(
        reverse("cases:draft-handover", args=[case.public_id]),
        {**HANDOVER_FORM, "window_end": "2026-11-01"},
    )
    assert response.status_code == 400
    assert (
        "The expected end is before the start of the window."
        in response.content.decode()
    )
    assert not case.handovers.exists()
