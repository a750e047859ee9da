"""Package URL (purl) checks, after https://github.com/package-url/purl-spec.

Steady names packages, not releases, so a purl here must not carry a version.
"""

import re
from urllib.parse import unquote

# The purl types Steady knows; a purl of any other type is refused so typos surface at once.
KNOWN_TYPES = frozenset(
    {
        "alpm", "apk", "bitbucket", "bitnami", "cargo", "cocoapods", "composer", "conan", "conda",
        "cpan", "cran", "deb", "docker", "gem", "generic", "github", "gitlab", "golang", "hackage",
        "hex", "huggingface", "luarocks", "maven", "mlflow", "npm", "nuget", "oci", "pub", "pypi",
        "qpkg", "rpm", "swid", "swift",
    }
)  # fmt: skip

# Types whose packages are always named NAMESPACE/NAME.
_NEEDS_NAMESPACE = frozenset(
    {"maven", "github", "gitlab", "bitbucket", "golang", "composer", "deb", "rpm"}
)

_PURL = re.compile(
    r"^pkg:(?P<type>[A-Za-z][A-Za-z0-9.+-]*)/(?P<path>[^?#@]+?)(?:@(?P<version>[^?#]*))?"
    r"(?:\?(?P<qualifiers>[^#]*))?(?:#(?P<subpath>.*))?$"
)


class PurlError(ValueError):
    pass


def normalize_purl(value: str) -> str:
    """Return the purl in canonical form (lower-case type), or raise PurlError saying what is wrong."""
    text = value.strip()
    if not text.startswith("pkg:"):
        raise PurlError(
            f"“{text}” is not a package URL: it must start with “pkg:”, e.g. pkg:pypi/requests."
        )
    if any(ch.isspace() for ch in text):
        raise PurlError(f"“{text}” contains spaces; a package URL has none.")
    match = _PURL.match(text.replace("pkg://", "pkg:", 1))
    if not match:
        raise PurlError(
            f"“{text}” is not a valid package URL; expected pkg:TYPE/NAMESPACE/NAME."
        )
    purl_type = match["type"].lower()
    if purl_type not in KNOWN_TYPES:
        raise PurlError(
            f"“{purl_type}” is not a known package URL type (for example pypi, npm, cargo, deb)."
        )
    if match["version"] is not None:
        raise PurlError(
            f"“{text}” names a version; give the package without “@version”."
        )
    # The spec discards empty segments, so "a//b" and "/a/b/" both mean "a/b".
    segments = [s for s in match["path"].split("/") if s]
    if not segments or not unquote(segments[-1]).strip():
        raise PurlError(f"“{text}” has no package name.")
    if (
        purl_type in {"pypi", "npm", "cargo", "gem", "hex", "pub", "cran"}
        and len(segments) > 2
    ):
        raise PurlError(
            f"“{text}” has too many path segments for a {purl_type} package."
        )
    if purl_type in _NEEDS_NAMESPACE and len(segments) < 2:
        raise PurlError(f"“{text}” needs a namespace, e.g. pkg:{purl_type}/GROUP/NAME.")
    path = "/".join(segments)
    if purl_type in {"pypi", "github", "gitlab", "bitbucket", "npm"}:
        path = path.lower()
    if purl_type == "pypi":
        path = path.replace("_", "-")
    result = f"pkg:{purl_type}/{path}"
    if match["qualifiers"]:
        result += f"?{match['qualifiers']}"
    if match["subpath"]:
        result += f"#{match['subpath']}"
    return result
