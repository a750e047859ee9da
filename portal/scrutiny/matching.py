"""Which handover notices concern the components of a dependency document.

A notice concerns a component when one of its `project.purls` names the same package: the same
normalised type, namespace and name (versions, qualifiers and subpaths never take part). For
each such notice the result says whether the component's version is one of the `releases` made
during the notice's window.

Active and ended notices are the ones that concern a component. A withdrawn notice was published
in error and concerns nothing, but a user who saw it earlier should learn that it was
withdrawn, so withdrawn notices naming the package are listed apart, in `withdrawn`.

Versions are compared as text after trimming, lower-casing and dropping a leading `v` before a
digit (`v5.6.1` is `5.6.1`). For `deb` and `rpm` components the distribution's packaging is
dropped too: the epoch (`1:`) and the revision after the last `-`, so Debian's `5.6.1-1` is
the upstream release `5.6.1`, while `5.6.1+really5.4.5-1` is not.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from portal.lib.purl import PurlError
from portal.scrutiny.components import Component, plain_purl

RESULT_FORMAT = "steady-dependency-check/1"
_CONCERNING = frozenset({"active", "ended"})
_DISTRIBUTION_TYPES = frozenset({"deb", "rpm"})
_EPOCH = re.compile(r"^[0-9]+:")


@dataclass(frozen=True, slots=True)
class NoticeMatch:
    """One notice naming a component's package, and whether its version came out in the window.

    `released_in_window` is None when the component has no version to compare.
    """

    notice_id: str
    revision: int
    status: str
    project: str
    window_start: str
    window_end: str | None
    released_in_window: bool | None
    release_date: str | None


@dataclass(frozen=True, slots=True)
class ComponentResult:
    component: Component
    notices: tuple[NoticeMatch, ...]
    withdrawn: tuple[NoticeMatch, ...]

    @property
    def is_concerned(self) -> bool:
        return bool(self.notices)

    @property
    def is_released_in_window(self) -> bool:
        return any(match.released_in_window for match in self.notices)


def version_key(purl_type: str, version: str) -> str:
    """The form in which a component version and a notice release are compared."""
    key = version.strip().lower()
    if purl_type in _DISTRIBUTION_TYPES:
        key = _EPOCH.sub("", key)
        if "-" in key:
            key = key.rsplit("-", 1)[0]
    if len(key) > 1 and key[0] == "v" and key[1].isdigit():
        key = key[1:]
    return key


@dataclass(frozen=True, slots=True)
class _Indexed:
    notice_id: str
    revision: int
    status: str
    project: str
    window_start: str
    window_end: str | None
    releases: dict[str, str]  # version key -> release date


def _latest_revisions(notices: Iterable[dict]) -> list[dict]:
    # Callers may pass every revision; only the newest one of each notice speaks for it.
    latest: dict[str, dict] = {}
    for document in notices:
        current = latest.get(document["id"])
        if current is None or document["revision"] > current["revision"]:
            latest[document["id"]] = document
    return sorted(latest.values(), key=lambda document: document["id"])


def build_index(notices: Iterable[dict]) -> dict[str, list[_Indexed]]:
    """Map each normalised versionless purl to the notices naming it, in notice-id order."""
    index: dict[str, list[_Indexed]] = {}
    for document in _latest_revisions(notices):
        window = document.get("window") or {}
        seen: set[str] = set()
        for text in document.get("project", {}).get("purls") or []:
            try:
                purl, _version = plain_purl(text)
            except PurlError:
                # Notices are checked when drafted; one bad purl must not hide the others.
                continue
            if purl in seen:
                continue
            seen.add(purl)
            purl_type = purl[4 : purl.index("/")]
            releases = {
                version_key(purl_type, release["version"]): release.get("date")
                for release in document.get("releases") or []
            }
            index.setdefault(purl, []).append(
                _Indexed(
                    notice_id=document["id"],
                    revision=document["revision"],
                    status=document["status"],
                    project=document.get("project", {}).get("name", ""),
                    window_start=window.get("start"),
                    window_end=window.get("end"),
                    releases=releases,
                )
            )
    return index


def _match(entry: _Indexed, component: Component, purl_type: str) -> NoticeMatch:
    released, date = None, None
    if component.version is not None:
        key = version_key(purl_type, component.version)
        released = key in entry.releases
        date = entry.releases.get(key)
    return NoticeMatch(
        notice_id=entry.notice_id,
        revision=entry.revision,
        status=entry.status,
        project=entry.project,
        window_start=entry.window_start,
        window_end=entry.window_end,
        released_in_window=released,
        release_date=date,
    )


def check_components(
    components: Iterable[Component], notices: Iterable[dict]
) -> list[ComponentResult]:
    """For each component, the notices that concern it, in component order.

    `notices` are `steady-notice/1` documents (any revisions; the newest of each notice counts).
    One pass to index the notices and one over the components: O(components + notices).
    """
    index = build_index(notices)
    results = []
    for component in components:
        purl_type = component.purl[4 : component.purl.index("/")]
        concerning, withdrawn = [], []
        for entry in index.get(component.purl, ()):
            match = _match(entry, component, purl_type)
            (concerning if entry.status in _CONCERNING else withdrawn).append(match)
        results.append(
            ComponentResult(
                component=component,
                notices=tuple(concerning),
                withdrawn=tuple(withdrawn),
            )
        )
    return results


def _match_as_json(match: NoticeMatch) -> dict[str, Any]:
    return {
        "id": match.notice_id,
        "revision": match.revision,
        "status": match.status,
        "project": match.project,
        "window": {"start": match.window_start, "end": match.window_end},
        "released_in_window": match.released_in_window,
        "release_date": match.release_date,
    }


def results_as_json(results: list[ComponentResult]) -> dict[str, Any]:
    """The check's answer as a JSON-ready dict, for the download and the API."""
    notice_ids = sorted({m.notice_id for r in results for m in r.notices})
    return {
        "format": RESULT_FORMAT,
        "summary": {
            "components": len(results),
            "concerned": sum(1 for r in results if r.is_concerned),
            "released_in_window": sum(1 for r in results if r.is_released_in_window),
            "notices": notice_ids,
        },
        "components": [
            {
                "purl": r.component.purl,
                "version": r.component.version,
                "source": r.component.source,
                "notices": [_match_as_json(m) for m in r.notices],
                "withdrawn_notices": [_match_as_json(m) for m in r.withdrawn],
            }
            for r in results
        ],
    }
