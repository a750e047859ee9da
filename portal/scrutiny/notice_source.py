"""Loading a handover notice (docs/notice-format.md) for the scrutiny commands.

Only the fields the scans use are checked closely; the rest of the document is kept as it came.
Every problem raises NoticeError with a message naming the field, so the command can print it
and exit with status 2 instead of a traceback.
"""

import datetime
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from portal.lib import sshsig

NOTICE_ID = re.compile(r"^HN-\d{4}-\d{4,}$")
FORMAT = "steady-notice/1"
# A notice is a few kilobytes; anything far larger is not one.
MAX_NOTICE_BYTES = 1024 * 1024
FETCH_TIMEOUT_SECONDS = 20


class NoticeError(Exception):
    """The notice could not be read or is not a steady-notice/1 document."""


@dataclass(frozen=True)
class Identity:
    """One entry of authorized_identities."""

    name: str
    email: str
    key_fingerprint: str | None
    may: frozenset[str]

    @property
    def email_key(self) -> str:
        return normalise_email(self.email)


@dataclass(frozen=True)
class Release:
    version: str
    date: str


@dataclass(frozen=True)
class Notice:
    id: str
    revision: int
    status: str
    window_start: datetime.date
    window_end: datetime.date | None
    identities: tuple[Identity, ...]
    releases: tuple[Release, ...]
    stewards: tuple[dict, ...] = ()
    document: dict = field(default_factory=dict, compare=False, repr=False)

    def identities_that_may(self, action: str) -> dict[str, Identity]:
        """Authorised identities for an action ("commit" or "release"), keyed by lower-case email."""
        return {i.email_key: i for i in self.identities if action in i.may}

    def window_bounds(self) -> tuple[int, int | None]:
        """The window as Unix seconds: [start of start day UTC, start of the day after end UTC)."""
        start = datetime.datetime.combine(
            self.window_start, datetime.time.min, tzinfo=datetime.UTC
        )
        if self.window_end is None:
            return int(start.timestamp()), None
        end = datetime.datetime.combine(
            self.window_end + datetime.timedelta(days=1),
            datetime.time.min,
            tzinfo=datetime.UTC,
        )
        return int(start.timestamp()), int(end.timestamp())


def normalise_email(email: str) -> str:
    return email.strip().lower()


def parse_notice(data: bytes, *, source: str = "notice") -> Notice:
    """Check the shape of a steady-notice/1 document and return what the scans need."""
    if len(data) > MAX_NOTICE_BYTES:
        raise NoticeError(
            f"{source}: larger than {MAX_NOTICE_BYTES} bytes; not a notice."
        )
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise NoticeError(f"{source}: not UTF-8 ({exc.reason}).") from None
    except json.JSONDecodeError as exc:
        raise NoticeError(
            f"{source}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from None
    if not isinstance(doc, dict):
        raise NoticeError(f"{source}: the document must be a JSON object.")
    if doc.get("format") != FORMAT:
        raise NoticeError(
            f"{source}: field 'format' must be {FORMAT!r}, found {doc.get('format')!r}."
        )
    notice_id = _string(doc, "id", source)
    if not NOTICE_ID.match(notice_id):
        raise NoticeError(f"{source}: field 'id' must look like HN-2026-0007.")
    revision = doc.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 1:
        raise NoticeError(f"{source}: field 'revision' must be a positive integer.")
    status = _string(doc, "status", source)
    if status not in {"active", "ended", "withdrawn"}:
        raise NoticeError(
            f"{source}: field 'status' must be active, ended or withdrawn."
        )

    window = doc.get("window")
    if not isinstance(window, dict):
        raise NoticeError(f"{source}: field 'window' must be an object.")
    start = _date(window.get("start"), "window.start", source, required=True)
    end = _date(window.get("end"), "window.end", source, required=False)
    if end is not None and end < start:
        raise NoticeError(f"{source}: 'window.end' is before 'window.start'.")

    raw_identities = doc.get("authorized_identities")
    if not isinstance(raw_identities, list):
        raise NoticeError(f"{source}: field 'authorized_identities' must be a list.")
    identities = tuple(
        _identity(entry, f"authorized_identities[{n}]", source)
        for n, entry in enumerate(raw_identities)
    )

    raw_releases = doc.get("releases", [])
    if not isinstance(raw_releases, list):
        raise NoticeError(f"{source}: field 'releases' must be a list.")
    releases = []
    for n, entry in enumerate(raw_releases):
        where = f"releases[{n}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("version"), str):
            raise NoticeError(f"{source}: '{where}' needs a string 'version'.")
        releases.append(Release(entry["version"], str(entry.get("date") or "")))

    stewards = doc.get("stewards", [])
    if not isinstance(stewards, list) or not all(isinstance(s, dict) for s in stewards):
        raise NoticeError(f"{source}: field 'stewards' must be a list of objects.")

    return Notice(
        id=notice_id,
        revision=revision,
        status=status,
        window_start=start,
        window_end=end,
        identities=identities,
        releases=tuple(releases),
        stewards=tuple(stewards),
        document=doc,
    )


def load_notice_file(path: str | Path) -> Notice:
    """Read a downloaded notice whose signature the caller has already checked."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_NOTICE_BYTES + 1)
    except OSError as exc:
        raise NoticeError(
            f"Cannot read the notice file {path}: {exc.strerror}."
        ) from None
    return parse_notice(data, source=str(path))


def notice_url(notice_id: str, portal_url: str) -> str:
    if not NOTICE_ID.match(notice_id):
        raise NoticeError(f"{notice_id!r} is not a notice id like HN-2026-0007.")
    parts = urlsplit(portal_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise NoticeError(
            f"The portal address must be an http:// or https:// URL, not {portal_url!r}."
        )
    return f"{portal_url.rstrip('/')}/notices/{quote(notice_id)}/revisions/latest.json"


def fetch_notice(
    notice_id: str, portal_url: str, *, timeout: float = FETCH_TIMEOUT_SECONDS
) -> Notice:
    """Download the latest revision of a notice from the portal and check it.

    The body is the notice's canonical bytes (docs/notice-format.md).
    """
    url = notice_url(notice_id, portal_url)
    body = _download(url, timeout=timeout, what=f"notice {notice_id}")
    signature = _download(f"{url}.sig", timeout=timeout, what="the notice's signature")
    allowed_url = f"{portal_url.rstrip('/')}/.well-known/steady/allowed_signers"
    allowed_text = _download(allowed_url, timeout=timeout, what="the allowed signers file")
    # SECURITY: the one place a downloaded notice is accepted: only with a valid signature by a
    # foundation key, valid when the revision was published (keys rotate; old ones stay listed
    # with their validity period).
    _check_signature(body, signature, allowed_text, source=url)
    notice = parse_notice(body, source=url)
    if notice.id != notice_id:
        raise NoticeError(f"Asked for {notice_id} but {url} holds {notice.id}.")
    return notice


def _download(url: str, *, timeout: float, what: str) -> bytes:
    # SECURITY: the scheme was limited to http(s) by notice_url, so urlopen cannot read file://.
    request = urllib.request.Request(url)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read(MAX_NOTICE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise NoticeError(f"The portal has no {what} ({url}).") from None
        raise NoticeError(f"The portal answered {exc.code} for {url}.") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NoticeError(f"Cannot fetch {url}: {reason}.") from None
    if len(body) > MAX_NOTICE_BYTES:
        raise NoticeError(f"{url} is larger than {MAX_NOTICE_BYTES} bytes.")
    return body


def _check_signature(body: bytes, signature: bytes, allowed_text: bytes, *, source: str):
    try:
        published = json.loads(body)["modified"]
        at = datetime.datetime.strptime(published, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.UTC
        )
        allowed = sshsig.parse_allowed_signers(allowed_text.decode("utf-8"))
        sshsig.verify(
            signature.decode("ascii"), body, sshsig.NOTICE_NAMESPACE, allowed, at
        )
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise NoticeError(f"{source}: cannot check its signature: {exc}") from None
    except sshsig.SignatureError as exc:
        raise NoticeError(
            f"{source}: the foundation's signature does not verify ({exc}); not using it."
        ) from None


def _string(doc: dict, name: str, source: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise NoticeError(f"{source}: field '{name}' must be a non-empty string.")
    return value


def _date(value, where: str, source: str, *, required: bool) -> datetime.date | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise NoticeError(f"{source}: '{where}' must be a date like 2026-11-01.")
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise NoticeError(
            f"{source}: '{where}' must be a date like 2026-11-01, found {value!r}."
        ) from None


def _identity(entry, where: str, source: str) -> Identity:
    if not isinstance(entry, dict):
        raise NoticeError(f"{source}: '{where}' must be an object.")
    name = entry.get("name", "")
    email = entry.get("email")
    if not isinstance(name, str):
        raise NoticeError(f"{source}: '{where}.name' must be a string.")
    if not isinstance(email, str) or "@" not in email:
        raise NoticeError(f"{source}: '{where}.email' must be an email address.")
    fingerprint = entry.get("key_fingerprint")
    if fingerprint is not None and (
        not isinstance(fingerprint, str) or not fingerprint
    ):
        raise NoticeError(
            f"{source}: '{where}.key_fingerprint' must be a fingerprint string or null."
        )
    may = entry.get("may", [])
    if not isinstance(may, list) or not all(isinstance(m, str) for m in may):
        raise NoticeError(f"{source}: '{where}.may' must be a list of strings.")
    return Identity(
        name=name, email=email, key_fingerprint=fingerprint, may=frozenset(may)
    )
