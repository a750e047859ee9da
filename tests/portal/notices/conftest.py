"""Notices made through the real services: a draft by `caseworker`, published by `second_caseworker`."""

import datetime

import pytest

from portal.notices import services
from portal.notices.content import NoticeContent, parse_identities, parse_stewards
from portal.projects.models import Ecosystem

STEWARD_KEY = "SHA256:" + "S" * 43


# What a caseworker types into the notice form (the case's handover page, or a revision).
HANDOVER_FORM = {
    "project_name": "tinyzip",
    "ecosystem": "generic",
    "repository_url": "https://github.com/example/tinyzip",
    "purls": "pkg:github/example/tinyzip",
    "window_start": "2026-12-01",
    "window_end": "",
    "scope": ["triage", "review"],
    "stewards": f"stella | Stella Ruiz | github:stella | {STEWARD_KEY}",
    "authorized_identities": f"Stella Ruiz <stella@example.org> | {STEWARD_KEY} | commit",
    "guidance": "Scrutinise releases.",
}


def content(**overrides) -> NoticeContent:
    """A valid notice content; `overrides` replace any field."""
    fields = {
        "project_name": "tinyzip",
        "ecosystem": Ecosystem.GENERIC,
        "repository_url": "https://github.com/example/tinyzip",
        "purls": ("pkg:github/example/tinyzip",),
        "window_start": datetime.date(2026, 12, 1),
        "window_end": datetime.date(2027, 3, 1),
        "scope": ("triage", "review", "merge", "release"),
        "stewards": parse_stewards(
            f"stella-ruiz | Stella Ruiz | github:stella-ruiz | {STEWARD_KEY}"
        ),
        "authorized_identities": parse_identities(
            f"Stella Ruiz <stella@example.org> | {STEWARD_KEY} | commit, release"
        ),
        "guidance": "Only releases signed by the interim steward are expected in this window.",
    }
    fields.update(overrides)
    return NoticeContent(**fields)


def draft(actor, **overrides):
    """Draft a notice as `actor` through the service; `overrides` replace any content field."""
    return services.draft_notice(actor=actor, content=content(**overrides))


def first_revision(notice):
    return (
        notice.revisions.get(number=None)
        if notice.reference is None
        else (notice.revisions.order_by("drafted_at").first())
    )


def approve(notice, approver):
    """Approve the revision of `notice` that awaits approval; return the refreshed notice."""
    revision = notice.revisions.get(state="awaiting_approval")
    services.approve_revision(revision=revision, actor=approver)
    notice.refresh_from_db()
    return notice


def publish(drafter, approver, *, consent_by=None, **overrides):
    """Draft and approve; with `consent_by`, the maintainer's consent is recorded first, so the
    notice takes effect at once instead of after the objection period."""
    notice = draft(drafter, **overrides)
    if consent_by is not None:
        services.record_consent_unchecked(
            revision=notice.revisions.get(state="awaiting_approval"), actor=consent_by
        )
    return approve(notice, approver)


@pytest.fixture
def draft_notice(caseworker):
    return draft(caseworker, project_name="draftonly-lib")


@pytest.fixture
def published_notice(caseworker, second_caseworker, maintainer):
    return publish(
        caseworker,
        second_caseworker,
        consent_by=maintainer,
        project_name="published-lib",
    )
