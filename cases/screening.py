"""Identities of concern, matched across the whole portal without revealing any case.

Caseworkers record on a case the accounts seen pressuring a maintainer (`IdentityOfConcern`).
Whenever one of those accounts turns up elsewhere (a steward application, a vouch, a steward
proposed for an assignment, another case), the caseworkers of every case that recorded it are
alerted, and the caller learns only yes or no and a reason code.

SECURITY: this module is the one door between the roster and case data. `screen_identities`
returns a `Verdict`, never a case, a case id or a word a maintainer wrote; the alert it leaves
on each matching case names where the identity appeared, never the other case.
"""

import functools
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Max, QuerySet

from cases import crypto
from cases.models import ConcernAlert, ConcernClearance, IdentityOfConcern

REASON_CODE = "identity-of-concern"
FORGES = ("github", "gitlab", "codeberg")
SOURCES = frozenset(ConcernAlert.Source.values)
# Forge user names: letters, digits, dot, dash, underscore (GitLab and Codeberg allow dots).
_FORGE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?$")


@dataclass(frozen=True)
class Verdict:
    is_of_concern: bool
    reason_code: str  # "" or REASON_CODE


CLEAR = Verdict(is_of_concern=False, reason_code="")
OF_CONCERN = Verdict(is_of_concern=True, reason_code=REASON_CODE)


def normalise_identity(raw: str) -> str:
    """`github:Name` → `github:name`, `Someone@Example.org` → `email:someone@example.org`.

    Raises ValueError with a message a person can act on when the value is neither.
    """
    value = (raw or "").strip().lower()
    if not value:
        raise ValueError("Enter a forge account (github:name) or an email address.")
    kind, sep, name = value.partition(":")
    if not sep:
        kind, name = "email", value
    kind, name = kind.strip(), name.strip().lstrip("@")
    if kind == "email" or kind == "mailto":
        try:
            validate_email(name)
        except ValidationError:
            raise ValueError(f"“{raw.strip()}” is not an email address.") from None
        return f"email:{name}"
    if kind not in FORGES:
        raise ValueError(
            f"“{raw.strip()}”: write github:NAME, gitlab:NAME, codeberg:NAME or an email address."
        )
    if not _FORGE_NAME.match(name):
        raise ValueError(f"“{raw.strip()}” is not a valid {kind} user name.")
    return f"{kind}:{name}"


def digest(identity: str) -> str:
    """The keyed digest an identity of concern is matched by (of an already normalised value).

    SECURITY: keyed with the portal's secret key, so the stored digests do not confirm a
    guessed account to someone holding only a copy of the database. Changing SECRET_KEY needs
    `manage.py redigest_identities`, which recomputes them from the sealed identities.
    """
    return _digest(identity, settings.SECRET_KEY)


@functools.lru_cache(maxsize=65536)
def _digest(identity: str, secret: str) -> str:
    # Django's salted_hmac with its derived key computed once, and memoised (a pure function):
    # matching digests every identity of thousands of stewards per page.
    key = hashlib.sha256(f"steady:identity-of-concern{secret}".encode()).digest()
    return hmac.new(key, identity.encode(), "sha256").hexdigest()


def _digests(identities: Iterable[str]) -> set[str]:
    found = set()
    for raw in identities:
        try:
            found.add(digest(normalise_identity(raw)))
        except ValueError:
            # A malformed identity cannot match a normalised one; the caller validates its own.
            continue
    return found


def identity_of(concern: IdentityOfConcern) -> str | None:
    """The identity as the case's caseworkers recorded it; None once the case is withdrawn."""
    if concern.identity_sealed is None or concern.case.wrapped_key is None:
        return None
    return crypto.open_text(
        concern.case, "identity-of-concern", concern.public_id, concern.identity_sealed
    )


def _cleared_at(digests) -> dict:
    return dict(
        ConcernClearance.objects.filter(identity_digest__in=list(digests))
        .values("identity_digest")
        .annotate(last=Max("created_at"))
        .values_list("identity_digest", "last")
    )


def uncleared_concerns(identities: Iterable[str]) -> QuerySet[IdentityOfConcern]:
    """Concerns about any of `identities` not covered by a later clearance of that identity."""
    wanted = _digests(identities)
    if not wanted:
        return IdentityOfConcern.objects.none()
    cleared = _cleared_at(wanted)
    rows = IdentityOfConcern.objects.filter(identity_digest__in=wanted).only(
        "pk", "identity_digest", "created_at"
    )
    keep = [
        row.pk
        for row in rows
        if row.identity_digest not in cleared
        or row.created_at > cleared[row.identity_digest]
    ]
    return IdentityOfConcern.objects.filter(pk__in=keep).select_related("case")


def concern_index() -> dict[str, object]:
    """Every digest with an uncleared concern, mapped to its newest concern's time. One pass
    over two small tables, for matching many stewards at once without recording alerts."""
    latest = dict(
        IdentityOfConcern.objects.values("identity_digest")
        .annotate(last=Max("created_at"))
        .values_list("identity_digest", "last")
    )
    cleared = _cleared_at(latest)
    return {
        key: when
        for key, when in latest.items()
        if key not in cleared or when > cleared[key]
    }


def alert_case(*, concern: IdentityOfConcern, source: str, subject: str) -> bool:
    """Leave an alert on the concern's case and mail its caseworkers after commit. The same
    concern, source and subject alert once; returns whether a new alert was written."""
    from cases import notifications

    if source not in SOURCES:
        raise ValueError(f"unknown screening source {source!r}")
    subject = subject[:200]
    if ConcernAlert.objects.filter(
        concern=concern, source=source, subject=subject
    ).exists():
        return False
    ConcernAlert.objects.create(
        case_id=concern.case_id, concern=concern, source=source, subject=subject
    )
    notifications.queue_concern_alert(case=concern.case, source=source)
    return True


@transaction.atomic
def screen_identities(
    *, identities: Iterable[str], source: str, subject: str
) -> Verdict:
    """Is any of `identities` of concern? Records an alert for the caseworkers of each matching
    case (mailed after the caller's transaction commits) and returns only yes/no and a reason.

    `identities` are normalised strings (`email:x@y.org`, `github:name`); `source` is one of
    "roster-application", "vouch", "steward-named"; `subject` a short non-confidential label such
    as the steward's handle. Concerns a caseworker has cleared (and not recorded again since) do
    not count. Runs inside the caller's transaction: a refused application leaves no alert.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown screening source {source!r}")
    concerns = list(uncleared_concerns(identities))
    if not concerns:
        return CLEAR
    for concern in concerns:
        alert_case(concern=concern, source=source, subject=subject)
    return OF_CONCERN
