"""Notices made through the real services: a draft by `caseworker`, published by `second_caseworker`."""

import datetime

import pytest

from portal.notices import services
from portal.projects.models import Ecosystem


def draft(actor, **overrides):
    """Draft a notice as `actor` through the service; `overrides` replace any public field."""
    fields = {
        "project_name": "tinyzip",
        "ecosystem": Ecosystem.GENERIC,
        "repository_url": "https://github.com/example/tinyzip",
        "purls": ["pkg:github/example/tinyzip"],
        "window_start": datetime.date(2026, 12, 1),
        "window_end": datetime.date(2027, 3, 1),
        "steward_name": "Stella Ruiz",
        "steward_handle": "@stella-ruiz",
        "guidance": "Only releases signed by the interim steward are expected in this window.",
    }
    fields.update(overrides)
    return services.draft_notice(actor=actor, **fields)


def publish(drafter, approver, **overrides):
    return services.approve_notice(notice=draft(drafter, **overrides), actor=approver)


@pytest.fixture
def draft_notice(caseworker):
    return draft(caseworker, project_name="draftonly-lib")


@pytest.fixture
def published_notice(caseworker, second_caseworker):
    return publish(caseworker, second_caseworker, project_name="published-lib")
