"""Every write to a case. Each function is one transaction: lock, check, write, audit, grant.

Split by sub-domain; import from here: `from cases import services; services.open_case(...)`.
"""

from cases.services.attachments import add_attachment, attachment_name, read_attachment
from cases.services.conflicts import declare_conflict, withdraw_conflict
from cases.services.conversation import post_message
from cases.services.lifecycle import (
    add_co_maintainer,
    assign_caseworker,
    change_status,
    consent_requests,
    consent_to_notice_revision,
    draft_handover,
    open_case,
    record_case_viewed,
    unassign_caseworker,
    withdraw_case,
)
from cases.services.sla import warn_first_response

__all__ = [
    "add_attachment",
    "add_co_maintainer",
    "attachment_name",
    "assign_caseworker",
    "change_status",
    "declare_conflict",
    "consent_requests",
    "consent_to_notice_revision",
    "draft_handover",
    "open_case",
    "post_message",
    "read_attachment",
    "record_case_viewed",
    "unassign_caseworker",
    "warn_first_response",
    "withdraw_case",
    "withdraw_conflict",
]
