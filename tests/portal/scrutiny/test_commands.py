"""The two management commands end to end: formats, exit codes, notices, and a hostile repo."""

import datetime

# The tests run manage.py and git from PATH with fixed arguments.
# ruff: noqa: S603, S607
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command

from portal.lib import sshsig
from portal.scrutiny.findings import RULES
from portal.scrutiny.notice_source import NoticeError, fetch_notice
from tests.portal.scrutiny.gitrepo import (
    JIA,
    MAX,
    STELLA,
    GitRepo,
    Who,
    make_ssh_key,
    notice_document,
    write_notice,
)

ROOT = Path(__file__).resolve().parents[3]


def manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )


def run_command(name: str, *args: str) -> tuple[int, str]:
    """call_command in process; returns (exit status, stdout)."""
    out = io.StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=io.StringIO())
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


# A subset of the SARIF 2.1.0 schema: the required properties and the shapes consumers read.
SARIF_SHAPE = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "$schema": {"type": "string", "format": "uri"},
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["tool"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id"],
                                            "properties": {
                                                "id": {"type": "string"},
                                                "shortDescription": {
                                                    "$ref": "#/$defs/message"
                                                },
                                                "fullDescription": {
                                                    "$ref": "#/$defs/message"
                                                },
                                                "defaultConfiguration": {
                                                    "type": "object",
                                                    "properties": {
                                                        "level": {
                                                            "$ref": "#/$defs/level"
                                                        }
                                                    },
                                                },
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message", "ruleId", "level", "locations"],
                            "properties": {
                                "ruleId": {"type": "string"},
                                "ruleIndex": {"type": "integer", "minimum": 0},
                                "level": {"$ref": "#/$defs/level"},
                                "message": {"$ref": "#/$defs/message"},
                                "partialFingerprints": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                                "properties": {"type": "object"},
                                "locations": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "required": ["artifactLocation"],
                                                "properties": {
                                                    "artifactLocation": {
                                                        "type": "object",
                                                        "required": ["uri"],
                                                        "properties": {
                                                            "uri": {"type": "string"}
                                                        },
                                                    }
                                                },
                                            },
                                            "logicalLocations": {
                                                "type": "array",
                                                "items": {
                                                    "type": "object",
                                                    "properties": {
                                                        "fullyQualifiedName": {
                                                            "type": "string"
                                                        },
                                                        "kind": {"type": "string"},
                                                    },
                                                },
                                            },
                                        },
                                        "anyOf": [
                                            {"required": ["physicalLocation"]},
                                            {"required": ["logicalLocations"]},
                                        ],
                                    },
                                },
                            },
                        },
                    },
                    "versionControlProvenance": {
                        "type": "array",
                        "items": {"type": "object", "required": ["repositoryUri"]},
                    },
                },
            },
        },
    },
    "$defs": {
        "level": {"enum": ["none", "note", "warning", "error"]},
        "message": {
            "type": "object",
            "anyOf": [{"required": ["text"]}, {"required": ["id"]}],
            "properties": {"text": {"type": "string"}},
        },
    },
}


def test_hyphenated_tarball_command_is_found_by_django():
    from django.core.management import get_commands

    commands = get_commands()
    assert commands["scrutinize"] == "portal.scrutiny"
    assert commands["scrutinize-tarball"] == "portal.scrutiny"


def test_text_report_lists_findings_summary_and_unauthorised_identities(handover):
    status, out = run_command(
        "scrutinize", str(handover.path), "--notice-file", str(handover.notice_path)
    )
    assert status == 1
    assert "Commits on all refs: 20; in the window: 17; tags in the window: 4" in out
    assert "[error] unauthorised-identity" in out
    assert (
        "adds binary file tests/files/bad-3-corrupt_lzma2.xz under a test directory"
        in out
    )
    assert f"{JIA.email} (Jia Newcomer) as author and committer: 7 commit(s)" in out
    assert f"first {handover.commits['jia_binary'][:12]}" in out
    assert f"last  {handover.commits['jia_feature'][:12]}" in out
    assert "Result: FLAGGED" in out


def test_json_report_carries_findings_commits_tags_and_summary(handover):
    status, out = run_command(
        "scrutinize",
        str(handover.path),
        "--notice-file",
        str(handover.notice_path),
        "--format",
        "json",
    )
    assert status == 1
    data = json.loads(out)
    assert data["notice"] == "HN-2026-0007"
    assert data["window"] == {"start": "2026-11-01", "end": "2026-11-30"}
    assert data["commits_scanned"] == 20
    assert data["commits_in_window"] == 17
    assert data["summary"]["by_rule"]["unauthorised-identity"] == 7
    assert data["summary"]["by_level"] == {"error": 14, "warning": 12, "note": 4}
    assert data["summary"]["flagged"] is True
    assert data["summary"]["signatures"] == {"ssh-verified": 4, "unsigned": 13}
    [jia] = data["summary"]["unauthorised_identities"]
    assert jia["first"] == {
        "commit": handover.commits["jia_binary"],
        "date": "2026-11-03T10:00:00Z",
        "subject": "Add test files for corrupt streams",
    }
    clean = next(
        c for c in data["commits"] if c["commit"] == handover.commits["stella_clean"]
    )
    assert clean["signature"]["fingerprint"] == handover.stella_key.fingerprint
    assert clean["signature"]["state"] == "ssh-verified"
    assert {t["name"] for t in data["tags"]} == {
        "v1.1.0",
        "v1.1.1",
        "v1.1.2-rc1",
        "v1.1.3",
    }
    assert [f["level"] for f in data["findings"]] == sorted(
        (f["level"] for f in data["findings"]), key=["error", "warning", "note"].index
    )


def test_sarif_report_has_the_required_shape(handover, tmp_path):
    target = tmp_path / "scan.sarif"
    status, out = run_command(
        "scrutinize",
        str(handover.path),
        "--notice-file",
        str(handover.notice_path),
        "--format",
        "sarif",
        "--output",
        str(target),
    )
    assert status == 1
    assert out == ""
    log = json.loads(target.read_text())
    jsonschema.validate(log, SARIF_SHAPE)
    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(RULES)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    assert len(run["results"]) == 30
    binary = next(
        r
        for r in run["results"]
        if r["ruleId"] == "binary-file" and r["level"] == "error"
    )
    assert binary["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "tests/files/bad-3-corrupt_lzma2.xz"
    )
    assert binary["properties"]["commit"] == handover.commits["jia_binary"]
    fingerprints = [
        r["partialFingerprints"]["steadyFinding/v1"] for r in run["results"]
    ]
    assert len(set(fingerprints)) == len(fingerprints)
    assert run["versionControlProvenance"] == [
        {"repositoryUri": "https://github.com/example/tinyzip"}
    ]


def test_a_broken_sarif_log_fails_the_shape_check():
    broken = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "a", "level": "fatal", "message": {"text": "m"}, "locations": [{}]}]}]}  # fmt: skip
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SARIF_SHAPE)


def test_exit_codes_from_the_command_line(handover, tmp_path):
    clean_notice = write_notice(
        tmp_path / "clean.json",
        notice_document(start="2027-01-01", end="2027-02-01", identities=[]),
    )
    clean = manage("scrutinize", str(handover.path), "--notice-file", str(clean_notice))
    assert clean.returncode == 0, clean.stderr
    assert "No findings." in clean.stdout
    assert "Result: nothing flagged." in clean.stdout

    flagged = manage(
        "scrutinize", str(handover.path), "--notice-file", str(handover.notice_path)
    )
    assert flagged.returncode == 1
    assert "Result: FLAGGED" in flagged.stdout

    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "steady-notice/1",\n "id": }')
    broken = manage("scrutinize", str(handover.path), "--notice-file", str(bad))
    assert broken.returncode == 2
    assert "not JSON (line 2, column 8" in broken.stderr
    assert "Traceback" not in broken.stderr

    usage = manage("scrutinize", str(handover.path))
    assert usage.returncode == 2
    assert "one of the arguments --notice --notice-file is required" in usage.stderr

    with pytest.raises(CommandError, match="is not a git repository") as raised:
        call_command(
            "scrutinize", str(tmp_path), "--notice-file", str(handover.notice_path)
        )
    assert raised.value.returncode == 2
    with pytest.raises(CommandError, match="No such file") as raised:
        call_command(
            "scrutinize-tarball",
            str(tmp_path / "nope.tar"),
            str(handover.path),
            "--tag",
            "v1.1.0",
        )
    assert raised.value.returncode == 2


@pytest.mark.parametrize(
    "document, message",
    [
        ({"format": "other"}, "field 'format' must be 'steady-notice/1'"),
        ([], "must be a JSON object"),
        (
            {"window": {"start": "2026-13-01", "end": None}},
            "'window.start' must be a date",
        ),
        (
            {"window": {"start": "2026-11-02", "end": "2026-11-01"}},
            "'window.end' is before",
        ),
        (
            {"authorized_identities": [{"name": "x", "email": "nobody"}]},
            "authorized_identities[0].email",
        ),
        (
            {"authorized_identities": [{"email": "a@b", "may": "commit"}]},
            "authorized_identities[0].may",
        ),
        ({"id": "HN-26-1"}, "field 'id' must look like"),
        (
            {"releases": [{"date": "2026-11-01"}]},
            "'releases[0]' needs a string 'version'",
        ),
    ],
)
def test_bad_notice_files_get_a_message_naming_the_field(
    handover, tmp_path, document, message
):
    base = notice_document(start="2026-11-01", end=None, identities=[])
    body = document if isinstance(document, list) else {**base, **document}
    path = tmp_path / "notice.json"
    path.write_text(json.dumps(body))
    with pytest.raises(CommandError) as raised:
        call_command("scrutinize", str(handover.path), "--notice-file", str(path))
    assert message in str(raised.value)
    assert raised.value.returncode == 2


def test_tarball_command_formats_and_exit_codes(handover, tmp_path):
    archive = subprocess.run(
        ["git", "archive", "--format=tar.gz", "--prefix=tinyzip-1.1.0/", "v1.1.0"],
        cwd=handover.path,
        capture_output=True,
        check=True,
        env={
            "PATH": "/usr/bin:/bin",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": "/nonexistent",
        },
    ).stdout
    clean = tmp_path / "clean.tar.gz"
    clean.write_bytes(archive)
    status, out = run_command(
        "scrutinize-tarball", str(clean), str(handover.path), "--tag", "v1.1.0"
    )
    assert status == 0
    assert "Result: nothing flagged." in out

    injected = tmp_path / "injected.tar.gz"
    with (
        tarfile.open(fileobj=io.BytesIO(archive)) as source,
        tarfile.open(injected, "w:gz") as target,
    ):
        for info in source.getmembers():
            target.addfile(info, source.extractfile(info) if info.isreg() else None)
        extra = tarfile.TarInfo("tinyzip-1.1.0/m4/build-to-host.m4")
        payload = b"AC_DEFUN([gl_BUILD_TO_HOST], [eval])\n"
        extra.size = len(payload)
        target.addfile(extra, io.BytesIO(payload))
    status, out = run_command(
        "scrutinize-tarball",
        str(injected),
        str(handover.path),
        "--tag",
        "v1.1.0",
        "--format",
        "json",
    )
    assert status == 1
    data = json.loads(out)
    assert [(f["rule"], f["path"]) for f in data["findings"]] == [
        ("tarball-extra-file", "m4/build-to-host.m4")
    ]
    assert data["top_level_directory"] == "tinyzip-1.1.0"

    status, out = run_command(
        "scrutinize-tarball",
        str(injected),
        str(handover.path),
        "--tag",
        "v1.1.0",
        "--format",
        "sarif",
    )
    log = json.loads(out)
    jsonschema.validate(log, SARIF_SHAPE)
    [result] = log["runs"][0]["results"]
    assert result["ruleId"] == "tarball-extra-file"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "m4/build-to-host.m4"
    )


class _NoticeHandler(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self):  # noqa: N802 - http.server's hook name
        body = self.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        if body is not None:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


def _signed_portal_files(body: bytes, *, sign_body: bytes | None = None) -> dict:
    """What a portal serves for HN-2026-0007: the bytes, their signature, the allowed signers."""
    key = Ed25519PrivateKey.generate()
    foundation = sshsig.FoundationKey(
        key, datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    )
    signature = sshsig.sign(key, sign_body or body, sshsig.NOTICE_NAMESPACE)
    path = "/notices/HN-2026-0007/revisions/latest.json"
    return {
        path: body,
        f"{path}.sig": signature.encode(),
        "/.well-known/steady/allowed_signers": sshsig.allowed_signers(
            "notices@steady.test", [foundation]
        ).encode(),
    }


@pytest.fixture
def notice_server(handover):
    _NoticeHandler.files = _signed_portal_files(handover.notice_path.read_bytes())
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoticeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_notice_whose_signature_does_not_verify_is_refused(handover, notice_server):
    body = handover.notice_path.read_bytes()
    _NoticeHandler.files = _signed_portal_files(
        body.replace(b"HN-2026-0007", b"HN-2026-0007 "), sign_body=b"something else"
    )
    _NoticeHandler.files["/notices/HN-2026-0007/revisions/latest.json"] = body
    with pytest.raises(NoticeError, match="signature does not verify"):
        fetch_notice("HN-2026-0007", notice_server)


def test_notice_fetched_from_the_portal_over_http(handover, notice_server):
    notice = fetch_notice("HN-2026-0007", notice_server)
    assert notice.id == "HN-2026-0007"
    assert notice.window_end.isoformat() == "2026-11-30"
    with pytest.raises(NoticeError, match="has no notice HN-2026-0008"):
        fetch_notice("HN-2026-0008", notice_server)
    with pytest.raises(NoticeError, match="not a notice id"):
        fetch_notice("../admin", notice_server)
    with pytest.raises(NoticeError, match="http:// or https://"):
        fetch_notice("HN-2026-0007", "file:///etc")

    status, out = run_command(
        "scrutinize",
        str(handover.path),
        "--notice",
        "HN-2026-0007",
        "--portal",
        notice_server,
        "--format",
        "json",
    )
    assert status == 1
    assert json.loads(out)["commits_in_window"] == 17


def test_unreachable_portal_is_an_input_error(handover):
    with pytest.raises(CommandError, match="Cannot fetch") as raised:
        call_command(
            "scrutinize",
            str(handover.path),
            "--notice",
            "HN-2026-0007",
            "--portal",
            "http://127.0.0.1:9",
        )
    assert raised.value.returncode == 2


HOSTILE_HOOKS = (
    "pre-commit", "post-commit", "post-checkout", "post-merge", "pre-push",
    "reference-transaction", "post-index-change", "post-rewrite", "pre-auto-gc",
)  # fmt: skip


def plant_hostile_config(repo: GitRepo, script: Path) -> None:
    hooks = repo.path / "evil-hooks"
    hooks.mkdir()
    for hook in HOSTILE_HOOKS:
        (hooks / hook).symlink_to(script)
    (repo.path / ".git" / "hooks" / "post-checkout").symlink_to(script)
    s = str(script)
    with (repo.path / ".git" / "config").open("a") as config:
        config.write(
            f"[core]\n\tfsmonitor = {s}\n\tpager = {s}\n\thooksPath = {hooks}\n"
            f"\tsshCommand = {s}\n\talternateRefsCommand = {s}\n"
            f"[diff]\n\texternal = {s}\n"
            f'[diff "evil"]\n\ttextconv = {s}\n\tcommand = {s}\n'
            f'[filter "evil"]\n\tclean = {s}\n\tsmudge = {s}\n\tprocess = {s}\n\trequired = true\n'
            f"[gpg]\n\tprogram = {s}\n"
            f'[gpg "ssh"]\n\tprogram = {s}\n'
            f"[log]\n\tshowSignature = true\n"
            f"[uploadpack]\n\tpackObjectsHook = {s}\n"
            f"[pager]\n\tlog = {s}\n\tdiff = {s}\n"
        )


def test_scan_never_runs_anything_from_the_repository(tmp_path):
    marker = tmp_path / "MARKER"
    script = tmp_path / "hostile.sh"
    script.write_text(f'#!/bin/sh\necho "$0 $*" >> {marker}\nexec cat\n')
    script.chmod(0o755)

    key = make_ssh_key(tmp_path / "keys", "k")
    repo = GitRepo(tmp_path / "hostile")
    start = repo.commit(
        "Start",
        {"src/a.c": "int a;\n", "tests/blob.bin": b"\x00\x01\x02"},
        author=MAX,
        date="2026-11-02T10:00:00+00:00",
        key=key,
    )
    repo.commit(
        "Attributes that route every diff and checkout through a program",
        {".gitattributes": "* diff=evil filter=evil\n", "configure.ac": "AC_INIT\n"},
        author=JIA,
        date="2026-11-03T10:00:00+00:00",
    )
    bad = repo.commit(
        "Change under the filter",
        {
            "src/a.c": "int a = 1;\n",
            "tests/blob.bin": b"\x00\x01\x03",
            "configure.ac": "AC_INIT.\n",
        },
        author=JIA,
        date="2026-11-04T10:00:00+00:00",
        key=key,
    )
    repo.tag("v1", tagger=JIA, date="2026-11-05T10:00:00+00:00", key=key)
    # The release tarball is made before any of the tricks below.
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "--prefix=p/", "v1"],
        cwd=repo.path,
        capture_output=True,
        check=True,
        env={
            "PATH": "/usr/bin:/bin",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": "/nonexistent",
        },
    ).stdout
    # The mailmap would rename Jia to Stella, a replace ref would swap the commit for a clean one.
    clean = repo.commit(
        "Mailmap",
        {".mailmap": f"{STELLA.name} <{STELLA.email}> <{JIA.email}>\n"},
        author=MAX,
        date="2026-11-06T10:00:00+00:00",
    )
    repo.git("replace", bad, clean)
    plant_hostile_config(repo, script)

    notice = write_notice(
        tmp_path / "n.json",
        notice_document(
            start="2026-11-01",
            end=None,
            identities=[
                {
                    "name": MAX.name,
                    "email": MAX.email,
                    "key_fingerprint": key.fingerprint,
                    "may": ["commit", "release"],
                },
                {
                    "name": STELLA.name,
                    "email": STELLA.email,
                    "key_fingerprint": None,
                    "may": ["commit", "release"],
                },
            ],
        ),
    )
    result = manage(
        "scrutinize", str(repo.path), "--notice-file", str(notice), "--format", "json"
    )
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert not marker.exists(), marker.read_text()

    jia_commits = {
        f["commit"] for f in findings if f["rule"] == "unauthorised-identity"
    }
    assert bad in jia_commits  # neither the mailmap nor the replace ref hid it
    assert ("binary-file", "tests/blob.bin") in {
        (f["rule"], f["path"]) for f in findings
    }

    (tmp_path / "p.tar").write_bytes(archive)
    tarball = manage(
        "scrutinize-tarball", str(tmp_path / "p.tar"), str(repo.path), "--tag", "v1"
    )
    assert tarball.returncode == 0, tarball.stdout + tarball.stderr
    assert not marker.exists()

    # Control: the planted configuration is live, so its absence above means something.
    subprocess.run(
        ["git", "diff", start, bad],
        cwd=repo.path,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "GIT_CONFIG_NOSYSTEM": "1",
        },
        capture_output=True,
        check=False,
    )
    assert marker.exists()


def test_text_report_escapes_terminal_control_sequences(tmp_path):
    repo = GitRepo(tmp_path / "r")
    hostile = Who("Jia\x1b[2J\x1b[H", "jia@example.net")
    repo.commit(
        "Harmless\x1b[8m hidden \u202eevil",
        {"a": "1"},
        author=hostile,
        date="2026-11-02T10:00:00+00:00",
    )
    notice = write_notice(
        tmp_path / "n.json",
        notice_document(start="2026-11-01", end=None, identities=[]),
    )
    status, out = run_command(
        "scrutinize", str(repo.path), "--notice-file", str(notice)
    )
    assert status == 1
    assert "\x1b" not in out and "\u202e" not in out
    assert "Jia\\u001b[2J\\u001b[H" in out
    assert "Harmless\\u001b[8m hidden \\u202eevil" in out


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_paths_that_are_not_utf8_are_reported_not_crashed_on(tmp_path, fmt):
    repo = GitRepo(tmp_path / "r")
    (repo.path / "tests").mkdir()
    (repo.path / "tests").joinpath(os.fsdecode(b"blob-\xff.bin")).write_bytes(b"\0\1")
    repo.commit("Odd name", {}, author=JIA, date="2026-11-02T10:00:00+00:00")
    notice = write_notice(
        tmp_path / "n.json",
        notice_document(start="2026-11-01", end=None, identities=[]),
    )
    status, out = run_command(
        "scrutinize", str(repo.path), "--notice-file", str(notice), "--format", fmt
    )
    assert status == 1
    out.encode("utf-8")  # valid UTF-8 throughout
    if fmt == "sarif":
        uris = [
            loc["physicalLocation"]["artifactLocation"]["uri"]
            for r in json.loads(out)["runs"][0]["results"]
            for loc in r["locations"]
            if "physicalLocation" in loc
        ]
        assert uris == ["tests/blob-%FF.bin"]
    else:
        assert "blob-\\udcff.bin" in out


def test_corrupt_compressed_tarball_is_an_input_error(handover, tmp_path):
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "--prefix=p/", "v1.1.0"],
        cwd=handover.path,
        capture_output=True,
        check=True,
        env={
            "PATH": "/usr/bin:/bin",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": "/nonexistent",
        },
    ).stdout
    import lzma

    packed = bytearray(lzma.compress(archive))
    packed[len(packed) // 2] ^= 0xFF
    broken = tmp_path / "broken.tar.xz"
    broken.write_bytes(bytes(packed))
    with pytest.raises(CommandError, match="not a readable tarball") as raised:
        call_command(
            "scrutinize-tarball", str(broken), str(handover.path), "--tag", "v1.1.0"
        )
    assert raised.value.returncode == 2
