"""Build real git repositories for the scrutiny tests: identities, fixed dates, signed objects."""

# The tests run git, ssh-keygen and gpg from PATH with fixed arguments.
# ruff: noqa: S603, S607

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Who:
    name: str
    email: str


@dataclass(frozen=True)
class SshKey:
    path: Path
    fingerprint: str
    public: str


def plain_env(home: Path) -> dict[str, str]:
    """An environment where no user or system git configuration leaks into the test repo."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_TERMINAL_PROMPT": "0",
    }


def make_ssh_key(
    directory: Path, name: str, kind: tuple[str, ...] = ("ed25519",)
) -> SshKey:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", *kind, "-N", "", "-C", name, "-f", str(path)],
        check=True,
    )
    listing = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{path}.pub"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return SshKey(path, listing[1], Path(f"{path}.pub").read_text().strip())


class GitRepo:
    def __init__(self, path: Path, *, object_format: str = "sha1"):
        self.path = path
        self.home = path.parent / f"{path.name}-home"
        self.home.mkdir(parents=True, exist_ok=True)
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main", f"--object-format={object_format}")

    def git(
        self,
        *args: str,
        env: dict | None = None,
        stdin: bytes | None = None,
        config: tuple[str, ...] = (),
    ) -> str:
        command = ["git"]
        for setting in config:
            command += ["-c", setting]
        result = subprocess.run(
            [*command, *args],
            cwd=self.path,
            env={**plain_env(self.home), **(env or {})},
            input=stdin,
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"git {' '.join(args)} failed: {result.stderr.decode(errors='replace')}"
            )
        return result.stdout.decode("utf-8", errors="replace").strip()

    def write(self, files: dict[str, bytes | str | None]) -> None:
        for name, content in files.items():
            target = self.path / name
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                content = content.encode("utf-8")
            target.write_bytes(content)

    @staticmethod
    def identity_env(
        author: Who, committer: Who, author_date: str, committer_date: str
    ):
        return {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_AUTHOR_DATE": author_date,
            "GIT_COMMITTER_NAME": committer.name,
            "GIT_COMMITTER_EMAIL": committer.email,
            "GIT_COMMITTER_DATE": committer_date,
        }

    @staticmethod
    def signing(key: SshKey | None) -> tuple[str, ...]:
        if key is None:
            return ()
        return ("gpg.format=ssh", f"user.signingkey={key.path}")

    def commit(
        self,
        message: str,
        files: dict[str, bytes | str | None],
        *,
        author: Who,
        date: str,
        committer: Who | None = None,
        committer_date: str | None = None,
        key: SshKey | None = None,
    ) -> str:
        self.write(files)
        self.git("add", "-A")
        env = self.identity_env(
            author, committer or author, date, committer_date or date
        )
        args = ["commit", "-q", "--allow-empty", "-m", message]
        if key:
            args.append("-S")
        self.git(*args, env=env, config=self.signing(key))
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def checkout(self, branch: str, *, create_from: str | None = None) -> None:
        if create_from:
            self.git("checkout", "-q", "-b", branch, create_from)
        else:
            self.git("checkout", "-q", branch)

    def tag(
        self,
        name: str,
        *,
        target: str = "HEAD",
        tagger: Who | None = None,
        date: str | None = None,
        key: SshKey | None = None,
        message: str | None = None,
    ) -> None:
        if tagger is None:
            self.git("tag", name, target)
            return
        env = self.identity_env(tagger, tagger, date, date)
        args = [
            "tag",
            "-s" if key else "-a",
            "-m",
            message or f"Release {name}",
            name,
            target,
        ]
        self.git(*args, env=env, config=self.signing(key))


def notice_document(
    *,
    start: str,
    end: str | None,
    identities: list[dict],
    releases: list[dict] | None = None,
    notice_id: str = "HN-2026-0007",
) -> dict:
    return {
        "format": "steady-notice/1",
        "id": notice_id,
        "revision": 1,
        "kind": "initial",
        "status": "active",
        "published": f"{start}T09:00:00Z",
        "modified": f"{start}T09:00:00Z",
        "effective": f"{start}T09:00:00Z",
        "project": {
            "name": "tinyzip",
            "ecosystem": "generic",
            "repository": "https://github.com/example/tinyzip",
            "purls": ["pkg:github/example/tinyzip"],
        },
        "window": {"start": start, "end": end},
        "scope": ["review", "merge", "release"],
        "stewards": [],
        "authorized_identities": identities,
        "release_channels": [],
        "releases": releases or [],
        "guidance": "Review commits made during the window.",
        "references": [],
        "statement": "",
        "handover_report": None,
        "consent": "maintainer",
    }


def write_notice(path: Path, document: dict) -> Path:
    path.write_bytes(
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
    )
    return path


STELLA = Who("Stella Steward", "stella@example.org")
MAX = Who("Max Maintainer", "max@example.org")
JIA = Who("Jia Newcomer", "jia@example.net")
EVE = Who("Eve Helper", "eve@example.net")

CMAKE_CHECK = """cmake_minimum_required(VERSION 3.14)
project(tinyzip C)
include(CheckCSourceCompiles)
check_c_source_compiles("
#include <sys/prctl.h>
#include <linux/landlock.h>
int main(void) { (void)SYS_landlock_create_ruleset; return 0; }
" HAVE_LINUX_LANDLOCK)
add_library(tinyzip src/main.c)
"""
# The xz trick: one stray character makes the check fail to compile, so the sandbox is off.
CMAKE_SABOTAGED = CMAKE_CHECK.replace(
    "#include <linux/landlock.h>\n", "#include <linux/landlock.h>\n.\n"
)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
XZ = b"\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4F\x02\x00!\x01\x16\x00\x00\x00t/\xe5\xa3"


@dataclass
class Handover:
    """A repository with a handover window in November 2026 and what happened in it."""

    path: Path
    notice_path: Path
    stella_key: SshKey
    rogue_key: SshKey
    commits: dict[str, str]


def build_handover_repo(root: Path) -> Handover:
    keys = root / "keys"
    stella_key = make_ssh_key(keys, "stella")
    rogue_key = make_ssh_key(keys, "rogue")
    repo = GitRepo(root / "tinyzip")
    c: dict[str, str] = {}

    c["initial"] = repo.commit(
        "Initial import",
        {
            "configure.ac": "AC_INIT([tinyzip], [1.0])\nAC_OUTPUT\n",
            "CMakeLists.txt": CMAKE_CHECK,
            "m4/visibility.m4": "AC_DEFUN([TZ_VISIBILITY], [:])\n",
            "src/main.c": "int main(void) { return 0; }\n",
            "src/util.c": "int util(void) { return 1; }\n",
            "tests/files/good-1.xz": XZ,
            ".gitignore": "*.o\n",
            "SECURITY.md": "Report to max@example.org\n",
            ".github/workflows/ci.yml": "on: push\n",
            "oss-fuzz/build.sh": "#!/bin/sh\nmake fuzz\n",
        },
        author=MAX,
        date="2026-10-01T10:00:00+00:00",
    )
    repo.tag("v1.0.0", tagger=MAX, date="2026-10-02T10:00:00+00:00")
    c["before_window_jia"] = repo.commit(
        "Small cleanup before the window",
        {"src/main.c": "int main(void) { return 0; } /* tidy */\n"},
        author=JIA,
        date="2026-10-15T10:00:00+00:00",
    )
    c["stella_clean"] = repo.commit(
        "Fix a typo",
        {"src/main.c": "int main(void) { return 0; } /* tidied */\n"},
        author=STELLA,
        date="2026-11-02T10:00:00+00:00",
        key=stella_key,
    )
    c["jia_binary"] = repo.commit(
        "Add test files for corrupt streams",
        {"tests/files/bad-3-corrupt_lzma2.xz": XZ + b"\x00payload"},
        author=JIA,
        date="2026-11-03T10:00:00+00:00",
    )
    c["jia_m4"] = repo.commit(
        "Improve visibility macro",
        {
            "m4/visibility.m4": 'AC_DEFUN([TZ_VISIBILITY], [CFLAGS="$CFLAGS -fvisibility=hidden"])\n'
        },
        author=JIA,
        date="2026-11-04T10:00:00+00:00",
    )
    c["jia_dot"] = repo.commit(
        "Tidy the landlock check",
        {"CMakeLists.txt": CMAKE_SABOTAGED},
        author=JIA,
        date="2026-11-05T10:00:00+00:00",
    )
    c["jia_ignore"] = repo.commit(
        "Ignore generated macro",
        {".gitignore": "*.o\nbuild-to-host.m4\n# editors\n*.swp\n"},
        author=JIA,
        date="2026-11-06T10:00:00+00:00",
    )
    c["stella_carries_jia"] = repo.commit(
        "Speed up CRC",
        {"src/util.c": "int util(void) { return 2; }\n"},
        author=JIA,
        committer=STELLA,
        date="2026-11-07T10:00:00+00:00",
        key=stella_key,
    )
    c["max_coauthored"] = repo.commit(
        "Refactor stream handling\n\nCo-authored-by: Eve Helper <eve@example.net>\n"
        "Co-authored-by: Stella Steward <STELLA@example.org>\n",
        {"src/util.c": "int util(void) { return 3; }\n"},
        author=MAX,
        date="2026-11-08T10:00:00+00:00",
    )
    c["stella_rogue_key"] = repo.commit(
        "Update docs",
        {"README": "tinyzip\n"},
        author=STELLA,
        date="2026-11-09T10:00:00+00:00",
        key=rogue_key,
    )
    c["stella_unsigned"] = repo.commit(
        "Update docs again",
        {"README": "tinyzip, small\n"},
        author=STELLA,
        date="2026-11-10T09:00:00+00:00",
    )
    repo.tag("v1.1.0", tagger=STELLA, date="2026-11-10T10:00:00+00:00", key=stella_key)
    c["max_logo"] = repo.commit(
        "Add a logo",
        {"docs/logo.png": PNG},
        author=MAX,
        date="2026-11-11T10:00:00+00:00",
    )
    repo.tag("v1.1.1", tagger=JIA, date="2026-11-11T11:00:00+00:00")
    repo.tag("v1.1.2-rc1")  # lightweight, on a commit in the window
    repo.tag("v1.1.3", tagger=STELLA, date="2026-11-11T12:00:00+00:00", key=rogue_key)
    c["max_other_name"] = repo.commit(
        "Note the new address",
        {"NEWS": "1.1.1\n"},
        author=Who("Maxwell M.", "MAX@Example.org"),
        date="2026-11-12T10:00:00+00:00",
    )
    c["jia_backdated"] = repo.commit(
        "Old fix, applied now",
        {"src/main.c": "int main(void) { return 1; }\n"},
        author=JIA,
        date="2026-09-01T10:00:00+00:00",
        committer=MAX,
        committer_date="2026-11-13T10:00:00+00:00",
    )
    c["max_attributes"] = repo.commit(
        "Mark macros",
        {".gitattributes": "*.m4 -diff\n"},
        author=MAX,
        date="2026-11-14T10:00:00+00:00",
    )

    # A side branch that is never merged: the scan must still see it.
    repo.checkout("feature", create_from=c["max_coauthored"])
    c["jia_feature"] = repo.commit(
        "Route security reports to the new team",
        {
            "SECURITY.md": "Report to jia@example.net\n",
            ".github/workflows/ci.yml": "on: workflow_dispatch\n",
            "oss-fuzz/build.sh": "#!/bin/sh\nexit 0\n",
        },
        author=JIA,
        date="2026-11-15T10:00:00+00:00",
    )

    # A branch merged with a change made in the merge itself.
    repo.checkout("fix", create_from=c["max_attributes"])
    c["stella_fix"] = repo.commit(
        "Fix bounds and the contact",
        {
            "src/bounds.c": "int bounds;\n",
            "SECURITY.md": "Report to stella@example.org\n",
        },
        author=STELLA,
        date="2026-11-16T10:00:00+00:00",
        key=stella_key,
    )
    repo.checkout("main")
    c["max_side"] = repo.commit(
        "Side change",
        {"src/side.c": "int side;\n"},
        author=MAX,
        date="2026-11-16T11:00:00+00:00",
    )
    env = repo.identity_env(
        MAX, MAX, "2026-11-17T10:00:00+00:00", "2026-11-17T10:00:00+00:00"
    )
    repo.git("merge", "-q", "--no-ff", "--no-commit", "fix", env=env)
    repo.write({"configure.ac": "AC_INIT([tinyzip], [1.1])\nAC_OUTPUT\n"})
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "Merge fix", env=env)
    c["max_evil_merge"] = repo.head()

    c["jia_after_window"] = repo.commit(
        "After the window",
        {
            "configure.ac": "AC_INIT([tinyzip], [1.2])\nAC_OUTPUT\n",
            "tests/files/late.xz": XZ,
        },
        author=JIA,
        date="2026-12-05T10:00:00+00:00",
    )

    notice_path = write_notice(
        root / "notice.json",
        notice_document(
            start="2026-11-01",
            end="2026-11-30",
            identities=[
                {
                    "name": STELLA.name,
                    "email": STELLA.email,
                    "key_fingerprint": stella_key.fingerprint,
                    "may": ["commit", "release"],
                },
                {
                    "name": MAX.name,
                    "email": MAX.email,
                    "key_fingerprint": None,
                    "may": ["commit"],
                },
            ],
            releases=[{"version": "1.1.0", "date": "2026-11-10"}],
        ),
    )
    return Handover(repo.path, notice_path, stella_key, rogue_key, c)
