"""The caseworkers' roster list: each filter shows the right stewards, in a bounded number of queries."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    IdentityCheckFactory,
    StewardProfileFactory,
    VettedStewardFactory,
    VouchFactory,
)

DAY = datetime.timedelta(days=1)


@pytest.fixture
def roster(db):
    now = timezone.now()
    return {
        "applied": StewardProfileFactory(handle="applied-one"),
        "vetted": VettedStewardFactory(handle="vetted-one"),
        "expiring": VettedStewardFactory(
            handle="expiring-one",
            vetted_at=now - 350 * DAY,
            vetting_expires_at=now + 15 * DAY,
        ),
        "expired": VettedStewardFactory(
            handle="expired-one",
            vetted_at=now - 400 * DAY,
            vetting_expires_at=now - 35 * DAY,
        ),
        "suspended": VettedStewardFactory(handle="suspended-one", status="suspended"),
        "on_hold": StewardProfileFactory(
            handle="held-one", is_on_hold=True, hold_reason_code="identity-of-concern"
        ),
    }


def handles(response):
    return sorted(s.handle for s in response.context["rows"])


@pytest.mark.parametrize(
    ("show", "expected"),
    [
        ("applied", ["applied-one", "held-one"]),
        ("vetted", ["expiring-one", "vetted-one"]),
        ("expiring", ["expiring-one"]),
        ("expired", ["expired-one"]),
        ("suspended", ["suspended-one"]),
        ("on_hold", ["held-one"]),
    ],
)
def test_each_filter_shows_its_stewards(client, caseworker, roster, show, expected):
    client.force_login(caseworker)
    response = client.get(reverse("roster:list"), {"show": show})
    assert response.status_code == 200
    assert handles(response) == expected


def test_everyone_is_listed_without_a_filter_and_held_stewards_come_first(
    client, caseworker, roster
):
    client.force_login(caseworker)
    response = client.get(reverse("roster:list"))
    rows = response.context["rows"]
    assert len(rows) == 6
    assert rows[0].handle == "held-one"


def test_handle_search(client, caseworker, roster):
    client.force_login(caseworker)
    response = client.get(reverse("roster:list"), {"q": "EXPIR"})
    assert handles(response) == ["expired-one", "expiring-one"]


@pytest.mark.parametrize(
    "query",
    [{"show": "everyone-evil"}, {"page": "-3"}, {"page": "x"}, {"q": "x" * 200}],
)
def test_bad_filters_get_400_and_the_whole_roster(client, caseworker, roster, query):
    client.force_login(caseworker)
    response = client.get(reverse("roster:list"), query)
    assert response.status_code == 400
    assert len(response.context["rows"]) == 6
    assert "were not understood" in response.content.decode()


def test_counts_of_checks_and_vouches_are_shown(client, caseworker, roster):
    applied = roster["applied"]
    IdentityCheckFactory(steward=applied, recorded_by=caseworker)
    VouchFactory(voucher=roster["vetted"], vouchee=applied)
    VouchFactory(voucher=roster["expiring"], vouchee=applied)
    client.force_login(caseworker)
    response = client.get(reverse("roster:list"), {"show": "applied"})
    row = next(r for r in response.context["rows"] if r.handle == "applied-one")
    assert (row.check_count, row.vouch_count) == (1, 2)


def _grow(n):
    for _ in range(n):
        steward = StewardProfileFactory()
        VouchFactory(vouchee=steward)
        IdentityCheckFactory(steward=steward)


def _count_queries(client, django_assert_max_num_queries, limit):
    with django_assert_max_num_queries(limit) as captured:
        response = client.get(reverse("roster:list"))
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_list_queries_do_not_grow_with_the_roster(
    client, caseworker, django_assert_max_num_queries
):
    client.force_login(caseworker)
    _grow(3)
    small = _count_queries(client, django_assert_max_num_queries, 15)
    _grow(60)  # past one page of 50
    large = _count_queries(client, django_assert_max_num_queries, 15)
    assert large == small


def test_steward_page_queries_do_not_grow_with_vouches_and_keys(
    client, caseworker, django_assert_max_num_queries
):
    from tests.factories import SigningKeyFactory

    steward = StewardProfileFactory()
    client.force_login(caseworker)
    url = reverse("roster:detail", args=[steward.public_id])

    def count():
        with django_assert_max_num_queries(30) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    VouchFactory(vouchee=steward)
    SigningKeyFactory(steward=steward)
    small = count()
    for _ in range(8):
        VouchFactory(vouchee=steward)
        SigningKeyFactory(steward=steward)
        IdentityCheckFactory(steward=steward)
    assert count() == small
