"""Atom feeds of notices: valid, one self link, entry ids that survive amendments."""

import datetime

import feedparser
import pytest

from portal.notices import services
from portal.notices.models import HandoverNotice
from tests.portal.notices.publishing import content, publish, revise

pytestmark = pytest.mark.django_db

FEEDS = [
    "/notices/feed.atom",
    "/notices/ecosystem/pypi/feed.atom",
    "/notices/project/tinyzip/feed.atom",
]


@pytest.fixture
def notices(caseworker, second_caseworker):
    tinyzip = publish(caseworker, second_caseworker).notice
    left = publish(
        caseworker,
        second_caseworker,
        project_name="leftpadx",
        ecosystem="npm",
        repository_url="https://github.com/example/leftpadx",
        purls=("pkg:npm/leftpadx",),
    ).notice
    return tinyzip, left


def _parse(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    return feedparser.parse(response.content), response


@pytest.mark.parametrize("path", FEEDS)
def test_feed_is_valid_atom_with_exactly_one_self_link(client, notices, path):
    feed, _ = _parse(client, path)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    self_links = [link for link in feed.feed.links if link.rel == "self"]
    assert [link.href for link in self_links] == [f"http://testserver{path}"]


@pytest.mark.parametrize(
    ("path", "projects"),
    [
        ("/notices/feed.atom", {"leftpadx", "tinyzip"}),
        ("/notices/ecosystem/pypi/feed.atom", {"tinyzip"}),
        ("/notices/ecosystem/npm/feed.atom", {"leftpadx"}),
        ("/notices/project/leftpadx/feed.atom", {"leftpadx"}),
        ("/notices/project/nothing/feed.atom", set()),
    ],
)
def test_feeds_hold_the_notices_they_are_about(client, notices, path, projects):
    feed, _ = _parse(client, path)
    assert feed.bozo == 0
    assert {
        entry.title.split(": ", 1)[1].split(" ")[0] for entry in feed.entries
    } == projects


def test_entry_id_is_stable_across_revisions_and_updated_moves(
    client, caseworker, second_caseworker, notices
):
    tinyzip, _ = notices
    feed, _ = _parse(client, "/notices/feed.atom")
    [before] = [e for e in feed.entries if tinyzip.reference in e.title]
    # Make the amendment visibly later than the first publication.
    earlier = tinyzip.modified_at - datetime.timedelta(hours=1)
    HandoverNotice.objects.filter(pk=tinyzip.pk).update(modified_at=earlier)
    feed, _ = _parse(client, "/notices/feed.atom")
    [moved_back] = [e for e in feed.entries if tinyzip.reference in e.title]

    revise(
        caseworker,
        second_caseworker,
        tinyzip,
        guidance="Pin 1.4.0 until the window ends.",
    )
    feed, _ = _parse(client, "/notices/feed.atom")
    assert feed.bozo == 0
    [after] = [e for e in feed.entries if tinyzip.reference in e.title]
    assert after.id == before.id == f"urn:uuid:{tinyzip.public_id}"
    assert after.updated_parsed > moved_back.updated_parsed
    assert "Revision 2 (amendment)" in after.summary
    assert "Pin 1.4.0" in after.summary
    assert after.published == before.published


def test_unknown_ecosystem_feed_is_a_404(client):
    assert client.get("/notices/ecosystem/cobol/feed.atom").status_code == 404


def test_a_notice_awaiting_approval_is_not_in_any_feed(client, caseworker):
    services.draft_notice(actor=caseworker, content=content(project_name="secretlib"))
    for path in [*FEEDS, "/notices/project/secretlib/feed.atom"]:
        feed, response = _parse(client, path)
        assert feed.entries == []
        assert b"secretlib" not in response.content or path.endswith(
            "secretlib/feed.atom"
        )


def test_guidance_markup_is_escaped_in_the_feed(client, caseworker, second_caseworker):
    publish(
        caseworker, second_caseworker, guidance='<script>alert("x")</script> Pin 1.4.0.'
    )
    feed, response = _parse(client, "/notices/feed.atom")
    assert feed.bozo == 0
    assert b"<script>" not in response.content
