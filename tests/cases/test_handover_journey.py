"""The handover journey through the test client: draft from a case, four-eyes approval, public."""

import pytest
from django.urls import reverse

from portal.notices.models import HandoverNotice
from tests.conftest import CANARY_NARRATIVE
from tests.portal.notices.conftest import HANDOVER_FORM

pytestmark = pytest.mark.django_db

DRAFT = {
    **HANDOVER_FORM,
    "purls": "pkg:github/example/tinyzip\npkg:deb/debian/tinyzip",
    "guidance": "Only releases tagged by @stella are expected.",
}


def test_drafted_notice_is_published_only_after_a_second_caseworker_approves(
    client, case, caseworker, second_caseworker
):
    client.force_login(caseworker)
    response = client.post(
        reverse("cases:draft-handover", args=[case.public_id]), DRAFT, follow=True
    )
    assert "A second caseworker must approve it" in response.content.decode()
    notice = HandoverNotice.objects.get()
    assert notice.status == HandoverNotice.Status.AWAITING_APPROVAL

    # Not public yet: not listed, not in the feed.
    client.logout()
    assert "tinyzip" not in client.get(reverse("notices:list")).content.decode()
    assert "tinyzip" not in client.get(reverse("notices:feed")).content.decode()

    # The drafter cannot approve their own draft.
    client.force_login(caseworker)
    revision = notice.revisions.get()
    response = client.post(reverse("notices:approve", args=[revision.public_id]))
    assert response.status_code == 400
    assert (
        "You drafted this revision; another caseworker must approve it."
        in response.content.decode()
    )
    notice.refresh_from_db()
    assert notice.status == HandoverNotice.Status.AWAITING_APPROVAL

    # A second caseworker approves: published, with a reference, visible to everyone.
    client.force_login(second_caseworker)
    response = client.post(
        reverse("notices:approve", args=[revision.public_id]), follow=True
    )
    notice.refresh_from_db()
    assert notice.status == HandoverNotice.Status.ACTIVE
    assert notice.latest_revision.approved_by == second_caseworker
    assert response.redirect_chain[-1][0] == reverse(
        "notices:detail", args=[notice.reference]
    )

    client.logout()
    page = client.get(
        reverse("notices:detail", args=[notice.reference])
    ).content.decode()
    assert "Stella Ruiz" in page
    assert "pkg:deb/debian/tinyzip" in page
    assert CANARY_NARRATIVE not in page
    assert notice.reference in client.get(reverse("notices:feed")).content.decode()

    # The case page links the published notice for its caseworker.
    client.force_login(caseworker)
    assert (
        notice.reference
        in client.get(reverse("cases:detail", args=[case.public_id])).content.decode()
    )
