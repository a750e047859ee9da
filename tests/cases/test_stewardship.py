"""Suspending a steward: the roster records it, their assignments end at once, the maintainers
concerned are told (a link, no reason, no case text), all in one transaction."""

import pytest
from django.core import mail
from django.urls import reverse

from cases import services
from cases.models import Assignment
from portal.lib.errors import Refused
from portal.notices.content import parse_stewards
from portal.roster.models import StewardProfile
from tests.cases.stewards import ask_for_steward, make_steward, run_after_commit
from tests.portal.notices.conftest import publish

REASON = "Pushed an unsigned release: heron-1188."


@pytest.fixture
def serving(case, maintainer, caseworker):
    stella = make_steward("stella-ruiz", max_assignments=3)
    first = ask_for_steward(case, maintainer)
    active = services.propose_assignment(
        request=first, steward=stella, actor=caseworker
    )
    services.respond_to_assignment(assignment=active, actor=maintainer, accept=True)
    second = ask_for_steward(case, maintainer)
    proposed = services.propose_assignment(
        request=second, steward=stella, actor=caseworker
    )
    return stella, active, proposed


def test_suspension_ends_every_assignment_and_tells_the_maintainers(
    serving, caseworker, maintainer, django_capture_on_commit_callbacks
):
    stella, active, proposed = serving
    mail.outbox.clear()
    with django_capture_on_commit_callbacks() as callbacks:
        services.suspend_steward(steward=stella, actor=caseworker, reason=REASON)
    run_after_commit(callbacks)
    stella.refresh_from_db()
    assert stella.status == StewardProfile.Status.SUSPENDED
    for assignment in (active, proposed):
        assignment.refresh_from_db()
        assert assignment.status == Assignment.Status.ENDED
        assert assignment.end_reason == Assignment.EndReason.SUSPENDED
    assert {m.to[0] for m in mail.outbox} == {maintainer.email}
    for message in mail.outbox:
        assert "heron" not in message.body and "tinyzip" not in message.body
        assert "/cases/assignments/" in message.body
    with pytest.raises(Refused, match="already answered|no longer"):
        services.respond_to_assignment(
            assignment=proposed, actor=maintainer, accept=True
        )


def test_a_refused_suspension_changes_nothing(serving, maintainer, caseworker):
    stella, active, _ = serving
    with pytest.raises(Refused):
        services.suspend_steward(steward=stella, actor=maintainer, reason=REASON)
    with pytest.raises(Refused):
        services.suspend_steward(steward=stella, actor=caseworker, reason="  ")
    stella.refresh_from_db()
    active.refresh_from_db()
    assert stella.status == StewardProfile.Status.VETTED
    assert active.status == Assignment.Status.ACTIVE


def test_the_suspend_url_is_for_caseworkers_only(client, serving, caseworker, steward):
    stella, active, _ = serving
    url = reverse("cases:suspend_steward", args=[stella.public_id])
    client.force_login(steward)
    assert client.post(url, {"reason": REASON}).status_code == 403
    client.force_login(caseworker)
    assert client.get(url).status_code == 405
    assert client.post(url, {"reason": ""}).status_code == 400
    assert client.post(url, {"reason": REASON}).status_code == 302
    active.refresh_from_db()
    assert active.status == Assignment.Status.ENDED


def test_suspension_marks_the_notices_naming_the_steward_for_revision(
    serving, caseworker, second_caseworker, maintainer
):
    stella, _, _ = serving
    naming = publish(
        caseworker,
        second_caseworker,
        consent_by=maintainer,
        project_name="named-lib",
        stewards=parse_stewards(f"{stella.handle} | Stella Ruiz"),
    )
    other = publish(
        caseworker,
        second_caseworker,
        consent_by=maintainer,
        stewards=parse_stewards("someone-else | Someone Else"),
    )
    services.suspend_steward(steward=stella, actor=caseworker, reason=REASON)
    naming.refresh_from_db()
    other.refresh_from_db()
    assert naming.needs_revision_since is not None
    assert "no longer on the foundation's roster" in naming.needs_revision_reason
    assert REASON not in naming.needs_revision_reason
    assert other.needs_revision_since is None


def test_withdrawing_the_case_ends_its_assignments(serving, maintainer):
    _, active, proposed = serving
    case = active.case
    services.withdraw_case(case=case, actor=maintainer)
    for assignment in (active, proposed):
        assignment.refresh_from_db()
        assert assignment.status == Assignment.Status.ENDED
        assert assignment.end_reason == Assignment.EndReason.EARLY
