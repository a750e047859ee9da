"""Release tarball against the tagged tree, with tarballs built from a real `git archive`."""

import io
import subprocess
import tarfile

import pytest

from portal.scrutiny.findings import ERROR, NOTE, WARNING
from portal.scrutiny.gitscan import GitError
from portal.scrutiny.tarball import TarballError, scrutinize_tarball
from tests.portal.scrutiny.gitrepo import MAX, GitRepo

PREFIX = "tinyzip-1.1.0/"
INJECTED_M4 = (
    b"dnl build-to-host.m4\nAC_DEFUN([gl_BUILD_TO_HOST], [eval $gl_payload])\n"
)


def archive_members(handover) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    data = subprocess.run(  # noqa: S603 - git with fixed arguments
        ["git", "archive", "--format=tar", f"--prefix={PREFIX}", "v1.1.0"],  # noqa: S607
        cwd=handover.path,
        capture_output=True,
        check=True,
        env={
            "PATH": "/usr/bin:/bin",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": "/nonexistent",
        },
    ).stdout
    members = []
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for info in archive.getmembers():
            content = archive.extractfile(info).read() if info.isreg() else None
            members.append((info, content))
    return members


def write_tarball(path, members, mode="w") -> str:
    with tarfile.open(path, mode) as archive:
        for info, content in members:
            archive.addfile(info, io.BytesIO(content) if content is not None else None)
    return str(path)


def file_member(name: str, content: bytes, mode: int = 0o644):
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mode = mode
    return info, content


def special_member(name: str, kind: bytes, link: str = ""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info, None


@pytest.mark.parametrize(
    "suffix, mode",
    [(".tar", "w"), (".tar.gz", "w:gz"), (".tar.bz2", "w:bz2"), (".tar.xz", "w:xz")],
)
def test_archive_of_the_tag_has_no_findings(handover, tmp_path, suffix, mode):
    tarball = write_tarball(
        tmp_path / f"tinyzip-1.1.0{suffix}", archive_members(handover), mode
    )
    result = scrutinize_tarball(tarball, handover.path, "v1.1.0")
    assert result.findings == []
    assert result.prefix == "tinyzip-1.1.0"
    assert result.compared == 12
    assert not result.flagged


def test_injected_and_modified_files_are_reported(handover, tmp_path):
    members = []
    for info, content in archive_members(handover):
        if info.name == f"{PREFIX}src/util.c":
            info.size = len(b"int util(void) { return 4; }\n")
            content = b"int util(void) { return 4; }\n"
        if info.name == f"{PREFIX}README":
            continue  # missing from the tarball
        if info.name == f"{PREFIX}configure.ac":
            info.mode = 0o755  # same bytes, made executable
        members.append((info, content))
    members.append(file_member(f"{PREFIX}m4/build-to-host.m4", INJECTED_M4))
    members.append(file_member(f"{PREFIX}ChangeLog", b"1.1.0: fixes\n"))
    tarball = write_tarball(tmp_path / "t.tar.gz", members, "w:gz")

    result = scrutinize_tarball(tarball, handover.path, "v1.1.0")
    found = {(f.rule, f.path): f.level for f in result.findings}
    assert found == {
        ("tarball-extra-file", "m4/build-to-host.m4"): ERROR,
        ("tarball-extra-file", "ChangeLog"): WARNING,
        ("tarball-modified-file", "src/util.c"): ERROR,
        ("tarball-modified-file", "configure.ac"): WARNING,
        ("tarball-missing-file", "README"): NOTE,
    }
    assert result.flagged
    injected = next(f for f in result.findings if f.path == "m4/build-to-host.m4")
    assert "build system" in injected.message


def test_unsafe_members_are_reported_and_never_written(handover, tmp_path):
    members = archive_members(handover)
    members += [
        file_member("/etc/cron.d/evil", b"* * * * * root sh\n"),
        file_member(f"{PREFIX}../../escape.sh", b"#!/bin/sh\n"),
        special_member(f"{PREFIX}link-out", tarfile.SYMTYPE, "/etc/passwd"),
        special_member(f"{PREFIX}hard", tarfile.LNKTYPE, f"{PREFIX}src/main.c"),
        special_member(f"{PREFIX}dev/null-ish", tarfile.CHRTYPE),
        special_member(f"{PREFIX}pipe", tarfile.FIFOTYPE),
        file_member(
            f"{PREFIX}src/main.c", b"int main(void) { evil(); }\n"
        ),  # a duplicate
    ]
    cwd_before = sorted(p.name for p in tmp_path.iterdir())
    tarball = write_tarball(tmp_path / "t.tar", members)
    result = scrutinize_tarball(tarball, handover.path, "v1.1.0")
    found = {(f.rule, f.path): f.level for f in result.findings}
    assert found == {
        ("tarball-unsafe-member", "/etc/cron.d/evil"): ERROR,
        ("tarball-unsafe-member", f"{PREFIX}../../escape.sh"): ERROR,
        ("tarball-unsafe-member", "link-out"): ERROR,
        ("tarball-unsafe-member", "hard"): ERROR,
        ("tarball-unsafe-member", "dev/null-ish"): ERROR,
        ("tarball-unsafe-member", "pipe"): ERROR,
        ("tarball-unsafe-member", "src/main.c"): ERROR,
        # The last copy of a duplicated member is what extraction leaves behind.
        ("tarball-modified-file", "src/main.c"): ERROR,
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*cwd_before, "t.tar"])


def test_symlink_that_the_tree_also_has_is_only_a_note(tmp_path):
    repo = GitRepo(tmp_path / "r")
    (repo.path / "docs").mkdir()
    (repo.path / "docs" / "index.md").write_text("hi\n")
    (repo.path / "README.md").symlink_to("docs/index.md")
    repo.commit("docs", {}, author=MAX, date="2026-11-02T10:00:00+00:00")
    repo.git("tag", "v1")
    members = [
        file_member("p/docs/index.md", b"hi\n"),
        special_member("p/README.md", tarfile.SYMTYPE, "docs/index.md"),
    ]
    result = scrutinize_tarball(
        write_tarball(tmp_path / "t.tar", members), repo.path, "v1"
    )
    assert [(f.rule, f.level, f.path) for f in result.findings] == [
        ("tarball-unsafe-member", NOTE, "README.md")
    ]
    assert not result.flagged


def test_tarball_without_a_top_level_directory_is_compared_as_is(handover, tmp_path):
    members = []
    for info, content in archive_members(handover):
        if info.name == PREFIX.rstrip("/"):
            continue
        info.name = info.name.removeprefix(PREFIX)
        members.append((info, content))
    result = scrutinize_tarball(
        write_tarball(tmp_path / "t.tar", members), handover.path, "v1.1.0"
    )
    assert result.prefix is None
    assert result.findings == []


def test_member_limit_is_a_clear_error(handover, tmp_path):
    tarball = write_tarball(tmp_path / "t.tar", archive_members(handover))
    with pytest.raises(TarballError, match="more than 5 members"):
        scrutinize_tarball(tarball, handover.path, "v1.1.0", max_members=5)
    with pytest.raises(TarballError, match="more than 100 bytes"):
        scrutinize_tarball(tarball, handover.path, "v1.1.0", max_total_bytes=100)


def test_not_a_tarball_is_a_clear_error(handover, tmp_path):
    bogus = tmp_path / "release.tar.gz"
    bogus.write_bytes(b"this is not a tarball at all" * 40)
    with pytest.raises(TarballError, match="not a readable tarball"):
        scrutinize_tarball(bogus, handover.path, "v1.1.0")
    with pytest.raises(TarballError, match="No such file"):
        scrutinize_tarball(tmp_path / "missing.tar", handover.path, "v1.1.0")


@pytest.mark.parametrize("tag", ["v9.9.9", "--upload-pack=touch", "v1..0", "v1 0", ""])
def test_unknown_or_malformed_tag_is_a_clear_error(handover, tmp_path, tag):
    tarball = write_tarball(tmp_path / "t.tar", archive_members(handover))
    with pytest.raises(GitError, match="no tag|not a valid tag name"):
        scrutinize_tarball(tarball, handover.path, tag)


def test_sha256_repository_signatures_and_tarball(tmp_path):
    from portal.scrutiny.gitscan import scan_repository
    from portal.scrutiny.notice_source import parse_notice
    from tests.portal.scrutiny.gitrepo import (
        JIA,
        make_ssh_key,
        notice_document,
        write_notice,
    )

    key = make_ssh_key(tmp_path / "keys", "k")
    repo = GitRepo(tmp_path / "r", object_format="sha256")
    signed = repo.commit(
        "Signed",
        {"src/a.c": "int a;\n"},
        author=MAX,
        date="2026-11-02T10:00:00+00:00",
        key=key,
    )
    repo.tag("v1", tagger=MAX, date="2026-11-02T11:00:00+00:00", key=key)
    foreign = repo.commit(
        "Binary", {"tests/x.bin": b"\0\1"}, author=JIA, date="2026-11-03T10:00:00+00:00"
    )
    assert len(signed) == 64
    document = notice_document(
        start="2026-11-01",
        end=None,
        identities=[
            {
                "name": MAX.name,
                "email": MAX.email,
                "key_fingerprint": key.fingerprint,
                "may": ["commit", "release"],
            }
        ],
    )
    notice = parse_notice(write_notice(tmp_path / "n.json", document).read_bytes())
    result = scan_repository(repo.path, notice)
    assert sorted((f.rule, f.level, f.commit, f.path) for f in result.findings) == [
        ("binary-file", ERROR, foreign, "tests/x.bin"),
        ("tag-in-window", NOTE, signed, None),
        ("unauthorised-identity", ERROR, foreign, None),
    ]
    assert result.commits[0].signature.fingerprint == key.fingerprint
    assert result.tags[0].signature.fingerprint == key.fingerprint

    members = [
        file_member("r-1/src/a.c", b"int a;\n"),
        file_member("r-1/extra.m4", b"dnl\n"),
    ]
    tarball = write_tarball(tmp_path / "t.tar.gz", members, "w:gz")
    found = scrutinize_tarball(tarball, repo.path, "v1")
    assert [(f.rule, f.path) for f in found.findings] == [
        ("tarball-extra-file", "extra.m4")
    ]
