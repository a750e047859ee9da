"""Matching: vetted stewards ranked by fit, everyone else excluded with the reason shown."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases import matching
from cases.services.concerns import clear_identities, record_identity_of_concern
from portal.roster.models import StewardProfile
from tests.cases.stewards import ask_for_steward, involve, make_steward


@pytest.fixture
def steward_request(case, maintainer):
    return ask_for_steward(case, maintainer)


def _by_handle(matches):
    ranked = {c.steward.handle: c for c in matches.ranked}
    excluded = {c.steward.handle: c for c in matches.excluded}
    return ranked, excluded


def _codes(candidate):
    return {e.code for e in candidate.exclusions}


def test_better_fit_ranks_higher(steward_request):
    make_steward("near-and-skilled", skills=["c", "fuzzing"], time_zone="Europe/Berlin")
    make_steward("far-away", skills=["c", "fuzzing"], time_zone="Pacific/Auckland")
    make_steward("wrong-ecosystem", ecosystems=["npm"], skills=["c", "fuzzing"])
    make_steward("no-skills", skills=["javascript"])
    ranked = [c.steward.handle for c in matching.match_stewards(steward_request).ranked]
    assert ranked[0] == "near-and-skilled"
    assert ranked.index("near-and-skilled") < ranked.index("far-away")
    assert ranked.index("near-and-skilled") < ranked.index("wrong-ecosystem")
    assert ranked.index("near-and-skilled") < ranked.index("no-skills")


def test_free_capacity_counts_in_the_score(steward_request, case, maintainer):
    roomy = make_steward("roomy", max_assignments=4)
    busy = make_steward("busy", max_assignments=4)
    other = ask_for_steward(case, maintainer)
    from cases.models import Assignment

    for _ in range(3):
        Assignment.objects.create(
            request=other,
            case=case,
            steward=busy,
            scope=["triage"],
            starts_on=other.starts_on,
            ends_on=other.ends_on,
            proposed_by=case.caseworkers.get(),
            status=Assignment.Status.ACTIVE,
        )
    ranked, _ = _by_handle(matching.match_stewards(steward_request))
    assert ranked[roomy.handle].free == 4 and ranked[busy.handle].free == 1
    assert ranked[roomy.handle].score > ranked[busy.handle].score


def test_time_zone_overlap_is_computed_from_real_offsets():
    winter = datetime.date(2027, 1, 15)
    assert matching.overlap_hours("Europe/Paris", "Europe/Berlin", winter) == 8
    assert matching.overlap_hours("Europe/London", "Europe/Berlin", winter) == 7
    assert matching.overlap_hours("Europe/Berlin", "Pacific/Auckland", winter) == 0
    assert matching.overlap_hours("Europe/Berlin", "Not/AZone", winter) == 0


def test_a_declared_conflict_of_interest_excludes(steward_request, project):
    steward = make_steward("conflicted")
    involve(
        steward, project, conflict_of_interest=True, conflict_note="I work for them"
    )
    ranked, excluded = _by_handle(matching.match_stewards(steward_request))
    assert "conflicted" not in ranked
    assert _codes(excluded["conflicted"]) == {"conflict"}
    assert "conflict of interest" in excluded["conflicted"].reasons


@pytest.mark.parametrize("field", ["first_contributed_on", "first_offered_help_on"])
def test_the_eager_newcomer_rule_excludes_recent_arrivals_to_this_project(
    steward_request, project, field
):
    recent = timezone.localdate() - datetime.timedelta(days=100)
    steward = make_steward("eager")
    involve(steward, project, **{field: recent})
    ranked, excluded = _by_handle(matching.match_stewards(steward_request))
    assert "eager" not in ranked
    assert _codes(excluded["eager"]) == {"newcomer"}
    assert recent.isoformat() in excluded["eager"].reasons


def test_a_long_standing_contributor_is_not_a_newcomer(steward_request, project):
    steward = make_steward("veteran")
    involve(
        steward,
        project,
        first_contributed_on=timezone.localdate() - datetime.timedelta(days=800),
        first_offered_help_on=timezone.localdate() - datetime.timedelta(days=366),
    )
    ranked, _ = _by_handle(matching.match_stewards(steward_request))
    assert "veteran" in ranked


def test_newcomer_to_another_project_only_is_not_excluded(
    steward_request, other_project
):
    steward = make_steward("elsewhere")
    involve(steward, other_project, first_contributed_on=timezone.localdate())
    ranked, _ = _by_handle(matching.match_stewards(steward_request))
    assert "elsewhere" in ranked


def test_suspended_expired_and_unvetted_stewards_are_excluded(steward_request):
    make_steward("suspended", status=StewardProfile.Status.SUSPENDED)
    make_steward("expired", vetted_days_ago=400, expires_in_days=-35)
    make_steward("applicant", status=StewardProfile.Status.APPLIED, is_on_hold=True)
    ranked, excluded = _by_handle(matching.match_stewards(steward_request))
    assert not {"suspended", "expired", "applicant"} & set(ranked)
    assert _codes(excluded["suspended"]) == {"suspended"}
    assert _codes(excluded["expired"]) == {"expired"}
    assert "Vetting expired on" in excluded["expired"].reasons
    assert _codes(excluded["applicant"]) == {"not-vetted", "on-hold"}


def test_no_capacity_excludes(steward_request, case, maintainer):
    from cases.models import Assignment

    full = make_steward("full", max_assignments=1)
    other = ask_for_steward(case, maintainer)
    Assignment.objects.create(
        request=other,
        case=case,
        steward=full,
        scope=["triage"],
        starts_on=other.starts_on,
        ends_on=other.ends_on,
        proposed_by=case.caseworkers.get(),
    )
    _, excluded = _by_handle(matching.match_stewards(steward_request))
    assert _codes(excluded["full"]) == {"no-capacity"}


def test_an_identity_of_concern_excludes_until_cleared(
    steward_request, case, caseworker, second_caseworker
):
    make_steward("sock", forge_accounts=["github:jiat75"])
    record_identity_of_concern(case=case, actor=caseworker, identity="github:JiaT75")
    ranked, excluded = _by_handle(matching.match_stewards(steward_request))
    assert "sock" not in ranked
    assert _codes(excluded["sock"]) == {"identity-of-concern"}
    clear_identities(
        identities=["github:jiat75"],
        actor=second_caseworker,
        note="Not the same person.",
    )
    ranked, _ = _by_handle(matching.match_stewards(steward_request))
    assert "sock" in ranked


def test_an_email_identity_of_concern_matches_the_stewards_account(
    steward_request, case, caseworker
):
    make_steward("mailer", email="Jigar.Kumar@example.net")
    record_identity_of_concern(
        case=case, actor=caseworker, identity="jigar.kumar@example.net"
    )
    _, excluded = _by_handle(matching.match_stewards(steward_request))
    assert _codes(excluded["mailer"]) == {"identity-of-concern"}


def test_the_cases_own_maintainer_is_never_their_own_steward(
    steward_request, maintainer
):
    make_steward("self", user=maintainer)
    _, excluded = _by_handle(matching.match_stewards(steward_request))
    assert _codes(excluded["self"]) == {"own-case"}


def test_the_matching_page_shows_the_excluded_with_their_reason(
    client, caseworker, steward_request, project
):
    steward = make_steward("eager")
    involve(steward, project, first_offered_help_on=timezone.localdate())
    make_steward("good")
    client.force_login(caseworker)
    response = client.get(
        reverse("cases:steward-matching", args=[steward_request.public_id])
    )
    assert response.status_code == 200
    page = response.content.decode()
    ranked_part, excluded_part = page.split('id="excluded"')
    assert "good" in ranked_part
    assert (
        "eager" in excluded_part and "First offered to help with this project" in page
    )


def _matching_queries(steward_request) -> int:
    with CaptureQueriesContext(connection) as queries:
        matching.match_stewards(steward_request)
    return len(queries.captured_queries)


def test_matching_takes_the_same_number_of_queries_at_any_roster_size(
    steward_request, project
):
    for _ in range(5):
        involve(make_steward(), project, first_contributed_on=timezone.localdate())
    small = _matching_queries(steward_request)
    for n in range(60):
        steward = make_steward(ecosystems=["generic", "npm"])
        if n % 3 == 0:
            involve(steward, project, conflict_of_interest=True)
    large = _matching_queries(steward_request)
    assert small == large
    assert large <= 8
