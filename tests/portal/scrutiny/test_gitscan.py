"""The repository scan against a real repository with a handover window in November 2026."""

# The tests run git, ssh-keygen and gpg from PATH with fixed arguments.
# ruff: noqa: S603, S607

import os
import subprocess

import pytest

from portal.scrutiny.findings import ERROR, NOTE, WARNING
from portal.scrutiny.gitscan import (
    GitError,
    parse_commit,
    path_categories,
    pattern_hides_build_input,
    scan_repository,
)
from portal.scrutiny.notice_source import load_notice_file, parse_notice
from portal.scrutiny.signatures import (
    SSH_INVALID,
    SSH_VERIFIED,
    UNSIGNED,
    check_signature,
    split_commit,
    split_tag,
)
from tests.portal.scrutiny.gitrepo import (
    JIA,
    MAX,
    STELLA,
    GitRepo,
    notice_document,
    write_notice,
)


@pytest.fixture(scope="module")
def scan(handover):
    return scan_repository(handover.path, load_notice_file(handover.notice_path))


def found(scan, handover):
    """{(rule, commit name or ref, path): finding} for readable assertions."""
    names = {oid: name for name, oid in handover.commits.items()}
    index = {}
    for finding in scan.findings:
        where = finding.ref or names.get(finding.commit, finding.commit)
        key = (finding.rule, where, finding.path)
        assert key not in index, f"duplicate finding {key}"
        index[key] = finding
    return index


def rules_for(scan, handover, name):
    oid = handover.commits[name]
    return sorted(
        (f.rule, f.path) for f in scan.findings if f.commit == oid and f.ref is None
    )


def test_every_finding_is_expected_and_nothing_else(scan, handover):
    expected = {
        ("unauthorised-identity", "jia_binary", None): ERROR,
        ("binary-file", "jia_binary", "tests/files/bad-3-corrupt_lzma2.xz"): ERROR,
        ("unauthorised-identity", "jia_m4", None): ERROR,
        ("build-system", "jia_m4", "m4/visibility.m4"): WARNING,
        ("unauthorised-identity", "jia_dot", None): ERROR,
        ("build-system", "jia_dot", "CMakeLists.txt"): ERROR,
        ("unauthorised-identity", "jia_ignore", None): ERROR,
        ("ignore-file", "jia_ignore", ".gitignore"): ERROR,
        ("unauthorised-identity", "stella_carries_jia", None): ERROR,
        ("foreign-change", "stella_carries_jia", None): WARNING,
        ("foreign-change", "max_coauthored", None): WARNING,
        ("signature", "stella_rogue_key", None): ERROR,
        ("signature", "stella_unsigned", None): WARNING,
        ("binary-file", "max_logo", "docs/logo.png"): WARNING,
        ("identity-name-differs", "max_other_name", None): NOTE,
        ("unauthorised-identity", "jia_backdated", None): ERROR,
        ("foreign-change", "jia_backdated", None): WARNING,
        ("ignore-file", "max_attributes", ".gitattributes"): ERROR,
        ("unauthorised-identity", "jia_feature", None): ERROR,
        ("security-policy", "jia_feature", "SECURITY.md"): WARNING,
        ("ci-fuzzing", "jia_feature", ".github/workflows/ci.yml"): WARNING,
        ("ci-fuzzing", "jia_feature", "oss-fuzz/build.sh"): WARNING,
        ("security-policy", "stella_fix", "SECURITY.md"): WARNING,
        ("build-system", "max_evil_merge", "configure.ac"): WARNING,
        ("tag-in-window", "refs/tags/v1.1.0", None): NOTE,
        ("tag-in-window", "refs/tags/v1.1.1", None): NOTE,
        ("unauthorised-release", "refs/tags/v1.1.1", None): ERROR,
        ("tag-in-window", "refs/tags/v1.1.2-rc1", None): WARNING,
        ("tag-in-window", "refs/tags/v1.1.3", None): NOTE,
        ("signature", "refs/tags/v1.1.3", None): ERROR,
    }
    actual = {key: finding.level for key, finding in found(scan, handover).items()}
    assert actual == expected


def test_commits_outside_the_window_are_not_reported(scan, handover):
    in_window = {c.oid for c in scan.commits}
    for name in ("initial", "before_window_jia", "jia_after_window"):
        assert handover.commits[name] not in in_window
        assert rules_for(scan, handover, name) == []
    assert "refs/tags/v1.0.0" not in {t.ref for t in scan.tags}
    assert scan.commits_total == 20
    assert len(scan.commits) == 17


def test_clean_commit_by_authorised_signed_identity_has_no_finding(scan, handover):
    assert rules_for(scan, handover, "stella_clean") == []
    commit = next(c for c in scan.commits if c.oid == handover.commits["stella_clean"])
    assert commit.signature.state == SSH_VERIFIED
    assert commit.signature.fingerprint == handover.stella_key.fingerprint


def test_backdated_author_date_is_caught_by_the_committer_date(scan, handover):
    commit = next(c for c in scan.commits if c.oid == handover.commits["jia_backdated"])
    assert commit.author.email == JIA.email
    assert rules_for(scan, handover, "jia_backdated") == [
        ("foreign-change", None),
        ("unauthorised-identity", None),
    ]


def test_one_character_change_to_a_build_check_is_an_error(scan, handover):
    finding = found(scan, handover)[("build-system", "jia_dot", "CMakeLists.txt")]
    assert finding.details == {"changed_characters": 2, "line": "."}
    assert "only 2 characters" in finding.message


def test_version_bump_in_a_build_file_stays_a_warning(scan, handover):
    finding = found(scan, handover)[("build-system", "max_evil_merge", "configure.ac")]
    assert finding.details == {}


def test_merge_reports_only_what_the_merge_itself_changed(scan, handover):
    # The merged branch changed SECURITY.md; the merge changed configure.ac on its own.
    assert rules_for(scan, handover, "max_evil_merge") == [
        ("build-system", "configure.ac")
    ]


def test_text_changes_to_ordinary_files_are_not_findings(scan, handover):
    for name in ("max_side", "stella_clean"):
        assert rules_for(scan, handover, name) == []


def test_ignore_file_reports_the_added_patterns(scan, handover):
    finding = found(scan, handover)[("ignore-file", "jia_ignore", ".gitignore")]
    assert finding.details["added_patterns"] == ["build-to-host.m4", "*.swp"]
    assert finding.details["hides_build_inputs"] == ["build-to-host.m4"]


def test_co_author_emails_match_case_insensitively(scan, handover):
    finding = found(scan, handover)[("foreign-change", "max_coauthored", None)]
    assert finding.details["others"] == ["co-author Eve Helper <eve@example.net>"]


def test_committer_carrying_an_unauthorised_author_is_flagged_twice(scan, handover):
    index = found(scan, handover)
    unauthorised = index[("unauthorised-identity", "stella_carries_jia", None)]
    assert unauthorised.details["identities"] == [
        {"role": "author", "name": JIA.name, "email": JIA.email}
    ]
    assert (
        "Stella Steward"
        in index[("foreign-change", "stella_carries_jia", None)].message
    )


def test_authorised_email_under_another_name_is_only_a_note(scan, handover):
    assert rules_for(scan, handover, "max_other_name") == [
        ("identity-name-differs", None)
    ]


def test_signature_findings_name_the_keys(scan, handover):
    index = found(scan, handover)
    rogue = index[("signature", "stella_rogue_key", None)]
    assert handover.rogue_key.fingerprint in rogue.message
    assert handover.stella_key.fingerprint in rogue.message
    assert "verified" in rogue.message
    unsigned = index[("signature", "stella_unsigned", None)]
    assert "unsigned" in unsigned.message
    # Max's identity names no key: his unsigned commits raise no signature finding.
    assert ("signature", "max_logo", None) not in index


def test_tags_in_the_window_with_signers_and_release_list(scan, handover):
    tags = {t.name: t for t in scan.tags}
    assert set(tags) == {"v1.1.0", "v1.1.1", "v1.1.2-rc1", "v1.1.3"}
    assert tags["v1.1.0"].signature.state == SSH_VERIFIED
    assert tags["v1.1.0"].signature.fingerprint == handover.stella_key.fingerprint
    assert tags["v1.1.0"].listed_in_notice is True
    assert tags["v1.1.0"].target == handover.commits["stella_unsigned"]
    assert tags["v1.1.1"].tagger.email == JIA.email
    assert tags["v1.1.1"].signature.state == UNSIGNED
    assert tags["v1.1.1"].listed_in_notice is False
    assert tags["v1.1.2-rc1"].annotated is False
    assert tags["v1.1.3"].signature.fingerprint == handover.rogue_key.fingerprint


def test_unsigned_lightweight_and_authorised_tags(scan, handover):
    index = found(scan, handover)
    assert ("unauthorised-release", "refs/tags/v1.1.0", None) not in index
    assert ("signature", "refs/tags/v1.1.0", None) not in index
    assert ("unauthorised-release", "refs/tags/v1.1.3", None) not in index


def test_summary_names_first_and_last_commit_of_each_unauthorised_identity(
    scan, handover
):
    assert [e["email"] for e in scan.unauthorised] == [JIA.email]
    jia = scan.unauthorised[0]
    assert jia["commits"] == 7
    assert jia["roles"] == ["author", "committer"]
    assert jia["first"]["commit"] == handover.commits["jia_binary"]
    assert jia["last"]["commit"] == handover.commits["jia_feature"]


def test_signature_verification_agrees_with_git_and_ssh_keygen(handover, tmp_path):
    signers = tmp_path / "allowed_signers"
    signers.write_text(
        f"{STELLA.email} {open(f'{handover.stella_key.path}.pub').read()}"
    )
    repo = GitRepo.__new__(GitRepo)
    repo.path, repo.home = handover.path, handover.path.parent / "tinyzip-home"
    config = (f"gpg.ssh.allowedSignersFile={signers}",)
    repo.git("verify-commit", handover.commits["stella_clean"], config=config)
    with pytest.raises(AssertionError):
        repo.git("verify-commit", handover.commits["stella_rogue_key"], config=config)

    raw = (
        repo.git("cat-file", "commit", handover.commits["stella_clean"]).encode()
        + b"\n"
    )
    payload, armoured = split_commit(raw)
    assert check_signature(payload, armoured).state == SSH_VERIFIED
    tampered = payload.replace(b"Fix a typo", b"Fix a tyqo")
    result = check_signature(tampered, armoured)
    assert result.state == SSH_INVALID
    assert result.fingerprint == handover.stella_key.fingerprint

    tag = repo.git("cat-file", "tag", "v1.1.0").encode() + b"\n"
    payload, armoured = split_tag(tag)
    assert check_signature(payload, armoured).state == SSH_VERIFIED
    assert check_signature(payload + b"x", armoured).state == SSH_INVALID


def test_tampered_commit_signature_is_an_error(tmp_path):
    """A commit whose signed bytes were altered after signing (re-hashed as a new object)."""
    from tests.portal.scrutiny.gitrepo import make_ssh_key

    key = make_ssh_key(tmp_path / "keys", "k")
    repo = GitRepo(tmp_path / "r")
    oid = repo.commit(
        "Honest message",
        {"a": "1"},
        author=STELLA,
        date="2026-11-02T10:00:00+00:00",
        key=key,
    )
    raw = repo.git("cat-file", "commit", oid).encode() + b"\n"
    forged = raw.replace(b"Honest message", b"Evil message!!")
    forged_oid = repo.git("hash-object", "-t", "commit", "-w", "--stdin", stdin=forged)
    repo.git("update-ref", "refs/heads/main", forged_oid)
    assert parse_commit(forged_oid, forged).signature.state == SSH_INVALID

    path = write_notice(
        tmp_path / "n.json",
        notice_document(
            start="2026-11-01",
            end=None,
            identities=[
                {
                    "name": STELLA.name,
                    "email": STELLA.email,
                    "key_fingerprint": key.fingerprint,
                    "may": ["commit"],
                }
            ],
        ),
    )
    result = scan_repository(repo.path, load_notice_file(path))
    [finding] = result.findings
    assert finding.rule == "signature"
    assert finding.level == ERROR
    assert "does NOT verify" in finding.message


def test_openpgp_signature_reports_issuer_without_verifying(tmp_path):
    gnupg = tmp_path / "gnupg"
    gnupg.mkdir(mode=0o700)
    env = {"GNUPGHOME": str(gnupg)}
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    try:
        subprocess.run(
            ["gpg", "--batch", "--passphrase", "", "--quick-gen-key",
             f"{MAX.name} <{MAX.email}>", "ed25519", "sign", "never"],
            env={**base, **env}, check=True, capture_output=True,
        )  # fmt: skip
        listing = subprocess.run(
            ["gpg", "--batch", "--with-colons", "--list-secret-keys"],
            env={**base, **env}, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        fingerprint = next(
            line.split(":")[9]
            for line in listing.splitlines()
            if line.startswith("fpr:")
        )
        repo = GitRepo(tmp_path / "r")
        oid = repo.commit(
            "Base", {"a": "1"}, author=MAX, date="2026-11-02T10:00:00+00:00"
        )
        repo.write({"a": "2"})
        repo.git("add", "-A")
        repo.git(
            "commit", "-q", "-S", "-m", "Signed with OpenPGP",
            env={**env, **repo.identity_env(MAX, MAX, "2026-11-03T10:00:00+00:00",
                                            "2026-11-03T10:00:00+00:00")},
            config=(f"user.signingkey={fingerprint}", "gpg.program=gpg"),
        )  # fmt: skip
    finally:
        subprocess.run(
            ["gpgconf", "--kill", "gpg-agent"], env={**base, **env}, check=False
        )
    signed = repo.head()
    raw = repo.git("cat-file", "commit", signed).encode() + b"\n"
    info = parse_commit(signed, raw).signature
    assert info.state == "openpgp-unverified"
    assert info.fingerprint == fingerprint
    assert info.key_id == fingerprint[-16:]
    assert "not verified: OpenPGP" in info.describe()

    def notice_with(key):
        return parse_notice(
            write_notice(
                tmp_path / "n.json",
                notice_document(
                    start="2026-11-01",
                    end=None,
                    identities=[
                        {"name": MAX.name, "email": MAX.email, "key_fingerprint": key,
                         "may": ["commit"]}
                    ],
                ),
            ).read_bytes()
        )  # fmt: skip

    matching = scan_repository(repo.path, notice_with(fingerprint))
    assert [(f.rule, f.level, f.commit) for f in matching.findings] == [
        ("signature", WARNING, oid),  # the first commit is unsigned
        ("signature", NOTE, signed),
    ]
    other = scan_repository(repo.path, notice_with("A" * 40))
    assert [(f.rule, f.level, f.commit) for f in other.findings] == [
        ("signature", WARNING, oid),
        ("signature", ERROR, signed),
    ]


def test_open_window_reaches_until_now(handover):
    notice = load_notice_file(handover.notice_path)
    document = dict(notice.document, window={"start": "2026-12-01", "end": None})
    import json

    result = scan_repository(handover.path, parse_notice(json.dumps(document).encode()))
    assert [c.oid for c in result.commits] == [handover.commits["jia_after_window"]]
    rules = sorted((f.rule, f.path) for f in result.findings)
    assert rules == [
        ("binary-file", "tests/files/late.xz"),
        ("build-system", "configure.ac"),
        ("unauthorised-identity", None),
    ]


def test_not_a_repository_is_a_clear_error(tmp_path):
    notice = parse_notice(
        write_notice(
            tmp_path / "n.json",
            notice_document(start="2026-11-01", end=None, identities=[]),
        ).read_bytes()
    )
    with pytest.raises(GitError, match="is not a git repository"):
        scan_repository(tmp_path, notice)
    with pytest.raises(GitError, match="is not a directory"):
        scan_repository(tmp_path / "missing", notice)


@pytest.mark.parametrize(
    "path, categories",
    [
        ("configure", ["build-system"]),
        ("m4/build-to-host.m4", ["build-system"]),
        ("src/CMakeLists.txt", ["build-system"]),
        ("cmake/FindLandlock.cmake", ["build-system"]),
        ("meson_options.txt", ["build-system"]),
        ("setup.py", ["build-system"]),
        ("build.rs", ["build-system"]),
        (".github/workflows/release.yml", ["ci-fuzzing"]),
        (".gitlab-ci.yml", ["ci-fuzzing"]),
        ("fuzz/fuzz_decode.c", ["ci-fuzzing"]),
        (".github/CODEOWNERS", ["security-policy"]),
        ("MAINTAINERS", ["security-policy"]),
        (".mailmap", ["security-policy"]),
        ("src/.gitignore", ["ignore-file"]),
        (".gitattributes", ["ignore-file"]),
        ("src/main.c", []),
        ("README.md", []),
        ("tests/files/good.xz", []),
    ],
)
def test_sensitive_path_categories(path, categories):
    assert path_categories(path) == categories


@pytest.mark.parametrize(
    "pattern, hides",
    [
        ("build-to-host.m4", True),
        ("/m4/", True),
        ("**/configure", True),
        ("*.m4", True),
        ("*.o", False),
        ("*.swp", False),
        ("docs/_build/", False),
    ],
)
def test_ignore_patterns_that_hide_build_inputs(pattern, hides):
    assert pattern_hides_build_input(pattern) is hides


def test_identities_without_commit_permission_are_not_authorised_to_commit(
    handover, tmp_path
):
    document = notice_document(
        start="2026-11-01",
        end="2026-11-30",
        identities=[
            {
                "name": MAX.name,
                "email": MAX.email,
                "key_fingerprint": None,
                "may": ["release"],
            }
        ],
    )
    notice = parse_notice(write_notice(tmp_path / "n.json", document).read_bytes())
    result = scan_repository(handover.path, notice)
    flagged = {f.commit for f in result.findings if f.rule == "unauthorised-identity"}
    assert handover.commits["max_logo"] in flagged
    # Max may release: his tags are not unauthorised releases (he made none); Stella's are.
    releases = {f.ref for f in result.findings if f.rule == "unauthorised-release"}
    assert releases == {"refs/tags/v1.1.0", "refs/tags/v1.1.1", "refs/tags/v1.1.3"}
    assert {e["email"] for e in result.unauthorised} == {
        MAX.email,
        STELLA.email,
        JIA.email,
    }


def small_notice(tmp_path, **window):
    document = notice_document(
        start=window.get("start", "2026-11-01"),
        end=window.get("end"),
        identities=[
            {
                "name": MAX.name,
                "email": MAX.email,
                "key_fingerprint": None,
                "may": ["commit"],
            }
        ],
    )
    return parse_notice(write_notice(tmp_path / "n.json", document).read_bytes())


def test_empty_bare_and_linked_work_tree_repositories_are_read(tmp_path):
    notice = small_notice(tmp_path)
    empty = GitRepo(tmp_path / "empty")
    result = scan_repository(empty.path, notice)
    assert (result.commits_total, result.commits, result.findings) == (0, [], [])

    repo = GitRepo(tmp_path / "r")
    oid = repo.commit(
        "x", {"a.bin": b"\0"}, author=JIA, date="2026-11-02T10:00:00+00:00"
    )
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(repo.path), str(tmp_path / "bare.git")],
        check=True,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "GIT_CONFIG_NOSYSTEM": "1",
        },
    )
    repo.git("worktree", "add", "-q", str(tmp_path / "linked"), "-b", "other")
    for path in (repo.path, tmp_path / "bare.git", tmp_path / "linked"):
        result = scan_repository(path, notice)
        assert sorted((f.rule, f.commit) for f in result.findings) == [
            ("binary-file", oid),
            ("unauthorised-identity", oid),
        ]


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs chown"
)
def test_repository_owned_by_another_user_is_refused(tmp_path):
    repo = GitRepo(tmp_path / "r")
    repo.commit("x", {"a": "1"}, author=MAX, date="2026-11-02T10:00:00+00:00")
    os.chown(repo.path / ".git", 65534, 65534)
    with pytest.raises(GitError, match="belongs to another user"):
        scan_repository(repo.path, small_notice(tmp_path))


@pytest.mark.parametrize(
    "kind",
    [
        ("ed25519",),
        ("ecdsa", "-b", "256"),
        ("ecdsa", "-b", "384"),
        ("rsa", "-b", "2048"),
    ],
    ids=["ed25519", "ecdsa-p256", "ecdsa-p384", "rsa"],
)
def test_ssh_signatures_of_each_key_type_verify(tmp_path, kind):
    from tests.portal.scrutiny.gitrepo import make_ssh_key

    key = make_ssh_key(tmp_path / "keys", "k", kind)
    repo = GitRepo(tmp_path / "r")
    oid = repo.commit(
        "Signed", {"a": "1"}, author=MAX, date="2026-11-02T10:00:00+00:00", key=key
    )
    raw = repo.git("cat-file", "commit", oid).encode() + b"\n"
    info = parse_commit(oid, raw).signature
    assert (info.state, info.fingerprint) == (SSH_VERIFIED, key.fingerprint)
    forged = raw.replace(b"Signed", b"Signet")
    assert parse_commit(oid, forged).signature.state == SSH_INVALID
