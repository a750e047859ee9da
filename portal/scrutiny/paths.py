"""Which paths of a repository or tarball deserve a reviewer's eyes, and why."""

import posixpath

BINARY_SNIFF_BYTES = 8000

TEST_DIRS = frozenset(
    {
        "test",
        "tests",
        "testdata",
        "test-data",
        "test_data",
        "testing",
        "testfiles",
        "test-files",
        "__tests__",
        "spec",
        "specs",
        "fixtures",
    }
)
BINARY_SUFFIXES = frozenset(
    {
        ".xz", ".lzma", ".lz", ".gz", ".bz2", ".zst", ".zip", ".7z", ".tar", ".tgz",
        ".o", ".a", ".so", ".dylib", ".dll", ".exe", ".obj", ".lib", ".bin", ".dat",
        ".class", ".jar", ".war", ".pyc", ".pyo", ".whl", ".egg", ".wasm", ".node",
    }
)  # fmt: skip
BUILD_NAMES = frozenset(
    {
        "configure", "configure.ac", "configure.in", "makefile.am", "makefile.in",
        "makefile", "gnumakefile", "cmakelists.txt", "meson.build", "meson_options.txt",
        "meson.options", "setup.py", "setup.cfg", "pyproject.toml", "manifest.in",
        "build.rs", "cargo.toml", "build.gradle", "build.gradle.kts", "settings.gradle",
        "settings.gradle.kts", "pom.xml", "package.json", "binding.gyp", "sconstruct",
        "sconscript", "build", "build.bazel", "workspace", "workspace.bazel",
        "module.bazel", "rakefile", "autogen.sh", "bootstrap", "bootstrap.sh", "build.sh",
        "ltmain.sh", "config.guess", "config.sub", "install-sh", "depcomp", "missing",
        "compile", "libtool", "aclocal.m4", "go.mod", "build.zig", "justfile",
    }
)  # fmt: skip
BUILD_SUFFIXES = (
    ".m4",
    ".cmake",
    ".mk",
    ".am",
    ".ac",
    ".in",
    ".bzl",
    ".gemspec",
    ".gyp",
)
BUILD_DIRS = frozenset({"m4", "build-aux", "cmake", "autotools"})
CI_FILES = frozenset(
    {
        ".gitlab-ci.yml", ".travis.yml", "azure-pipelines.yml", "appveyor.yml",
        ".appveyor.yml", "jenkinsfile", ".drone.yml", ".cirrus.yml",
        "bitbucket-pipelines.yml", ".woodpecker.yml", "tox.ini", "noxfile.py",
        ".pre-commit-config.yaml",
    }
)  # fmt: skip
CI_PREFIXES = (
    ".github/workflows/",
    ".github/actions/",
    ".gitlab/",
    ".circleci/",
    ".buildkite/",
    ".azure-pipelines/",
    ".woodpecker/",
    ".clusterfuzzlite/",
    ".ci/",
)
FUZZ_DIRS = frozenset({"fuzz", "fuzzing", "fuzzers", "oss-fuzz", "fuzz-targets"})
SECURITY_NAMES = frozenset(
    {
        "security.md", "security", "security.txt", "security.rst", "codeowners",
        "maintainers", "maintainers.md", "maintainers.txt", "authors", "authors.md",
        "authors.txt", "contributors", "contributors.md", "owners", "governance.md",
        ".mailmap",
    }
)  # fmt: skip
IGNORE_NAMES = frozenset(
    {".gitignore", ".gitattributes", ".npmignore", ".dockerignore"}
)
HIDING_ATTRIBUTES = (
    "export-ignore",
    "export-subst",
    "-diff",
    "binary",
    "linguist-generated",
)


def path_categories(path: str) -> list[str]:
    """The sensitive-path rules a path falls under (build-system, ci-fuzzing, security-policy,
    ignore-file), most specific first."""
    lower = path.lower()
    parts = lower.split("/")
    base = parts[-1]
    categories = []
    if base in IGNORE_NAMES:
        categories.append("ignore-file")
    if base in SECURITY_NAMES:
        categories.append("security-policy")
    if (
        base in CI_FILES
        or lower.startswith(CI_PREFIXES)
        or any(part in FUZZ_DIRS for part in parts[:-1])
        or "fuzz" in base
    ):
        categories.append("ci-fuzzing")
    if "ci-fuzzing" not in categories and (
        base in BUILD_NAMES
        or base.endswith(BUILD_SUFFIXES)
        or any(part in BUILD_DIRS for part in parts[:-1])
    ):
        categories.append("build-system")
    return categories


def under_test_directory(path: str) -> bool:
    return any(part in TEST_DIRS for part in path.lower().split("/")[:-1])


def looks_binary(path: str, head: bytes) -> bool:
    # git's own rule (a NUL in the first 8000 bytes), plus names that are binary whatever
    # they hold: .gitattributes cannot talk this check out of it.
    return (
        b"\0" in head[:BINARY_SNIFF_BYTES]
        or posixpath.splitext(path.lower())[1] in BINARY_SUFFIXES
    )


def pattern_hides_build_input(pattern: str) -> bool:
    cleaned = pattern.strip().lstrip("/")
    cleaned = cleaned.removeprefix("**/").rstrip("/")
    if not cleaned:
        return False
    base = cleaned.split("/")[-1].lower()
    if base in BUILD_DIRS:
        return True
    return "build-system" in path_categories(cleaned) or base.endswith(".m4")
