"""The triage queue: filters, search, sort, pagination, the first-response clock, and a query
count that does not grow with the number of cases."""

import datetime
import re
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.models import Case, Category, Urgency
from cases.states import Status
from tests.conftest import CANARY_NARRATIVE

pytestmark = pytest.mark.django_db

QUEUE = reverse("cases:queue")
# session, user, role names, second-factor check, colleagues for the "assigned to" filter,
# one page of rows (with their projects, is_mine and the total), their caseworkers.
QUEUE_QUERIES = 7


def open_case(maintainer, project, *, urgency=Urgency.NORMAL, category="burnout"):
    return services.open_case(
        actor=maintainer,
        project=project,
        category=category,
        urgency=urgency,
        help_wanted=["talk"],
        narrative=CANARY_NARRATIVE,
    )


def seed_rows(count, *, project, opened_by, **fields):
    """Queue rows built as tests/factories.CaseFactory builds them, inserted in one go (the queue
    never reads the narrative, so none is sealed)."""
    now = timezone.now()
    urgencies = list(Urgency.values)
    rows = [
        Case(
            public_id=uuid.uuid4(),
            project=project,
            opened_by=opened_by,
            category=Category.BURNOUT,
            urgency=urgencies[i % len(urgencies)],
            help_wanted=["talk"],
            first_response_due_at=now + datetime.timedelta(hours=72),
            **fields,
        )
        for i in range(count)
    ]
    return Case.objects.bulk_create(rows, batch_size=2000)


def ids(response):
    return [case.pk for case in response.context["rows"]]


def text(response):
    # Django's timesince joins number and unit with a no-break space.
    return response.content.decode().replace("\xa0", " ")


@pytest.fixture
def spread(maintainer, project, other_maintainer, other_project, caseworker):
    """Three pool cases and two of the caseworker's own, across urgencies, subjects and projects."""
    cases = {
        "critical_tinyzip": open_case(
            maintainer, project, urgency=Urgency.CRITICAL, category="harassment"
        ),
        "normal_tinyzip": open_case(maintainer, project),
        "low_leftpadx": open_case(
            other_maintainer, other_project, urgency=Urgency.LOW, category="money"
        ),
        "mine_high": open_case(maintainer, project, urgency=Urgency.HIGH),
        "mine_triaged": open_case(other_maintainer, other_project),
    }
    for name in ("mine_high", "mine_triaged"):
        services.assign_caseworker(
            case=cases[name], caseworker=caseworker, actor=caseworker
        )
    services.change_status(
        case=cases["mine_triaged"], actor=caseworker, to_status=Status.TRIAGED
    )
    return {name: case.pk for name, case in cases.items()}


@pytest.fixture
def cw_client(client, caseworker):
    client.force_login(caseworker)
    return client


def test_default_queue_is_pool_and_own_cases_most_urgent_first(cw_client, spread):
    response = cw_client.get(QUEUE)
    assert response.status_code == 200
    assert ids(response) == [
        spread["critical_tinyzip"],
        spread["mine_high"],
        spread["mine_triaged"],  # normal, newer
        spread["normal_tinyzip"],
        spread["low_leftpadx"],
    ]
    assert "5 cases." in text(response)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "triaged"}, ["mine_triaged"]),
        ({"status": "new", "urgency": "3"}, ["normal_tinyzip"]),
        ({"urgency": "1"}, ["critical_tinyzip"]),
        ({"category": "money"}, ["low_leftpadx"]),
        ({"category": "burnout", "urgency": "2"}, ["mine_high"]),
        ({"category": "security"}, []),
    ],
)
def test_filters_narrow_the_queue(cw_client, spread, params, expected):
    response = cw_client.get(QUEUE, params)
    assert response.status_code == 200
    assert sorted(ids(response)) == sorted(spread[name] for name in expected)


def test_assignee_filter_me_colleague_and_nobody(
    cw_client, spread, caseworker, second_caseworker, maintainer, project
):
    shared = services.open_case(
        actor=maintainer,
        project=project,
        category="burnout",
        urgency=Urgency.NORMAL,
        help_wanted=["talk"],
        narrative="shared",
    )
    services.assign_caseworker(case=shared, caseworker=caseworker, actor=caseworker)
    services.assign_caseworker(
        case=shared, caseworker=second_caseworker, actor=caseworker
    )
    # Only the colleague's: never in this caseworker's queue, whatever the filter says.
    theirs = open_case(maintainer, project, urgency=Urgency.CRITICAL)
    services.assign_caseworker(
        case=theirs, caseworker=second_caseworker, actor=second_caseworker
    )

    mine = cw_client.get(QUEUE, {"assignee": "me"})
    assert sorted(ids(mine)) == sorted(
        [spread["mine_high"], spread["mine_triaged"], shared.pk]
    )
    colleague = cw_client.get(QUEUE, {"assignee": str(second_caseworker.pk)})
    assert ids(colleague) == [shared.pk]
    nobody = cw_client.get(QUEUE, {"assignee": "unassigned"})
    assert sorted(ids(nobody)) == sorted(
        [spread["critical_tinyzip"], spread["normal_tinyzip"], spread["low_leftpadx"]]
    )
    everything = cw_client.get(QUEUE)
    assert theirs.pk not in ids(everything)
    # The colleague's own view: their case and the shared one, plus the pool.
    cw_client.force_login(second_caseworker)
    assert theirs.pk in ids(cw_client.get(QUEUE, {"assignee": "me"}))


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("tinyzip", ["critical_tinyzip", "normal_tinyzip", "mine_high"]),
        ("TINY", ["critical_tinyzip", "normal_tinyzip", "mine_high"]),
        ("leftpad", ["low_leftpadx", "mine_triaged"]),
        ("npm", ["low_leftpadx", "mine_triaged"]),  # ecosystem
        ("Other", ["critical_tinyzip", "normal_tinyzip", "mine_high"]),  # "generic"
        ("nothing-like-it", []),
    ],
)
def test_search_matches_project_name_and_ecosystem(cw_client, spread, term, expected):
    response = cw_client.get(QUEUE, {"q": term})
    assert sorted(ids(response)) == sorted(spread[name] for name in expected)


def test_search_never_reaches_narrative_or_messages(cw_client, spread, caseworker):
    case = Case.objects.get(pk=spread["mine_high"])
    services.post_message(case=case, actor=caseworker, body="sockpuppet-heron-77")
    services.post_message(
        case=case, actor=caseworker, body="internal-lynx-12", internal=True
    )
    for term in ("violet-otter-4471", "sockpuppet-heron", "internal-lynx"):
        response = cw_client.get(QUEUE, {"q": term})
        assert response.status_code == 200
        assert ids(response) == []
    assert CANARY_NARRATIVE not in text(cw_client.get(QUEUE))


def test_sort_oldest_first_and_due_soonest(cw_client, spread):
    now = timezone.now()
    # Opened at different times, due at different times; one already answered.
    layout = {
        "critical_tinyzip": (now - datetime.timedelta(hours=1), 3, None),
        "normal_tinyzip": (now - datetime.timedelta(hours=50), 22, None),
        "low_leftpadx": (now - datetime.timedelta(hours=10), 1, None),
        "mine_high": (now - datetime.timedelta(hours=30), -6, None),
        "mine_triaged": (now - datetime.timedelta(hours=70), 2, now),
    }
    for name, (opened, due_in, answered) in layout.items():
        Case.objects.filter(pk=spread[name]).update(
            created_at=opened,
            first_response_due_at=now + datetime.timedelta(hours=due_in),
            first_response_at=answered,
        )
    oldest = cw_client.get(QUEUE, {"sort": "oldest"})
    assert ids(oldest) == [
        spread[n]
        for n in (
            "mine_triaged",
            "normal_tinyzip",
            "mine_high",
            "low_leftpadx",
            "critical_tinyzip",
        )
    ]
    due = cw_client.get(QUEUE, {"sort": "due"})
    assert ids(due) == [
        spread[n]
        for n in (
            "mine_high",  # overdue
            "low_leftpadx",
            "critical_tinyzip",
            "normal_tinyzip",
            "mine_triaged",  # answered: no clock running, last
        )
    ]


def test_clock_shows_time_left_overdue_and_answered(cw_client, spread):
    now = timezone.now()
    Case.objects.filter(pk=spread["critical_tinyzip"]).update(
        first_response_due_at=now + datetime.timedelta(hours=3, minutes=30)
    )
    Case.objects.filter(pk=spread["normal_tinyzip"]).update(
        first_response_due_at=now - datetime.timedelta(hours=5, minutes=10)
    )
    Case.objects.filter(pk=spread["mine_high"]).update(
        first_response_due_at=now - datetime.timedelta(hours=30),
        first_response_at=now - datetime.timedelta(hours=40),
    )
    response = cw_client.get(QUEUE)
    clocks = re.findall(r'<td class="clock">\s*(.*?)\s*</td>', text(response), re.S)
    by_case = dict(zip(ids(response), clocks, strict=True))
    assert "3 hours, 29 minutes left" in by_case[spread["critical_tinyzip"]]
    assert "overdue by 5 hours, 10 minutes" in by_case[spread["normal_tinyzip"]]
    assert "answered" in by_case[spread["mine_high"]]
    assert "overdue" not in by_case[spread["mine_high"]]


def test_pages_of_fifty_keep_the_filters(cw_client, caseworker, maintainer, project):
    seed_rows(130, project=project, opened_by=maintainer)  # urgencies 1..4 in turn
    critical = Case.objects.filter(urgency=Urgency.CRITICAL).count()
    assert critical == 33

    first = cw_client.get(QUEUE, {"urgency": "1", "sort": "oldest"})
    assert len(first.context["rows"]) == 33
    assert "page=2" not in text(first)

    first = cw_client.get(QUEUE, {"q": "tiny", "sort": "oldest"})
    assert len(first.context["rows"]) == 50
    assert "130 cases, page 1 of 3." in text(first)
    next_link = re.search(r'rel="next" href="\?([^"]+)"', text(first)).group(1)
    assert next_link.replace("&amp;", "&") == "q=tiny&sort=oldest&page=2"

    second = cw_client.get(QUEUE + "?" + next_link.replace("&amp;", "&"))
    assert second.status_code == 200
    assert len(second.context["rows"]) == 50
    assert not set(ids(first)) & set(ids(second))
    assert 'rel="prev" href="?q=tiny&amp;sort=oldest&amp;page=1"' in text(second)

    last = cw_client.get(QUEUE, {"q": "tiny", "sort": "oldest", "page": "3"})
    assert len(last.context["rows"]) == 30
    assert 'rel="next"' not in text(last)
    everything = set(ids(first)) | set(ids(second)) | set(ids(last))
    assert len(everything) == 130

    # Past the end: the last page, not an error.
    beyond = cw_client.get(QUEUE, {"q": "tiny", "sort": "oldest", "page": "99"})
    assert beyond.status_code == 200
    assert ids(beyond) == ids(last)
    assert beyond.context["page"].number == 3
    nothing = cw_client.get(QUEUE, {"q": "nothing-like-it", "page": "4"})
    assert nothing.status_code == 200
    assert ids(nothing) == []
    assert "0 cases." in text(nothing)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"urgency": "9"}, "Urgency: Select a valid choice. 9 is not one"),
        ({"urgency": "high"}, "Urgency: Select a valid choice."),
        ({"status": "closed"}, "Status: Select a valid choice. closed is not one"),
        ({"category": "<script>"}, "About: Select a valid choice. &lt;script&gt;"),
        ({"assignee": "999999"}, "Assigned to: Select a valid choice."),
        ({"sort": "sideways"}, "Order: Select a valid choice."),
        ({"page": "two"}, "Page: Enter a whole number."),
        ({"page": "0"}, "Page: Ensure this value is greater than or equal to 1."),
        ({"q": "x" * 101}, "Project or ecosystem: Ensure this value has at most 100"),
    ],
)
def test_bad_filter_input_is_explained_and_the_whole_queue_shown(
    cw_client, spread, params, message
):
    response = cw_client.get(QUEUE, {"urgency": "1", **params})
    assert response.status_code == 400
    body = text(response)
    assert "Some filters were not understood" in body
    assert message in body
    # None of the filters applies, not even the valid urgency=1.
    assert len(ids(response)) == 5
    assert 'rel="next"' not in body


def test_no_match_says_so_and_offers_the_whole_queue(cw_client, spread):
    body = text(cw_client.get(QUEUE, {"category": "security"}))
    assert "No case matches these filters." in body


def test_own_cases_offer_open_and_pool_cases_offer_assign_to_me(cw_client, spread):
    response = cw_client.get(QUEUE)
    rows = {case.pk: case for case in response.context["rows"]}
    assert rows[spread["mine_high"]].is_mine is True
    assert rows[spread["normal_tinyzip"]].is_mine is False
    body = text(response)
    case = rows[spread["normal_tinyzip"]]
    assert reverse("cases:assign-self", args=[case.public_id]) in body
    assert f'href="{reverse("cases:detail", args=[case.public_id])}"' not in body
    mine = rows[spread["mine_high"]]
    assert f'href="{reverse("cases:detail", args=[mine.public_id])}"' in body


@pytest.mark.parametrize("count", [3, 10_000])
@pytest.mark.parametrize(
    "params",
    [{}, {"q": "tiny", "urgency": "1", "assignee": "unassigned", "sort": "due"}],
)
def test_queue_query_count_is_the_same_at_3_and_10000_cases(
    cw_client,
    caseworker,
    maintainer,
    project,
    count,
    params,
    django_assert_num_queries,
):
    seed_rows(count, project=project, opened_by=maintainer)
    mine = open_case(maintainer, project, urgency=Urgency.CRITICAL)
    services.assign_caseworker(case=mine, caseworker=caseworker, actor=caseworker)
    # The first request fills process-wide caches (content types); the bound is the steady state.
    cw_client.get(QUEUE, params)
    with django_assert_num_queries(QUEUE_QUERIES):
        response = cw_client.get(QUEUE, params)
    assert response.status_code == 200
    expected = count + 1 if not params else None
    if expected is not None:
        assert response.context["page"].paginator.count == expected
        assert len(response.context["rows"]) == min(expected, 50)
    else:
        assert 0 < len(response.context["rows"]) <= 50
