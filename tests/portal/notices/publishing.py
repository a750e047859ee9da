"""Publish notices through the real services (draft by one caseworker, approval by another).

Shared by the API, OSV and feed tests; every notice here is signed and logged like a real one.
"""

import datetime

from portal.notices import services
from portal.notices.content import Identity, NoticeContent, Release, Steward
from portal.notices.models import NoticeRevision
from tests.portal.notices import conftest as notices_conftest

# What the API, OSV and feed tests expect by default: a PyPI package with a release in its window.
DEFAULTS = {
    "ecosystem": "pypi",
    "purls": ("pkg:pypi/tinyzip",),
    "window_start": datetime.date(2026, 11, 1),
    "window_end": None,
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


def content(**overrides) -> NoticeContent:
    return notices_conftest.content(**{**DEFAULTS, **overrides})


def publish(drafter, approver, *, consent_by=None, **overrides) -> NoticeRevision:
    """A new notice, as its published revision. With `consent_by` (the outgoing maintainer) it
    takes effect at once; without, it is public but waits out the objection period."""
    notice = notices_conftest.publish(
        drafter, approver, consent_by=consent_by, **{**DEFAULTS, **overrides}
    )
    return notice.latest_revision


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
