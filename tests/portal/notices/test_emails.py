import pytest

from portal.notices.content import parse_stewards
from portal.notices.emails import notice_email
from tests.factories import SubscriptionFactory
from tests.portal.notices.conftest import publish

pytestmark = pytest.mark.django_db

TYPED = {
    "project_name": "zlib & friends",
    "guidance": "Don't install releases signed by <anyone else>.",
}
STEWARD = "Siobhán O'Brien"


@pytest.fixture
def message(caseworker, second_caseworker):
    notice = publish(
        caseworker,
        second_caseworker,
        stewards=parse_stewards(f"siobhan | {STEWARD}"),
        **TYPED,
    )
    return notice_email(notice.latest_revision, SubscriptionFactory())


def test_html_part_escapes_what_a_caseworker_typed(message):
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    assert "&lt;anyone else&gt;" in html
    assert "<anyone else>" not in html


def test_plain_text_and_subject_show_what_a_caseworker_typed(message):
    assert "zlib & friends" in message.subject
    for typed in [*TYPED.values(), STEWARD]:
        assert typed in message.body
