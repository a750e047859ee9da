"""The outgoing maintainer's consent, recorded from their own case page."""

import pytest
from django.urls import reverse

from cases import services
from portal.lib.errors import Refused
from portal.notices import services as notice_services
from portal.notices.models import NoticeRevision
from tests.portal.notices.conftest import content, draft

pytestmark = pytest.mark.django_db


@pytest.fixture
def revision(case, caseworker):
    handover = services.draft_handover(case=case, actor=caseworker, content=content())
    return handover.notice.revisions.get()


def _consent_url(case, revision):
    return reverse(
        "cases:consent-to-revision", args=[case.public_id, revision.public_id]
    )


def test_maintainer_consents_from_the_case_page_and_approval_takes_effect_at_once(
    client, case, maintainer, revision, second_caseworker
):
    client.force_login(maintainer)
    page = client.get(reverse("cases:detail", args=[case.public_id])).content.decode()
    assert "I consent to this notice" in page
    response = client.post(_consent_url(case, revision), follow=True)
    assert "Your consent is recorded" in response.content.decode()
    revision.refresh_from_db()
    assert revision.consent_recorded_by == maintainer
    published = notice_services.approve_revision(
        revision=revision, actor=second_caseworker
    )
    assert published.consent == NoticeRevision.Consent.MAINTAINER
    assert published.effective_at == published.published_at


@pytest.mark.parametrize("role", ["caseworker", "steward"])
def test_only_the_cases_maintainers_may_consent(request, case, revision, role):
    person = request.getfixturevalue(role)
    with pytest.raises(Refused, match="Only the case's maintainers"):
        services.consent_to_notice_revision(
            case=case, revision_public_id=revision.public_id, actor=person
        )
    revision.refresh_from_db()
    assert revision.consent_recorded_by is None


@pytest.mark.parametrize(
    "role", ["stranger", "other_maintainer", "unassigned_caseworker"]
)
def test_people_who_cannot_read_the_case_get_404(request, client, case, revision, role):
    client.force_login(request.getfixturevalue(role))
    assert client.post(_consent_url(case, revision)).status_code == 404
    revision.refresh_from_db()
    assert revision.consent_recorded_by is None


def test_a_revision_of_another_cases_notice_is_refused(case, maintainer, caseworker):
    other = draft(caseworker, project_name="elsewhere").revisions.get()
    with pytest.raises(Refused, match="not of a notice drafted from this case"):
        services.consent_to_notice_revision(
            case=case, revision_public_id=other.public_id, actor=maintainer
        )
    other.refresh_from_db()
    assert other.consent_recorded_by is None
