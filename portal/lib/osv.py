"""OSV records (schema 1.7.x) for revisions of handover notices.

A handover notice is not a vulnerability, but the OSV format is what scanners, distributions and
dependency tools already read, so each revision is also served as one OSV record: the packages a
notice names go into `affected`, the releases made during the window into `versions`, and
everything else, including the exact signed bytes of the revision, under `database_specific`.
The official schema this module targets is vendored in `fixtures/osv-schema/`.

`versions` lists exactly the releases made during the window (none yet: an empty list), so an
OSV scanner flags those releases and no others; no `ranges` are given, since a handover does
not make a span of versions suspect.
"""

import io
import json
import re
import zipfile
from typing import Any

from packageurl import PackageURL

from portal.lib.canonical import canonical_bytes
from portal.lib.purl import PurlError, normalize_purl

SCHEMA_VERSION = "1.7.0"
# The schema admits unregistered databases by the `x_` prefix; `HANDOVER-` says what kind of
# record it is, so `x_HANDOVER-HN-2026-0007` is never mistaken for a vulnerability id.
ID_PREFIX = "x_HANDOVER-"
NOTICE_FORMAT = "steady-notice/1"
SIGNATURE_NAMESPACE = "steady-notice"

_NOTICE_ID = re.compile(r"^HN-[0-9]{4}-[0-9]{4,}$")
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")

# purl type -> OSV ecosystem name, for the types whose OSV ecosystem does not depend on the
# namespace.
_ECOSYSTEM_BY_TYPE = {
    "pypi": "PyPI",
    "npm": "npm",
    "cargo": "crates.io",
    "maven": "Maven",
    "golang": "Go",
    "gem": "RubyGems",
    "nuget": "NuGet",
    "composer": "Packagist",
    "hex": "Hex",
    "pub": "Pub",
    "cran": "CRAN",
    "hackage": "Hackage",
    "swift": "SwiftURL",
    "bitnami": "Bitnami",
    "conan": "ConanCenter",
}

# deb and rpm purls name the distribution in their namespace; OSV names each distribution as its
# own ecosystem. A distribution OSV has no ecosystem for (Fedora, CentOS, ...) is left out.
_ECOSYSTEM_BY_DISTRIBUTION = {
    "deb": {"debian": "Debian", "ubuntu": "Ubuntu"},
    "rpm": {
        "redhat": "Red Hat",
        "almalinux": "AlmaLinux",
        "rocky": "Rocky Linux",
        "rockylinux": "Rocky Linux",
        "opensuse": "openSUSE",
        "suse": "SUSE",
        "openeuler": "openEuler",
        "mageia": "Mageia",
        "azurelinux": "Azure Linux",
    },
    "apk": {"alpine": "Alpine", "wolfi": "Wolfi", "chainguard": "Chainguard"},
}

# Forges host git repositories; OSV's `GIT` ecosystem names a package by its repository URL.
_FORGE_HOSTS = {
    "github": "https://github.com",
    "gitlab": "https://gitlab.com",
    "bitbucket": "https://bitbucket.org",
}


def osv_package(purl: str) -> dict[str, str] | None:
    """The OSV `package` object for a package URL, or None when OSV has no ecosystem for it.

    `generic` purls, rpm/deb purls of distributions OSV does not list, and types OSV does not
    know are left out of `affected`; they stay in the signed notice under `database_specific`.
    """
    try:
        normalised = normalize_purl(purl)
        parsed = PackageURL.from_string(normalised)
    except (PurlError, ValueError):
        return None
    namespace, name = parsed.namespace, parsed.name
    plain = PackageURL(type=parsed.type, namespace=namespace, name=name).to_string()
    plain = normalize_purl(plain)
    if parsed.type in _ECOSYSTEM_BY_TYPE:
        ecosystem = _ECOSYSTEM_BY_TYPE[parsed.type]
        if parsed.type == "maven":
            osv_name = f"{namespace}:{name}"
        elif namespace:
            osv_name = f"{namespace}/{name}"
        else:
            osv_name = name
    elif parsed.type in _ECOSYSTEM_BY_DISTRIBUTION:
        ecosystem = _ECOSYSTEM_BY_DISTRIBUTION[parsed.type].get(
            (namespace or "").lower()
        )
        if ecosystem is None:
            return None
        osv_name = name
    elif parsed.type in _FORGE_HOSTS:
        ecosystem = "GIT"
        osv_name = f"{_FORGE_HOSTS[parsed.type]}/{namespace}/{name}"
    else:
        return None
    return {"ecosystem": ecosystem, "name": osv_name, "purl": plain}


def _summary(document: dict) -> str:
    project = document["project"]["name"]
    window = document["window"]
    if document["status"] == "withdrawn":
        return f"Withdrawn handover notice for {project}"
    if document["status"] == "ended":
        if not window.get("end"):
            return f"{project} was in a maintainer handover from {window['start']}"
        return f"{project} was in a maintainer handover from {window['start']} to {window['end']}"
    if window.get("end"):
        return f"{project} is in a maintainer handover from {window['start']} to {window['end']}"
    return f"{project} is in a maintainer handover since {window['start']}"


def _details(document: dict) -> str:
    details = document.get("guidance") or ""
    statement = document.get("statement") or ""
    if statement and document["kind"] in {"closure", "withdrawal"}:
        heading = (
            "Why it was withdrawn" if document["kind"] == "withdrawal" else "Closure"
        )
        details = f"{details}\n\n## {heading}\n\n{statement}".strip()
    return details


def _references(document: dict, notice_url: str) -> list[dict[str, str]]:
    references = [{"type": "ADVISORY", "url": notice_url}]
    seen = {notice_url}
    candidates = [("PACKAGE", url) for url in document.get("release_channels") or []]
    if document["project"].get("repository"):
        candidates.append(("WEB", document["project"]["repository"]))
    candidates += [("WEB", url) for url in document.get("references") or []]
    for kind, url in candidates:
        if url and url not in seen:
            seen.add(url)
            references.append({"type": kind, "url": url})
    return references


def _check(document: dict, canonical: bytes) -> None:
    if document.get("format") != NOTICE_FORMAT:
        raise ValueError(
            f"Not a {NOTICE_FORMAT} document: format is {document.get('format')!r}."
        )
    if not _NOTICE_ID.match(str(document.get("id", ""))):
        raise ValueError(
            f"Notice id {document.get('id')!r} is not of the form HN-YYYY-NNNN."
        )
    for field in ("published", "modified"):
        if not _TIMESTAMP.match(str(document.get(field, ""))):
            raise ValueError(
                f"{field} {document.get(field)!r} is not an RFC 3339 UTC timestamp."
            )
    # SECURITY: the record's own fields are derived from `document`, and downstream users verify
    # `canonical` against the signature. If the two disagreed, the verified bytes would vouch for
    # fields they do not contain, so a mismatch is refused rather than exported.
    if canonical != canonical_bytes(document):
        raise ValueError(
            "The canonical bytes are not the canonical form of this document."
        )


def osv_record(
    document: dict,
    *,
    canonical: bytes,
    signature: str,
    notice_url: str,
    signature_url: str | None = None,
) -> dict[str, Any]:
    """One OSV record for one revision of a handover notice.

    `canonical` must be the signed bytes of `document` (ValueError otherwise); they are carried
    verbatim, as a UTF-8 string, in `database_specific.notice`, next to the SSH signature over
    them. `signature_url` defaults to `<notice_url>/revisions/<revision>/signature`.
    """
    _check(document, canonical)
    revision = document["revision"]
    if signature_url is None:
        signature_url = f"{notice_url.rstrip('/')}/revisions/{revision}/signature"
    versions = list(dict.fromkeys(r["version"] for r in document.get("releases") or []))
    affected = []
    seen_packages = set()
    for purl in document["project"].get("purls") or []:
        package = osv_package(purl)
        if package is None or package["purl"] in seen_packages:
            continue
        seen_packages.add(package["purl"])
        affected.append({"package": package, "versions": versions})
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "id": ID_PREFIX + document["id"],
        "modified": document["modified"],
        "published": document["published"],
    }
    if document["status"] == "withdrawn":
        record["withdrawn"] = document["modified"]
    record.update(
        {
            "summary": _summary(document),
            "details": _details(document),
            "affected": affected,
            "references": _references(document, notice_url),
            "database_specific": {
                "kind": "handover-notice",
                "notice_id": document["id"],
                "revision": revision,
                "revision_kind": document["kind"],
                "status": document["status"],
                "effective": document.get("effective"),
                "window": document["window"],
                "scope": document.get("scope") or [],
                "stewards": document.get("stewards") or [],
                "authorized_identities": document.get("authorized_identities") or [],
                "project": document["project"],
                "releases": document.get("releases") or [],
                "consent": document.get("consent"),
                "notice": canonical.decode("utf-8"),
                "notice_format": NOTICE_FORMAT,
                "signature": signature,
                "signature_namespace": SIGNATURE_NAMESPACE,
                "signature_url": signature_url,
                "url": notice_url,
            },
        }
    )
    return record


def osv_json(record: dict) -> bytes:
    """The bytes served for one OSV record: UTF-8 JSON, keys in a stable order."""
    return json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True).encode(
        "utf-8"
    )


def osv_archive(records: list[dict]) -> bytes:
    """A zip of OSV records, one `<id>.json` per notice, as OSV databases publish `all.zip`.

    With several revisions of a notice, the newest (highest `modified`) is the one kept. Entry
    times come from each record's `modified`, so the same records always give the same bytes
    (and the same ETag).
    """
    newest: dict[str, dict] = {}
    for record in records:
        current = newest.get(record["id"])
        if current is None or record["modified"] > current["modified"]:
            newest[record["id"]] = record
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for record_id in sorted(newest):
            record = newest[record_id]
            modified = record["modified"]
            date_time = (
                int(modified[0:4]),
                int(modified[5:7]),
                int(modified[8:10]),
                int(modified[11:13]),
                int(modified[14:16]),
                int(modified[17:19]),
            )
            entry = zipfile.ZipInfo(f"{record_id}.json", date_time=date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, osv_json(record))
    return buffer.getvalue()
