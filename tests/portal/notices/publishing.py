"""Publish notices through the real services (draft by one caseworker, approval by another).

Shared by the API, OSV and feed tests; every notice here is signed and logged like a real one.
"""

import datetime

from portal.notices import services
from portal.notices.content import Identity, NoticeContent, Release, Steward
from portal.notices.models import NoticeRevision


def content(**overrides) -> NoticeContent:
    fields = {
        "project_name": "tinyzip",
        "ecosystem": "pypi",
        "repository_url": "https://github.com/example/tinyzip",
        "purls": ("pkg:pypi/tinyzip",),
        "window_start": datetime.date(2026, 11, 1),
        "window_end": None,
        "scope": ("triage", "review", "merge", "release"),
        "stewards": (Steward(handle="stella", name="Stella Steward"),),
        "authorized_identities": (
            Identity(
                name="Stella Steward",
                email="stella@example.org",
                key_fingerprint=None,
                may=("commit", "release"),
            ),
        ),
        "guidance": "Only releases signed by the interim steward are expected.",
        "releases": (Release(version="1.4.1", date=datetime.date(2026, 11, 18)),),
    }
    fields.update(overrides)
    return NoticeContent(**fields)


def publish(drafter, approver, *, consent_by=None, **overrides) -> NoticeRevision:
    """A new notice. With `consent_by` (the outgoing maintainer) it takes effect at once;
    without, it is public but waits out the objection period, as its steward is new."""
    notice = services.draft_notice(actor=drafter, content=content(**overrides))
    revision = notice.revisions.get()
    if consent_by is not None:
        services.record_consent_unchecked(revision=revision, actor=consent_by)
    revision = services.approve_revision(revision=revision, actor=approver)
    revision.notice.refresh_from_db()
    return revision


def revise(
    drafter, approver, notice, *, kind="amendment", consent_by=None, **overrides
) -> NoticeRevision:
    """Publish a further revision of `notice` that changes only what `overrides` say."""
    current = NoticeContent.from_json(services.latest_published(notice).content)
    changed = current.replace(**overrides)
    revision = services.propose_revision(
        notice=notice, actor=drafter, kind=kind, content=changed
    )
    if consent_by is not None:
        services.record_consent_unchecked(revision=revision, actor=consent_by)
    revision = services.approve_revision(revision=revision, actor=approver)
    revision.notice.refresh_from_db()
    return revision
