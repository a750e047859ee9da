"""Reading components out of SBOMs, lock files and purl lists (fixtures/sboms/)."""

import json
import pathlib
import random

import pytest

from portal.scrutiny.components import (
    KINDS,
    MAX_BYTES,
    MAX_COMPONENTS,
    Component,
    DocumentError,
    detect_kind,
    parse_document,
)

SAMPLES = pathlib.Path(__file__).parents[3] / "fixtures" / "sboms"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def triples(components):
    return [(c.purl, c.version, c.source) for c in components]


EXPECTED = {
    "cyclonedx.json": (
        "cyclonedx",
        [
            ("pkg:npm/shop", "2.3.0", "metadata.component.purl"),
            ("pkg:pypi/tinyzip", "1.4.1", "components[0].purl"),
            ("pkg:npm/%40babel/core", "7.24.0", "components[1].purl"),
            ("pkg:deb/debian/xz-utils", "5.6.1-1", "components[2].purl"),
            ("pkg:deb/debian/liblzma5", "5.6.1-1", "components[2].components[0].purl"),
            (
                "pkg:maven/org.apache.commons/commons-lang3",
                "3.14.0",
                "components[3].purl",
            ),
            # No version in the purl: the component's own version field is used.
            ("pkg:cargo/serde", "1.0.197", "components[5].purl"),
        ],
    ),
    "spdx.json": (
        "spdx",
        [
            (
                "pkg:pypi/tinyzip",
                "1.4.1",
                "packages[0].externalRefs[1].referenceLocator",
            ),
            (
                "pkg:deb/debian/openssl",
                "3.0.13-1",
                "packages[1].externalRefs[0].referenceLocator",
            ),
        ],
    ),
    "requirements.txt": (
        "requirements",
        [
            ("pkg:pypi/django", "5.2.1", "line 5"),
            ("pkg:pypi/django-allauth", "65.4.1", "line 8"),
            ("pkg:pypi/tinyzip", "1.4.1", "line 10"),
            ("pkg:pypi/requests", None, "line 11"),
            ("pkg:pypi/pywin32", "306", "line 12"),
            ("pkg:pypi/flask", None, "line 13"),
        ],
    ),
    "pylock.toml": (
        "pylock",
        [
            ("pkg:pypi/tinyzip", "1.4.1", "packages[0]"),
            ("pkg:pypi/typing-extensions", "4.12.2", "packages[1]"),
            ("pkg:pypi/local-plugin", None, "packages[2]"),
        ],
    ),
    "package-lock-v1.json": (
        "npm",
        [
            ("pkg:npm/%40babel/core", "7.24.0", 'dependencies["@babel/core"]'),
            (
                "pkg:npm/debug",
                "4.3.4",
                'dependencies["@babel/core"].dependencies["debug"]',
            ),
            ("pkg:npm/left-pad", "1.3.0", 'dependencies["left-pad"]'),
            # A git dependency records a URL, not a release.
            ("pkg:npm/my-fork", None, 'dependencies["my-fork"]'),
        ],
    ),
    "package-lock-v2.json": (
        "npm",
        [
            ("pkg:npm/%40babel/core", "7.24.0", 'packages["node_modules/@babel/core"]'),
            (
                "pkg:npm/debug",
                "4.3.4",
                'packages["node_modules/@babel/core/node_modules/debug"]',
            ),
            ("pkg:npm/left-pad", "1.3.0", 'packages["node_modules/left-pad"]'),
        ],
    ),
    "package-lock-v3.json": (
        "npm",
        [
            ("pkg:npm/%40babel/core", "7.24.0", 'packages["node_modules/@babel/core"]'),
            # Installed under the alias "pad"; the real package is left-pad.
            ("pkg:npm/left-pad", "1.3.0", 'packages["node_modules/pad"]'),
        ],
    ),
    "purls.txt": (
        "purls",
        [
            ("pkg:pypi/tinyzip", "1.4.1", "line 2"),
            ("pkg:github/tukaani-project/xz", "v5.6.1", "line 3"),
            ("pkg:npm/%40babel/core", "7.24.0", "line 5"),
            ("pkg:golang/github.com/gorilla/mux", None, "line 6"),
        ],
    ),
}


@pytest.mark.parametrize("name", EXPECTED)
def test_every_sample_kind_is_detected_and_read_in_document_order(name):
    kind, expected = EXPECTED[name]
    data = sample(name)
    assert detect_kind(data.decode()) == kind
    assert triples(parse_document(data)) == expected
    assert triples(parse_document(data, kind=kind)) == expected


BAD = {
    "cyclonedx-bad-purl.json": r"^components\[1\]\.purl: “nosuchtype” is not a known package URL type",
    "cyclonedx-nested-not-a-list.json": r"^components\[0\]\.components: expected a list, got an object",
    "cyclonedx-truncated.json": r"^line 6, column 3: Expecting value",
    "spdx-3.json": r"^spdxVersion: expected “SPDX-2\.x”, got 'SPDX-3\.0'",
    "spdx-purl-not-a-string.json": r"^packages\[0\]\.externalRefs\[0\]\.referenceLocator: expected a package URL string, got a number",
    "requirements-include.txt": r"^line 3: “-r base\.txt” includes another requirements file",
    "requirements-editable.txt": r"^line 3: “-e git\+https://.*” is an editable install",
    "requirements-garbage.txt": r"^line 2: “=>1\.4” is not a version specifier",
    "pylock-syntax.toml": r"^line 5, column 14: ",
    "pylock-no-name.toml": r"^packages\[1\]\.name: expected a package name, got None",
    "package-lock-v4.json": r"^lockfileVersion: expected 1, 2 or 3, got 4",
    "package-lock-bad-version.json": r'^packages\["node_modules/left-pad"\]\.version: expected a version string, got a number',
    "purls-bad.txt": r"^line 3: “pkg:maven/commons-lang3” needs a namespace",
    "purls-not-utf8.txt": r"^line 2: the document is not UTF-8 text",
    "unknown.json": r"^This JSON document is not one we can read",
}  # fmt: skip


@pytest.mark.parametrize("name", BAD)
def test_malformed_samples_name_the_line_or_field_that_is_wrong(name):
    with pytest.raises(DocumentError, match=BAD[name]):
        parse_document(sample(f"bad/{name}"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Django==5.2.1", ("pkg:pypi/django", "5.2.1")),
        ("django == 5.2.1", ("pkg:pypi/django", "5.2.1")),
        ("Zope.Interface===6.0", ("pkg:pypi/zope.interface", "6.0")),
        ("requests[security,socks]==2.31.0", ("pkg:pypi/requests", "2.31.0")),
        ("requests [ security ] == 2.31.0", ("pkg:pypi/requests", "2.31.0")),
        ("numpy (==1.26.4)", ("pkg:pypi/numpy", "1.26.4")),
        ("numpy>=1.26,==1.26.4", ("pkg:pypi/numpy", "1.26.4")),
        ("numpy==1.26.*", ("pkg:pypi/numpy", None)),
        ("numpy~=1.26", ("pkg:pypi/numpy", None)),
        ("numpy", ("pkg:pypi/numpy", None)),
        ('pywin32==306 ; sys_platform == "win32"', ("pkg:pypi/pywin32", "306")),
        ("pywin32==306;sys_platform=='win32'", ("pkg:pypi/pywin32", "306")),
        ("foo==1.0 --hash=sha256:abc --hash sha256:def", ("pkg:pypi/foo", "1.0")),
        ("foo==1.0+local.1", ("pkg:pypi/foo", "1.0+local.1")),
        ("foo @ https://example.org/foo-1.0.tar.gz", ("pkg:pypi/foo", None)),
        (
            "foo@git+https://example.org/foo.git ; os_name == 'posix'",
            ("pkg:pypi/foo", None),
        ),
        ("Foo_Bar==1.0  # trailing comment", ("pkg:pypi/foo-bar", "1.0")),
    ],
)
def test_requirement_lines(text, expected):
    [component] = parse_document(text.encode(), kind="requirements")
    assert (component.purl, component.version) == expected


def test_continuations_join_lines_and_report_the_first_line():
    text = "# header\nfoo==1.0 \\\n  --hash=sha256:abc \\\n  --hash=sha256:def\nbar==2.0\nbaz=>3\n"
    with pytest.raises(DocumentError, match="^line 6: "):
        parse_document(text.encode(), kind="requirements")
    assert triples(parse_document(text.replace("baz=>3", "baz==3").encode())) == [
        ("pkg:pypi/foo", "1.0", "line 2"),
        ("pkg:pypi/bar", "2.0", "line 5"),
        ("pkg:pypi/baz", "3", "line 6"),
    ]
    broken = "foo==1.0 \\\n  --hash=sha256:abc\nbar=>1 \\\n  ; python_version > '3'\n"
    with pytest.raises(DocumentError, match="^line 3: "):
        parse_document(broken.encode(), kind="requirements")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-r base.txt", "includes another requirements file"),
        ("--requirement=base.txt", "includes another requirements file"),
        ("-rbase.txt", "includes another requirements file"),
        ("-c constraints.txt", "includes a constraints file"),
        ("--editable ./plugin", "is an editable install"),
        ("./plugin", "is a URL or a path"),
        ("/srv/wheels/foo-1.0-py3-none-any.whl", "is a URL or a path"),
        ("https://example.org/foo-1.0.tar.gz", "is a URL or a path"),
        ("git+https://example.org/foo.git#egg=foo", "is a URL or a path"),
        ("--no-such-option", "not a requirements-file option"),
        ("foo[bar==1.0", "malformed list of extras"),
        ("foo[b@r]==1.0", "malformed list of extras"),
        ("foo @", "not a requirement of the form name @ URL"),
        ("foo @ https://x/y z", "not a requirement of the form name @ URL"),
        ("foo==1.0 bar==2.0", "not a version specifier"),
        ("-x", "not a requirements-file option"),
        ("!!!", "not a requirement"),
    ],
)
def test_requirement_lines_refused_with_their_line_number(line, message):
    text = f"ok==1.0\n\n{line}\n"
    with pytest.raises(DocumentError, match=rf"^line 3: .*{message}"):
        parse_document(text.encode(), kind="requirements")


@pytest.mark.parametrize(
    "option",
    [
        "--index-url https://pypi.org/simple",
        "-i https://pypi.org/simple",
        "--extra-index-url=https://mirror.example.org/simple",
        "--find-links ./wheels",
        "--trusted-host mirror.example.org",
        "--require-hashes",
        "--only-binary :all:",
        "--pre",
        "-ihttps://pypi.org/simple",
    ],
)
def test_options_that_name_no_package_are_skipped(option):
    components = parse_document(f"{option}\nfoo==1.0\n".encode(), kind="requirements")
    assert triples(components) == [("pkg:pypi/foo", "1.0", "line 2")]


def test_environment_markers_are_never_evaluated(tmp_path):
    marker = tmp_path / "ran"
    text = f"foo==1.0 ; __import__('os').system('touch {marker}') == 0\n"
    [component] = parse_document(text.encode(), kind="requirements")
    assert component.version == "1.0"
    assert not marker.exists()


def test_purl_lists_keep_a_subpath_hash_and_strip_comments():
    text = b"pkg:npm/foo@1.0#dist/index.js  # shipped\n  # indented comment\npkg:cargo/bar\n"
    assert triples(parse_document(text)) == [
        ("pkg:npm/foo", "1.0", "line 1"),
        ("pkg:cargo/bar", None, "line 3"),
    ]


def test_qualifiers_and_subpaths_are_dropped_and_names_normalised():
    text = b"pkg:pypi/Foo_Bar@1.0?repository_url=https://x\npkg:npm/%40Scope/Pkg@2\n"
    assert [(c.purl, c.version) for c in parse_document(text, kind="purls")] == [
        ("pkg:pypi/foo-bar", "1.0"),
        ("pkg:npm/%40scope/pkg", "2"),
    ]


def test_a_byte_order_mark_is_allowed():
    assert parse_document(b"\xef\xbb\xbfpkg:pypi/foo@1\n")[0].purl == "pkg:pypi/foo"


def test_cyclonedx_without_components_or_purls_lists_nothing():
    document = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "metadata": {"component": {"type": "application", "name": "x"}},
        "components": [{"type": "file", "name": "README"}],
    }
    assert parse_document(json.dumps(document).encode()) == []
    assert parse_document(b'{"bomFormat": "CycloneDX", "specVersion": "1.6"}') == []
    document["components"].append({"type": "library", "name": "y", "purl": None})
    assert parse_document(json.dumps(document).encode()) == []


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"bomFormat": "CycloneDX", "components": {}}, r"^components: expected a list"),
        ({"bomFormat": "CycloneDX", "components": ["x"]}, r"^components\[0\]: expected an object"),
        ({"bomFormat": "CycloneDX", "metadata": []}, r"^metadata: expected an object"),
        (
            {"bomFormat": "CycloneDX", "metadata": {"component": {"purl": "nope"}}},
            r"^metadata\.component\.purl: “nope” is not a valid package URL",
        ),
        (
            {"bomFormat": "CycloneDX", "components": [{"purl": "pkg:pypi/a b@1"}]},
            r"^components\[0\]\.purl: “pkg:pypi/a b@1” contains spaces",
        ),
        ({"spdxVersion": "SPDX-2.3", "packages": {}}, r"^packages: expected a list"),
        (
            {"spdxVersion": "SPDX-2.3", "packages": [{"externalRefs": [{"referenceType": "purl"}]}]},
            r"^packages\[0\]\.externalRefs\[0\]\.referenceLocator: missing",
        ),
        ({"lockfileVersion": True, "packages": {}}, r"^lockfileVersion: expected 1, 2 or 3"),
        ({"lockfileVersion": 3, "packages": []}, r"^packages: expected an object"),
        (
            {"lockfileVersion": 3, "packages": {"node_modules/@scope": {"version": "1"}}},
            r'^packages\["node_modules/@scope"\]: “@scope” is not an npm package name',
        ),
        (
            {"lockfileVersion": 1, "dependencies": {"a": {"version": "1", "dependencies": []}}},
            r'^dependencies\["a"\]\.dependencies: expected an object',
        ),
    ],
)  # fmt: skip
def test_malformed_json_documents_name_the_field(document, message):
    with pytest.raises(DocumentError, match=message):
        parse_document(json.dumps(document).encode())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The document is empty"),
        (b"  \n\n", "The document is empty"),
        (b"[1, 2, 3]", "not one we can read"),
        (b"{" * 100_000, "nested too deeply|line 1"),
    ],
)
def test_documents_that_are_nothing_we_read_are_refused(data, message):
    with pytest.raises(DocumentError, match=message):
        parse_document(data)


def test_an_unknown_kind_is_refused():
    with pytest.raises(DocumentError, match="“yaml” is not a document kind we read"):
        parse_document(b"pkg:pypi/foo", kind="yaml")


def nested_bom(depth: int) -> bytes:
    text = '{"bomFormat":"CycloneDX","components":'
    text += '[{"purl":"pkg:pypi/p@1","components":' * depth + "[]" + "}]" * depth + "}"
    return text.encode()


def test_nested_cyclonedx_components_are_read_depth_first():
    components = parse_document(nested_bom(300))
    assert len(components) == 300
    assert components[0].source == "components[0].purl"
    assert components[-1].source == "components[0]" + ".components[0]" * 299 + ".purl"


def test_json_nested_deeper_than_the_parser_reads_is_refused_not_crashed():
    with pytest.raises(DocumentError, match="nested too deeply"):
        parse_document(nested_bom(5_000))


def test_the_size_limit_is_ten_megabytes():
    line = b"pkg:pypi/foo@1.0\n"
    at_limit = line + b"#" * (MAX_BYTES - len(line))
    assert len(at_limit) == MAX_BYTES
    assert triples(parse_document(at_limit)) == [("pkg:pypi/foo", "1.0", "line 1")]
    with pytest.raises(DocumentError, match="the limit is 10 MB"):
        parse_document(at_limit + b"#")


def test_the_component_limit_is_fifty_thousand_purls():
    lines = [f"pkg:npm/p{i}@1.0" for i in range(MAX_COMPONENTS)]
    assert len(parse_document("\n".join(lines).encode())) == MAX_COMPONENTS
    lines.append("pkg:npm/one-too-many@1.0")
    with pytest.raises(
        DocumentError, match=r"^line 50001: .*more than 50,000 components"
    ):
        parse_document("\n".join(lines).encode())


def test_the_component_limit_counts_nested_cyclonedx_components():
    outer = [
        {"purl": f"pkg:npm/p{i}@1", "components": [{"purl": f"pkg:npm/q{i}@1"}]}
        for i in range(MAX_COMPONENTS // 2)
    ]
    document = {"bomFormat": "CycloneDX", "components": outer}
    assert len(parse_document(json.dumps(document).encode())) == MAX_COMPONENTS
    document["metadata"] = {"component": {"purl": "pkg:npm/app@1"}}
    with pytest.raises(
        DocumentError,
        match=r"^components\[24999\]\.components\[0\]\.purl: the document lists more than",
    ):
        parse_document(json.dumps(document).encode())


def test_messages_quoting_hostile_input_are_bounded():
    for data, kind in [
        (b"ok==1\n-r" + b"x" * 100_000 + b"\n", "requirements"),
        (b"pkg:pypi/ok\npkg:pypi/" + b"x" * 100_000 + b"@1 2\n", "purls"),
    ]:
        with pytest.raises(DocumentError) as caught:
            parse_document(data, kind=kind)
        assert str(caught.value).startswith("line 2: ")
        assert len(str(caught.value)) == 300


def test_components_are_plain_values():
    component = Component(purl="pkg:pypi/foo", version="1.0", source="line 1")
    assert component == Component(purl="pkg:pypi/foo", version="1.0", source="line 1")
    assert {component: 1}[Component("pkg:pypi/foo", "1.0", "line 1")] == 1


def test_mangled_documents_give_a_document_error_and_nothing_else():
    # A fixed-seed fuzz over the samples: whatever a client uploads, the answer is a
    # DocumentError (a 400), never another exception (a 500).
    rng = random.Random(7)
    seeds = [sample(name) for name in EXPECTED]
    alphabet = 'pkg:/@?#=&%._-+~ \\\n\t"{}[],:;<>!()*aPZ09é\u202e\x00'
    for round_ in range(1500):
        if round_ % 2:
            data = bytearray(rng.choice(seeds))
            for _ in range(rng.randint(1, 6)):
                at = rng.randrange(len(data))
                roll = rng.random()
                if roll < 0.4:
                    data[at] = rng.randrange(256)
                elif roll < 0.7:
                    del data[at : at + rng.randint(1, 20)]
                else:
                    data[at:at] = rng.choice(alphabet).encode() * rng.randint(1, 5)
        else:
            data = "".join(
                rng.choice(alphabet) for _ in range(rng.randint(0, 80))
            ).encode()
        kind = rng.choice([None, None, *KINDS])
        try:
            parse_document(bytes(data), kind=kind)
        except DocumentError:
            pass
