import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _page(client, user, case):
    client.force_login(user)
    return client.get(reverse("cases:detail", args=[case.public_id]))


def test_maintainer_sees_who_from_the_foundation_read_the_case(
    client, case, maintainer, caseworker
):
    _page(client, caseworker, case)
    response = _page(client, maintainer, case)
    log = list(response.context["access_log"])
    # The maintainer's own reads are not listed; the caseworker's read is.
    assert [(e.actor, e.action) for e in log] == [(caseworker, "case.viewed")]
    assert "Who from the foundation read this" in response.content.decode()


def test_caseworker_sees_every_event_on_the_case(client, case, maintainer, caseworker):
    _page(client, maintainer, case)
    response = _page(client, caseworker, case)
    actions = [e.action for e in response.context["access_log"]]
    assert actions[:2] == ["case.viewed", "case.viewed"]
    assert {"case.opened", "caseworker.assigned"} <= set(actions)
    assert "127.0.0.1" in response.content.decode()


def test_maintainer_does_not_see_source_addresses(client, case, maintainer, caseworker):
    _page(client, caseworker, case)
    assert "127.0.0.1" not in _page(client, maintainer, case).content.decode()
