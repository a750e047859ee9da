"""Every write to the roster. Each function is one transaction: lock, re-check, write, audit.

Split by sub-domain; import from here: `from portal.roster import services; services.vet_steward(...)`.
"""

from portal.roster.services._common import (
    IDENTITY_CHECK_VALID_FOR,
    MAX_CONCURRENT,
    MAX_HOURS_PER_WEEK,
    MAX_KEYS,
    MAX_STATEMENT,
    REMIND_BEFORE_EXPIRY,
    RING_WINDOW,
    VETTING_VALID_FOR,
    VOUCHER_SENIORITY,
    VOUCHES_NEEDED,
    normalise_forge_account,
    time_zone_names,
)
from portal.roster.services.applications import add_signing_key, apply_as_steward
from portal.roster.services.expiry import expiring_unreminded, remind_expiring_vetting
from portal.roster.services.involvement import declare_involvement
from portal.roster.services.vetting import (
    VettingReport,
    clear_hold,
    record_identity_check,
    record_suspension,
    record_vouch,
    vet_steward,
    vetting_problems,
)

__all__ = [
    "IDENTITY_CHECK_VALID_FOR",
    "MAX_CONCURRENT",
    "MAX_HOURS_PER_WEEK",
    "MAX_KEYS",
    "MAX_STATEMENT",
    "REMIND_BEFORE_EXPIRY",
    "RING_WINDOW",
    "VETTING_VALID_FOR",
    "VOUCHER_SENIORITY",
    "VOUCHES_NEEDED",
    "VettingReport",
    "add_signing_key",
    "apply_as_steward",
    "clear_hold",
    "declare_involvement",
    "expiring_unreminded",
    "normalise_forge_account",
    "record_identity_check",
    "record_suspension",
    "record_vouch",
    "remind_expiring_vetting",
    "time_zone_names",
    "vet_steward",
    "vetting_problems",
]
