"""What a notice revision says, and how it becomes the `steady-notice/1` document.

`NoticeContent` is the one shape every path uses: the caseworker's form, the case's draft, the
services, and `document()`, which builds the bytes that are signed (docs/notice-format.md).
"""

import dataclasses
import datetime
import re

from portal.lib.purl import PurlError, normalize_purl
from portal.projects.models import Ecosystem

FORMAT = "steady-notice/1"
SCOPES = ("triage", "review", "merge", "release")
PERMISSIONS = ("commit", "release")
_FORGES = ("github", "gitlab", "codeberg")
_HANDLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_SSH_FINGERPRINT = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}$")
_PGP_FINGERPRINT = re.compile(r"^[0-9A-F]{40}$|^[0-9A-F]{64}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_~:-]{0,63}$")


class ContentError(ValueError):
    """What is wrong with a field, in words a caseworker can act on."""


def _text(value, name: str, *, max_length: int, required: bool = True) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else None
    if text is None:
        raise ContentError(f"{name} must be text.")
    if required and not text:
        raise ContentError(f"{name} is required.")
    if len(text) > max_length:
        raise ContentError(f"{name} is longer than {max_length} characters.")
    return text


def _url(value, name: str) -> str:
    url = _text(value, name, max_length=300)
    if not url.startswith("https://") or any(ch.isspace() for ch in url):
        raise ContentError(f"{name} “{url}” must be an https:// address.")
    return url


def normalize_fingerprint(value: str) -> str:
    text = value.strip()
    if text.upper().startswith("SHA256:"):
        text = "SHA256:" + text[7:]
        if _SSH_FINGERPRINT.match(text):
            return text
    else:
        hexa = text.replace(" ", "").upper()
        if _PGP_FINGERPRINT.match(hexa):
            return hexa
    raise ContentError(
        f"“{value}” is not a key fingerprint: give SHA256:… as `ssh-keygen -l` prints it, "
        "or an OpenPGP fingerprint in hexadecimal."
    )


def normalize_forge_account(value: str) -> str:
    text = value.strip().lower()
    forge, _, name = text.partition(":")
    if forge not in _FORGES or not _HANDLE.match(name):
        raise ContentError(
            f"“{value}” is not a forge account: write github:NAME, gitlab:NAME or codeberg:NAME."
        )
    return text


@dataclasses.dataclass(frozen=True)
class Steward:
    handle: str
    name: str
    forge_accounts: tuple[str, ...] = ()
    key_fingerprints: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {
            "handle": self.handle,
            "name": self.name,
            "forge_accounts": list(self.forge_accounts),
            "key_fingerprints": list(self.key_fingerprints),
        }


@dataclasses.dataclass(frozen=True)
class Identity:
    name: str
    email: str
    key_fingerprint: str | None
    may: tuple[str, ...]

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "email": self.email,
            "key_fingerprint": self.key_fingerprint,
            "may": list(self.may),
        }


@dataclasses.dataclass(frozen=True)
class Release:
    version: str
    date: datetime.date

    def as_dict(self) -> dict:
        return {"version": self.version, "date": self.date.isoformat()}


@dataclasses.dataclass(frozen=True)
class NoticeContent:
    project_name: str
    ecosystem: str
    repository_url: str
    purls: tuple[str, ...]
    window_start: datetime.date
    window_end: datetime.date | None
    scope: tuple[str, ...]
    stewards: tuple[Steward, ...]
    authorized_identities: tuple[Identity, ...]
    guidance: str
    release_channels: tuple[str, ...] = ()
    releases: tuple[Release, ...] = ()
    references: tuple[str, ...] = ()
    statement: str = ""
    handover_report: str = ""
    handover_report_filed: datetime.date | None = None

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ContentError naming the first thing that is wrong."""
        _text(self.project_name, "The project name", max_length=120)
        if self.ecosystem not in Ecosystem.values:
            raise ContentError(f"“{self.ecosystem}” is not an ecosystem Steady knows.")
        _url(self.repository_url, "The repository")
        for purl in self.purls:
            try:
                if normalize_purl(purl) != purl:
                    raise ContentError(f"Package URL “{purl}” is not in normal form.")
            except PurlError as exc:
                raise ContentError(str(exc)) from None
        if self.window_end is not None and self.window_end < self.window_start:
            raise ContentError("The end of the window is before its start.")
        if not self.scope or any(s not in SCOPES for s in self.scope):
            raise ContentError(
                "Choose what the stewards may do: triage, review, merge, release."
            )
        if not self.stewards:
            raise ContentError("Name at least one interim steward.")
        for identity in self.authorized_identities:
            if not identity.may or any(p not in PERMISSIONS for p in identity.may):
                raise ContentError(
                    f"Say what {identity.email} may do: commit, release or both."
                )
        _text(self.guidance, "The guidance", max_length=10000)
        for url in (*self.release_channels, *self.references):
            _url(url, "A link")
        _text(self.statement, "The statement", max_length=5000, required=False)
        _text(self.handover_report, "The report", max_length=10000, required=False)

    # --- The public record ---------------------------------------------------------------------
    def as_json(self) -> dict:
        """The form stored in `NoticeRevision.content` (dates as ISO text)."""
        return {
            "project_name": self.project_name,
            "ecosystem": self.ecosystem,
            "repository_url": self.repository_url,
            "purls": list(self.purls),
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "scope": list(self.scope),
            "stewards": [s.as_dict() for s in self.stewards],
            "authorized_identities": [i.as_dict() for i in self.authorized_identities],
            "guidance": self.guidance,
            "release_channels": list(self.release_channels),
            "releases": [r.as_dict() for r in self.releases],
            "references": list(self.references),
            "statement": self.statement,
            "handover_report": self.handover_report,
            "handover_report_filed": (
                self.handover_report_filed.isoformat()
                if self.handover_report_filed
                else None
            ),
        }

    @classmethod
    def from_json(cls, data: dict) -> "NoticeContent":
        return cls(
            project_name=data["project_name"],
            ecosystem=data["ecosystem"],
            repository_url=data["repository_url"],
            purls=tuple(data["purls"]),
            window_start=datetime.date.fromisoformat(data["window_start"]),
            window_end=(
                datetime.date.fromisoformat(data["window_end"])
                if data.get("window_end")
                else None
            ),
            scope=tuple(data["scope"]),
            stewards=tuple(
                Steward(
                    handle=s["handle"],
                    name=s["name"],
                    forge_accounts=tuple(s["forge_accounts"]),
                    key_fingerprints=tuple(s["key_fingerprints"]),
                )
                for s in data["stewards"]
            ),
            authorized_identities=tuple(
                Identity(
                    name=i["name"],
                    email=i["email"],
                    key_fingerprint=i["key_fingerprint"],
                    may=tuple(i["may"]),
                )
                for i in data["authorized_identities"]
            ),
            guidance=data["guidance"],
            release_channels=tuple(data.get("release_channels", ())),
            releases=tuple(
                Release(
                    version=r["version"], date=datetime.date.fromisoformat(r["date"])
                )
                for r in data.get("releases", ())
            ),
            references=tuple(data.get("references", ())),
            statement=data.get("statement", ""),
            handover_report=data.get("handover_report", ""),
            handover_report_filed=(
                datetime.date.fromisoformat(data["handover_report_filed"])
                if data.get("handover_report_filed")
                else None
            ),
        )

    def replace(self, **changes) -> "NoticeContent":
        return dataclasses.replace(self, **changes)

    # --- What needs the outgoing maintainer's consent -------------------------------------------
    def additions_over(self, previous: "NoticeContent | None") -> list[str]:
        """Who or what this content trusts that `previous` (the revision in effect) did not.

        New stewards, forge accounts, signing keys, authorised identities, permissions of an
        identity, scopes and release channels. Any of them needs the outgoing maintainer's
        recorded consent, or else waits out the public objection period: "X is the new trusted
        steward" is exactly what an attacker would want published.
        """
        before = _trust(previous) if previous else set()
        return sorted(_trust(self) - before)


def _trust(content: NoticeContent) -> set[str]:
    """Everything a notice trusts, one string each, so two contents compare as sets."""
    trusted = {f"steward {s.handle.lower()}" for s in content.stewards}
    trusted |= {
        f"forge account {f}" for s in content.stewards for f in s.forge_accounts
    }
    trusted |= {f"key {k}" for k in _keys(content)}
    trusted |= {
        f"identity {i.email} may {permission}"
        for i in content.authorized_identities
        for permission in i.may
    }
    trusted |= {f"scope {scope}" for scope in content.scope}
    trusted |= {f"release channel {c}" for c in content.release_channels}
    return trusted


def _keys(content: NoticeContent) -> set[str]:
    keys = {k for s in content.stewards for k in s.key_fingerprints}
    keys |= {
        i.key_fingerprint for i in content.authorized_identities if i.key_fingerprint
    }
    return keys


def _stamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


STATUS_BY_KIND = {
    "initial": "active",
    "amendment": "active",
    "closure": "ended",
    "withdrawal": "withdrawn",
}


def document(
    *,
    content: NoticeContent,
    reference: str,
    number: int,
    kind: str,
    published: datetime.datetime,
    modified: datetime.datetime,
    effective: datetime.datetime,
    consent: str,
) -> dict:
    """The `steady-notice/1` document of one revision (docs/notice-format.md)."""
    return {
        "format": FORMAT,
        "id": reference,
        "revision": number,
        "kind": kind,
        "status": STATUS_BY_KIND[kind],
        "published": _stamp(published),
        "modified": _stamp(modified),
        "effective": _stamp(effective),
        "project": {
            "name": content.project_name,
            "ecosystem": content.ecosystem,
            "repository": content.repository_url,
            "purls": list(content.purls),
        },
        "window": {
            "start": content.window_start.isoformat(),
            "end": content.window_end.isoformat() if content.window_end else None,
        },
        "scope": list(content.scope),
        "stewards": [s.as_dict() for s in content.stewards],
        "authorized_identities": [i.as_dict() for i in content.authorized_identities],
        "release_channels": list(content.release_channels),
        "releases": [r.as_dict() for r in content.releases],
        "guidance": content.guidance,
        "references": list(content.references),
        "statement": content.statement,
        "handover_report": (
            {
                "summary": content.handover_report,
                "filed": content.handover_report_filed.isoformat()
                if content.handover_report_filed
                else None,
            }
            if content.handover_report
            else None
        ),
        "consent": consent,
    }


# --- Parsing the caseworker's lines ---------------------------------------------------------------
def _split(line: str, parts: int) -> list[str]:
    fields = [f.strip() for f in line.split("|")]
    return fields + [""] * (parts - len(fields))


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_stewards(text: str) -> tuple[Steward, ...]:
    """`handle | Name | github:x, gitlab:y | SHA256:…, SHA256:…`, one steward a line."""
    stewards, seen = [], set()
    for number, line in enumerate(_lines(text), start=1):
        handle, name, forges, keys = _split(line, 4)[:4]
        where = f"Steward line {number}"
        if not _HANDLE.match(handle):
            raise ContentError(
                f"{where}: “{handle}” is not a handle (letters, digits, . _ -)."
            )
        if handle.lower() in seen:
            raise ContentError(f"{where}: {handle} is listed twice.")
        seen.add(handle.lower())
        try:
            stewards.append(
                Steward(
                    handle=handle,
                    name=_text(name, f"{where}: the name", max_length=120),
                    forge_accounts=tuple(
                        normalize_forge_account(f) for f in _csv(forges)
                    ),
                    key_fingerprints=tuple(
                        normalize_fingerprint(k) for k in _csv(keys)
                    ),
                )
            )
        except ContentError as exc:
            raise ContentError(f"{where}: {exc}") from None
    return tuple(stewards)


def parse_identities(text: str) -> tuple[Identity, ...]:
    """`Name <email> | fingerprint or - | commit, release`, one identity a line."""
    identities = []
    for number, line in enumerate(_lines(text), start=1):
        who, key, may = _split(line, 3)[:3]
        where = f"Identity line {number}"
        match = re.match(r"^(?P<name>[^<>]+?)\s*<(?P<email>[^<>]+)>$", who)
        if not match or not _EMAIL.match(match["email"].strip()):
            raise ContentError(f"{where}: write the git identity as Name <email>.")
        permissions = tuple(p.lower() for p in _csv(may))
        if not permissions or any(p not in PERMISSIONS for p in permissions):
            raise ContentError(f"{where}: say commit, release, or commit, release.")
        try:
            fingerprint = normalize_fingerprint(key) if key not in ("", "-") else None
        except ContentError as exc:
            raise ContentError(f"{where}: {exc}") from None
        identities.append(
            Identity(
                name=match["name"].strip(),
                email=match["email"].strip().lower(),
                key_fingerprint=fingerprint,
                may=permissions,
            )
        )
    return tuple(identities)


def parse_releases(text: str) -> tuple[Release, ...]:
    """`version | YYYY-MM-DD`, one release a line."""
    releases = []
    for number, line in enumerate(_lines(text), start=1):
        version, day = _split(line, 2)[:2]
        if not _VERSION.match(version):
            raise ContentError(f"Release line {number}: “{version}” is not a version.")
        try:
            date = datetime.date.fromisoformat(day)
        except ValueError:
            raise ContentError(
                f"Release line {number}: “{day}” is not a date (YYYY-MM-DD)."
            ) from None
        releases.append(Release(version=version, date=date))
    return tuple(releases)


def parse_urls(text: str, what: str) -> tuple[str, ...]:
    urls = []
    for number, line in enumerate(_lines(text), start=1):
        try:
            urls.append(_url(line, f"{what} line {number}"))
        except ContentError as exc:
            raise ContentError(str(exc)) from None
    return tuple(dict.fromkeys(urls))


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def stewards_as_text(stewards) -> str:
    return "\n".join(
        " | ".join(
            [
                s.handle,
                s.name,
                ", ".join(s.forge_accounts),
                ", ".join(s.key_fingerprints),
            ]
        ).rstrip(" |")
        for s in stewards
    )


def identities_as_text(identities) -> str:
    return "\n".join(
        f"{i.name} <{i.email}> | {i.key_fingerprint or '-'} | {', '.join(i.may)}"
        for i in identities
    )


def releases_as_text(releases) -> str:
    return "\n".join(f"{r.version} | {r.date.isoformat()}" for r in releases)
