"""Publish a notice revision through the real services, for delivery and webhook tests."""

import datetime

from portal.notices import services
from portal.notices.content import NoticeContent, Steward
from portal.notices.models import NoticeRevision


def notice_content(**overrides) -> NoticeContent:
    fields = {
        "project_name": "tinyzip",
        "ecosystem": "generic",
        "repository_url": "https://github.com/example/tinyzip",
        "purls": ("pkg:github/example/tinyzip",),
        "window_start": datetime.date(2026, 12, 1),
        "window_end": None,
        "scope": ("triage", "review"),
        "stewards": (Steward(handle="stella-ruiz", name="Stella Ruiz"),),
        "authorized_identities": (),
        "guidance": "Only releases signed by the interim steward are expected.",
    }
    fields.update(overrides)
    return NoticeContent(**fields)


def publish(drafter, approver, **overrides) -> NoticeRevision:
    """Draft a notice as `drafter` and publish it as `approver`; returns the published revision.

    Publishing writes one pending Delivery per matching subscription in its transaction.
    """
    notice = services.draft_notice(actor=drafter, content=notice_content(**overrides))
    revision = services.approve_revision(
        revision=notice.revisions.get(), actor=approver
    )
    # The service saved the notice through another instance; this one gets its reference.
    revision.notice.refresh_from_db()
    return revision
