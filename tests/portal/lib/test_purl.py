import pytest

from portal.lib.purl import PurlError, normalize_purl


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("pkg:pypi/Django_Allauth", "pkg:pypi/django-allauth"),
        ("pkg:npm/%40babel/core", "pkg:npm/%40babel/core"),
        ("  pkg:cargo/serde  ", "pkg:cargo/serde"),
        ("pkg:deb/debian/xz-utils?arch=source", "pkg:deb/debian/xz-utils?arch=source"),
        ("pkg:github/Tukaani-Project/XZ", "pkg:github/tukaani-project/xz"),
        ("pkg:github//tukaani-project//xz/", "pkg:github/tukaani-project/xz"),
        (
            "pkg:maven/org.apache.commons/commons-lang3",
            "pkg:maven/org.apache.commons/commons-lang3",
        ),
        ("pkg:golang/github.com/gorilla/mux", "pkg:golang/github.com/gorilla/mux"),
    ],
)
def test_valid_purls_are_normalised(given, expected):
    assert normalize_purl(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("requests", "must start with “pkg:”"),
        ("pkg:", "not a valid package URL"),
        ("pkg:pypi/", "not a valid package URL"),
        ("pkg:nosuchtype/thing", "not a known package URL type"),
        ("pkg:pypi/requests@2.31.0", "names a version"),
        ("pkg:pypi/req uests", "contains spaces"),
        ("pkg:pypi/a/b/c", "too many path segments"),
        ("pkg:maven/commons-lang3", "needs a namespace"),
        ("pkg:github/tukaani-project", "needs a namespace"),
    ],
)
def test_invalid_purls_say_what_is_wrong(given, message):
    with pytest.raises(PurlError, match=message):
        normalize_purl(given)
