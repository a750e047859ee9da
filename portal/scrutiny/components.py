"""Read the components out of a dependency document: an SBOM, a lock file or a list of purls.

Supported kinds (`kind=None` detects one from the content):

- `cyclonedx`: CycloneDX JSON; `components` (nested `components` too) and `metadata.component`.
- `spdx`: SPDX 2.x JSON; `packages[].externalRefs[]` whose `referenceType` is `purl`.
- `requirements`: a pip `requirements.txt`. Extras, environment markers, `--hash` options,
  comments and backslash continuations are understood. Markers are never evaluated, so every
  listed requirement counts whatever platform it is meant for. Options that only tell pip where
  to look (`--index-url`, `--find-links`, `--require-hashes`, ...) are skipped. A requirement
  that names no package we can look up is refused with its line number: `-r`/`-c` (the other
  file is not here: check it too), `-e` and bare URLs or paths. `name @ URL` names a package and
  is kept, with no version.
- `pylock`: a PEP 751 `pylock.toml`; `[[packages]]` `name` and `version`.
- `npm`: an npm `package-lock.json`, lockfileVersion 1 (`dependencies`, nested), 2 and 3
  (`packages` keyed by `node_modules/...` paths, scoped packages, aliases by their real `name`;
  the root project and workspace links are skipped).
- `purls`: one package URL per line; `#` starts a comment at the start of a line or after a
  space (a `#` inside a purl is its subpath).

Components without a package URL (a CycloneDX file component, an SPDX package with no purl
reference) name nothing that can be matched and are skipped. Nothing in a document is ever
executed or evaluated; JSON and TOML are read by the standard library parsers.
"""

import functools
import json
import re
import tomllib
from dataclasses import dataclass

from packageurl import PackageURL

from portal.lib.purl import PurlError, normalize_purl

MAX_BYTES = 10 * 1024 * 1024
MAX_COMPONENTS = 50_000
MAX_MESSAGE = 300
_WHITESPACE = re.compile(r"\s")
_CACHED_PURL_LENGTH = 256
KINDS = ("cyclonedx", "spdx", "requirements", "pylock", "npm", "purls")


class DocumentError(ValueError):
    """The document cannot be read; the message names the line or field that is wrong."""


@dataclass(frozen=True, slots=True)
class Component:
    """One package a document lists.

    `purl` is normalised and carries no version, qualifiers or subpath; `source` says where in
    the document it was found (`line 12`, `components[3].purl`).
    """

    purl: str
    version: str | None
    source: str


def plain_purl(text: str) -> tuple[str, str | None]:
    """Split a package URL into its normalised versionless form and its version.

    Raises PurlError saying what is wrong.
    """
    # Lock files repeat packages and every check indexes the same notices, so ordinary purls
    # are cached; long ones are not, so the cache's memory stays bounded whatever is uploaded.
    if len(text) <= _CACHED_PURL_LENGTH:
        return _plain_purl_cached(text)
    return _plain_purl(text)


def _plain_purl(text: str) -> tuple[str, str | None]:
    if _WHITESPACE.search(text):
        raise PurlError(f"“{text}” contains spaces; a package URL has none.")
    try:
        parsed = PackageURL.from_string(text)
    except ValueError as exc:
        raise PurlError(f"“{text}” is not a valid package URL: {exc}") from exc
    # _replace skips a second round of packageurl's normalisation; to_string still quotes.
    bare = parsed._replace(version=None, qualifiers=None, subpath=None)
    return normalize_purl(bare.to_string()), parsed.version or None


_plain_purl_cached = functools.lru_cache(maxsize=65_536)(_plain_purl)


class _Collector:
    """Counts components as they are found so an oversized document stops early."""

    def __init__(self) -> None:
        self.components: list[Component] = []

    def add(self, purl: str, version: str | None, source: str) -> None:
        if len(self.components) >= MAX_COMPONENTS:
            raise DocumentError(
                f"{source}: the document lists more than {MAX_COMPONENTS:,} components; "
                "split it and check each part."
            )
        self.components.append(Component(purl=purl, version=version, source=source))

    def add_purl(
        self, text: object, source: str, fallback_version: object = None
    ) -> None:
        if not isinstance(text, str):
            raise DocumentError(
                f"{source}: expected a package URL string, got {_kind(text)}."
            )
        try:
            purl, version = plain_purl(text.strip())
        except PurlError as exc:
            raise DocumentError(f"{source}: {exc}") from exc
        if (
            version is None
            and isinstance(fallback_version, str)
            and fallback_version.strip()
        ):
            version = fallback_version.strip()
        self.add(purl, version, source)


def _kind(value: object) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _expect(value: object, expected: type, source: str) -> None:
    if not isinstance(value, expected):
        wanted = (
            "an object"
            if expected is dict
            else "a list"
            if expected is list
            else "a string"
        )
        raise DocumentError(f"{source}: expected {wanted}, got {_kind(value)}.")


def _children(
    value: object, path: str, keyed: bool
) -> list[tuple[str, object, object]]:
    if keyed:
        _expect(value, dict, path)
        return [
            (f"{path}[{json.dumps(key)}]", key, entry) for key, entry in value.items()
        ]
    _expect(value, list, path)
    return [(f"{path}[{index}]", index, entry) for index, entry in enumerate(value)]


def _preorder(root: object, path: str, children: str, *, keyed: bool = False):
    """Yield (where, key, entry) for a tree of objects in document order, depth first.

    `root` and every `children` member are lists, or with `keyed` objects keyed by name.
    """
    # An explicit stack rather than recursion: the nesting depth is chosen by whoever wrote
    # the document.
    stack = [iter(_children(root, path, keyed))]
    while stack:
        for where, key, entry in stack[-1]:
            _expect(entry, dict, where)
            yield where, key, entry
            if entry.get(children) is not None:
                stack.append(
                    iter(_children(entry[children], f"{where}.{children}", keyed))
                )
                break
        else:
            stack.pop()


# --- JSON documents -------------------------------------------------------------------------


def _load_json(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(
            f"line {exc.lineno}, column {exc.colno}: {exc.msg}."
        ) from exc
    except RecursionError as exc:
        raise DocumentError("The JSON document is nested too deeply to read.") from exc


def _detect_json(document: object) -> str:
    if isinstance(document, dict):
        if document.get("bomFormat") == "CycloneDX":
            return "cyclonedx"
        if "spdxVersion" in document:
            return "spdx"
        if "lockfileVersion" in document:
            return "npm"
    raise DocumentError(
        "This JSON document is not one we can read: expected a CycloneDX SBOM "
        "(“bomFormat”: “CycloneDX”), an SPDX 2.x document (“spdxVersion”) or an npm "
        "package-lock.json (“lockfileVersion”)."
    )


def _cyclonedx(document: object, out: _Collector) -> None:
    _expect(document, dict, "document")
    if document.get("bomFormat", "CycloneDX") != "CycloneDX":
        raise DocumentError(
            f"bomFormat: expected “CycloneDX”, got {document['bomFormat']!r}."
        )
    metadata = document.get("metadata")
    if metadata is not None:
        _expect(metadata, dict, "metadata")
        subject = metadata.get("component")
        if subject is not None:
            _expect(subject, dict, "metadata.component")
            if subject.get("purl") is not None:
                out.add_purl(
                    subject["purl"], "metadata.component.purl", subject.get("version")
                )
    if document.get("components") is None:
        return
    for where, _index, component in _preorder(
        document["components"], "components", "components"
    ):
        if component.get("purl") is not None:
            out.add_purl(component["purl"], f"{where}.purl", component.get("version"))


def _spdx(document: object, out: _Collector) -> None:
    _expect(document, dict, "document")
    version = document.get("spdxVersion")
    if not isinstance(version, str) or not version.startswith("SPDX-2."):
        raise DocumentError(f"spdxVersion: expected “SPDX-2.x”, got {version!r}.")
    packages = document.get("packages", [])
    _expect(packages, list, "packages")
    for index, package in enumerate(packages):
        where = f"packages[{index}]"
        _expect(package, dict, where)
        refs = package.get("externalRefs", [])
        _expect(refs, list, f"{where}.externalRefs")
        for ref_index, ref in enumerate(refs):
            ref_where = f"{where}.externalRefs[{ref_index}]"
            _expect(ref, dict, ref_where)
            if ref.get("referenceType") != "purl":
                continue
            if "referenceLocator" not in ref:
                raise DocumentError(f"{ref_where}.referenceLocator: missing.")
            out.add_purl(
                ref["referenceLocator"],
                f"{ref_where}.referenceLocator",
                package.get("versionInfo"),
            )


def _npm_purl(name: str, source: str) -> str:
    scope, slash, bare = (
        name.rpartition("/") if name.startswith("@") else ("", "", name)
    )
    if (
        (name.startswith("@") and not slash)
        or not bare
        or "/" in bare
        or "/" in scope[1:]
    ):
        raise DocumentError(f"{source}: “{name}” is not an npm package name.")
    try:
        return normalize_purl(
            PackageURL(type="npm", namespace=scope or None, name=bare).to_string()
        )
    except (PurlError, ValueError) as exc:
        raise DocumentError(f"{source}: “{name}” is not an npm package name.") from exc


def _npm_version(value: object, source: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DocumentError(f"{source}: expected a version string, got {_kind(value)}.")
    # Git, tarball and file dependencies record a URL here, not a release of the package.
    return None if ":" in value or not value.strip() else value.strip()


def _npm(document: object, out: _Collector) -> None:
    _expect(document, dict, "document")
    version = document.get("lockfileVersion")
    if type(version) is not int or version not in (1, 2, 3):
        raise DocumentError(f"lockfileVersion: expected 1, 2 or 3, got {version!r}.")
    if version >= 2 and "packages" in document:
        packages = document["packages"]
        _expect(packages, dict, "packages")
        for key, entry in packages.items():
            where = f"packages[{json.dumps(key)}]"
            _expect(entry, dict, where)
            marker = key.rfind("node_modules/")
            # "" is the project itself; other keys without node_modules/ are workspace folders.
            if marker < 0 or entry.get("link"):
                continue
            name = entry.get("name", key[marker + len("node_modules/") :])
            if not isinstance(name, str):
                raise DocumentError(
                    f"{where}.name: expected a string, got {_kind(name)}."
                )
            purl = _npm_purl(name, where)
            out.add(purl, _npm_version(entry.get("version"), f"{where}.version"), where)
        return
    for where, name, entry in _preorder(
        document.get("dependencies", {}), "dependencies", "dependencies", keyed=True
    ):
        purl = _npm_purl(name, where)
        out.add(purl, _npm_version(entry.get("version"), f"{where}.version"), where)


# --- Python requirements --------------------------------------------------------------------

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_NAME_AT_START = re.compile(rf"{_NAME}")
_SPEC = re.compile(r"^(~=|===|==|!=|<=|>=|<|>)\s*([A-Za-z0-9*+!._-]+)$")
_EXTRA = re.compile(rf"^{_NAME}$")
_SKIPPED_OPTIONS = frozenset(
    {
        "-i", "--index-url", "--extra-index-url", "--no-index", "-f", "--find-links",
        "--trusted-host", "--pre", "--prefer-binary", "--only-binary", "--no-binary",
        "--require-hashes", "--use-feature",
    }
)  # fmt: skip
_REFUSED_OPTIONS = {
    "-r": "includes another requirements file; check that file as well",
    "--requirement": "includes another requirements file; check that file as well",
    "-c": "includes a constraints file; check that file as well",
    "--constraint": "includes a constraints file; check that file as well",
    "-e": "is an editable install, which names no release; list it as name==version",
    "--editable": "is an editable install, which names no release; list it as name==version",
}
# Per-requirement options pip allows after the specifier.
_REQUIREMENT_OPTION = re.compile(r"\s--?(?:hash|global-option|config-settings)\b")


def _logical_lines(text: str):
    """Yield (first physical line number, logical line) with continuations joined."""
    start, parts = None, []
    for number, line in enumerate(text.splitlines(), start=1):
        if start is None:
            start = number
        if line.endswith("\\"):
            parts.append(line[:-1])
            continue
        parts.append(line)
        yield start, " ".join(parts)
        start, parts = None, []
    if parts:
        yield start, " ".join(parts)


def _strip_comment(line: str) -> str:
    # pip's rule: "#" starts a comment at the start of a line or after whitespace.
    return re.sub(r"(^|\s)#.*$", "", line).strip()


def _requirements(text: str, out: _Collector) -> None:
    for number, raw in _logical_lines(text):
        line = _strip_comment(raw)
        if not line:
            continue
        where = f"line {number}"
        if line.startswith("-"):
            option = re.split(r"[\s=]", line, maxsplit=1)[0]
            if not option.startswith("--"):
                # pip accepts a short option's value attached: "-rbase.txt".
                option = option[:2]
            if option in _REFUSED_OPTIONS:
                raise DocumentError(f"{where}: “{line}” {_REFUSED_OPTIONS[option]}.")
            if option in _SKIPPED_OPTIONS:
                continue
            raise DocumentError(
                f"{where}: “{option}” is not a requirements-file option we know."
            )
        requirement = _REQUIREMENT_OPTION.split(line, maxsplit=1)[0].strip()
        if re.match(r"^(?:[a-z][a-z0-9+.-]*://|\.{0,2}/|git\+|file:)", requirement):
            raise DocumentError(
                f"{where}: “{requirement}” is a URL or a path, which names no package; "
                "list it as name==version."
            )
        name, version = _requirement(requirement, where)
        out.add(normalize_purl(f"pkg:pypi/{name}"), version, where)


def _requirement(text: str, where: str) -> tuple[str, str | None]:
    """Name and pinned version of a PEP 508 requirement; the marker is read past, never run."""
    # Hand-split rather than one regular expression, so a long hostile line costs linear time.
    match = _NAME_AT_START.match(text)
    if not match:
        raise DocumentError(f"{where}: “{text}” is not a requirement (name==version).")
    name, rest = match[0], text[match.end() :].lstrip()
    if rest.startswith("["):
        extras, closed, rest = rest[1:].partition("]")
        if not closed or not all(_EXTRA.match(e.strip()) for e in extras.split(",")):
            raise DocumentError(f"{where}: “{text}” has a malformed list of extras.")
        rest = rest.lstrip()
    if rest.startswith("@"):
        url, _, after = rest[1:].strip().partition(" ")
        if not url or (after.strip() and not after.strip().startswith(";")):
            raise DocumentError(
                f"{where}: “{text}” is not a requirement of the form name @ URL."
            )
        return name, None
    specs, _, _marker = rest.partition(";")
    return name, _pinned_version(specs, where)


def _pinned_version(specs: str, where: str) -> str | None:
    specs = specs.strip()
    if specs.startswith("(") and specs.endswith(")"):
        specs = specs[1:-1].strip()
    if not specs:
        return None
    pinned = None
    for spec in specs.split(","):
        match = _SPEC.match(spec.strip())
        if not match:
            raise DocumentError(
                f"{where}: “{spec.strip()}” is not a version specifier."
            )
        operator, version = match.groups()
        if operator in ("==", "===") and "*" not in version:
            pinned = version
    return pinned


# --- pylock.toml ----------------------------------------------------------------------------


def _pylock(text: str, out: _Collector) -> None:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = re.search(r"\(at line (\d+), column (\d+)\)", message)
        if found:
            message = message[: found.start()].strip()
            raise DocumentError(
                f"line {found[1]}, column {found[2]}: {message}."
            ) from exc
        raise DocumentError(f"{message}.") from exc
    if not isinstance(document.get("lock-version"), str):
        raise DocumentError(
            'lock-version: missing; a pylock.toml file (PEP 751) starts with lock-version = "1.0".'
        )
    packages = document.get("packages", [])
    _expect(packages, list, "packages")
    for index, package in enumerate(packages):
        where = f"packages[{index}]"
        _expect(package, dict, where)
        name = package.get("name")
        if not isinstance(name, str) or not re.fullmatch(_NAME, name):
            raise DocumentError(f"{where}.name: expected a package name, got {name!r}.")
        version = package.get("version")
        if version is not None and not isinstance(version, str):
            raise DocumentError(
                f"{where}.version: expected a string, got {_kind(version)}."
            )
        out.add(normalize_purl(f"pkg:pypi/{name}"), version or None, where)


# --- Plain purl lists -----------------------------------------------------------------------


def _purls(text: str, out: _Collector) -> None:
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw)
        if line:
            out.add_purl(line, f"line {number}")


# --- Entry point ----------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DocumentError(f"line {line}: the document is not UTF-8 text.") from exc


def _detect_text(text: str) -> str:
    if re.search(
        r"^[ \t]*(?:lock-version[ \t]*=|\[\[packages\]\])", text, re.MULTILINE
    ):
        return "pylock"
    lines = [_strip_comment(line) for line in text.splitlines()]
    lines = [line for line in lines if line]
    if lines and all(line.startswith("pkg:") for line in lines):
        return "purls"
    return "requirements"


def _looks_like_json(text: str) -> bool:
    return text.lstrip().startswith(("{", "["))


def detect_kind(text: str) -> str:
    """Guess the kind of a decoded document from its content."""
    if _looks_like_json(text):
        return _detect_json(_load_json(text))
    return _detect_text(text)


def parse_document(data: bytes, *, kind: str | None = None) -> list[Component]:
    """Every component a dependency document lists, in document order.

    Raises DocumentError naming the line or JSON field that is wrong, for malformed input,
    an unknown `kind`, more than MAX_BYTES bytes or more than MAX_COMPONENTS components.
    """
    if len(data) > MAX_BYTES:
        raise DocumentError(
            f"The document is {len(data) / (1024 * 1024):.1f} MB; the limit is "
            f"{MAX_BYTES // (1024 * 1024)} MB."
        )
    if kind is not None and kind not in KINDS:
        raise DocumentError(
            f"“{kind}” is not a document kind we read: use one of {', '.join(KINDS)}."
        )
    text = _decode(data)
    if not text.strip():
        raise DocumentError("The document is empty.")
    out = _Collector()
    try:
        if kind is None and _looks_like_json(text):
            document = _load_json(text)
            kind = _detect_json(document)
        elif kind in ("cyclonedx", "spdx", "npm"):
            document = _load_json(text)
        else:
            kind = kind or _detect_text(text)
        if kind in ("cyclonedx", "spdx", "npm"):
            {"cyclonedx": _cyclonedx, "spdx": _spdx, "npm": _npm}[kind](document, out)
        else:
            {"requirements": _requirements, "pylock": _pylock, "purls": _purls}[kind](
                text, out
            )
    except DocumentError as exc:
        # Messages quote the offending input; a hostile line must not become a huge answer.
        message = str(exc)
        if len(message) > MAX_MESSAGE:
            raise DocumentError(message[: MAX_MESSAGE - 1] + "…") from exc
        raise
    return out.components
