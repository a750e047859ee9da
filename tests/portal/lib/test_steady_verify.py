"""The standalone verifier downstream users run, against data built by our own signing and log
code, the real ssh-keygen, and (end to end) a small HTTP server on 127.0.0.1."""

import ast
import base64
import importlib.util
import json
import shutil
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portal.lib import merkle, sshsig
from portal.lib.canonical import canonical_bytes
from portal.lib.checkpoint import Checkpoint, checkpoint_json, sign_checkpoint

SCRIPT = Path(__file__).resolve().parents[3] / "static" / "tools" / "steady_verify.py"
SSH_KEYGEN = shutil.which("ssh-keygen")
pytestmark = pytest.mark.skipif(SSH_KEYGEN is None, reason="needs OpenSSH ssh-keygen")

IDENTITY = "notices@steady.example.org"
ORIGIN = "steady.test/notices-log"
NOW = datetime.now(UTC).replace(microsecond=0)


def _load_script():
    spec = importlib.util.spec_from_file_location("steady_verify", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sv = _load_script()


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _document(notice_id: str, revision: int, modified: datetime, **changes) -> dict:
    document = {
        "format": "steady-notice/1",
        "id": notice_id,
        "revision": revision,
        "kind": "initial" if revision == 1 else "amendment",
        "status": "active",
        "published": _rfc3339(modified),
        "modified": _rfc3339(modified),
        "effective": _rfc3339(modified),
        "project": {
            "name": "tinyzip",
            "ecosystem": "pypi",
            "repository": "https://github.com/tinyzip/tinyzip",
            "purls": ["pkg:pypi/tinyzip"],
        },
        "window": {"start": "2026-11-01", "end": None},
        "scope": ["triage", "release"],
        "stewards": [],
        "authorized_identities": [],
        "release_channels": [],
        "releases": [],
        "guidance": "Check releases from Stella only — ✓",
        "references": [],
        "statement": "",
        "handover_report": None,
        "consent": "maintainer",
    }
    return document | changes


def _key(
    valid_after=NOW - timedelta(days=365), valid_before=None
) -> sshsig.FoundationKey:
    return sshsig.FoundationKey(Ed25519PrivateKey.generate(), valid_after, valid_before)


class FakePortal:
    """Serves what the real portal will serve, built with portal.lib; tests then tamper."""

    def __init__(self, key: sshsig.FoundationKey, *, listed_keys=None):
        self.key = key
        self.listed_keys = listed_keys or [key]
        self.revisions: dict[tuple[str, int], tuple[bytes, str]] = {}
        self.log: list[bytes] = []
        self.checkpoint_key = key
        self.checkpoint_namespace = sshsig.CHECKPOINT_NAMESPACE
        self.overrides: dict[str, bytes] = {}
        self.tamper_checkpoint = None
        self.served_size: int | None = None

    def publish(self, document: dict, *, signing_key=None, log=True) -> bytes:
        data = canonical_bytes(document)
        key = signing_key or self.key
        signature = sshsig.sign(key.private_key, data, sshsig.NOTICE_NAMESPACE)
        self.revisions[(document["id"], document["revision"])] = (data, signature)
        if log:
            self.log.append(data)
        return data

    def rewrite_log_entry(self, index: int, data: bytes) -> None:
        self.log[index] = data

    # --- endpoints -----------------------------------------------------------------------------

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, bytes]:
        if path in self.overrides:
            return 200, self.overrides[path]
        if path == "/.well-known/steady/allowed_signers":
            return 200, sshsig.allowed_signers(IDENTITY, self.listed_keys).encode()
        if path.startswith("/notices/"):
            return self._revision(path)
        leaf_hashes = [merkle.leaf_hash(entry) for entry in self.log]
        if path == "/api/v1/log/checkpoint":
            return 200, json.dumps(self._checkpoint_body(leaf_hashes)).encode()
        if path == "/api/v1/log/proof/inclusion":
            return self._inclusion(leaf_hashes, query)
        if path == "/api/v1/log/proof/consistency":
            first, second = int(query["first"]), int(query["second"])
            proof = merkle.consistency_proof(first, leaf_hashes[:second])
            body = {"first": first, "second": second, "proof": _b64(proof)}
            return 200, json.dumps(body).encode()
        return 404, b"not found"

    def _revision(self, path: str) -> tuple[int, bytes]:
        _, _, notice_id, _, name = path.split("/", 4)
        if name == "latest.json":
            numbers = [n for (i, n) in self.revisions if i == notice_id]
            if not numbers:
                return 404, b"no such notice"
            name = f"{max(numbers)}.json"
        number_text, _, suffix = name.partition(".")
        found = self.revisions.get((notice_id, int(number_text)))
        if found is None:
            return 404, b"no such revision"
        return 200, found[0] if suffix == "json" else found[1].encode()

    def _checkpoint_body(self, leaf_hashes: list[bytes]) -> dict:
        size = len(leaf_hashes) if self.served_size is None else self.served_size
        checkpoint = Checkpoint(ORIGIN, size, merkle.root(leaf_hashes[:size]), NOW)
        if self.checkpoint_namespace == sshsig.CHECKPOINT_NAMESPACE:
            signature = sign_checkpoint(self.checkpoint_key.private_key, checkpoint)
        else:
            signature = sshsig.sign(
                self.checkpoint_key.private_key,
                checkpoint_json(checkpoint, "")["checkpoint"].encode(),
                self.checkpoint_namespace,
            )
        body = checkpoint_json(checkpoint, signature)
        if self.tamper_checkpoint:
            self.tamper_checkpoint(body)
        return body

    def _inclusion(self, leaf_hashes, query) -> tuple[int, bytes]:
        size = int(query["tree_size"])
        found = self.revisions.get((query["notice"], int(query["revision"])))
        wanted = merkle.leaf_hash(found[0]) if found else None
        if wanted not in leaf_hashes[:size]:
            return 404, b"not in the log"
        index = leaf_hashes.index(wanted)
        body = {
            "index": index,
            "tree_size": size,
            "leaf_hash": base64.b64encode(wanted).decode(),
            "audit_path": _b64(merkle.inclusion_proof(index, leaf_hashes[:size])),
        }
        return 200, json.dumps(body).encode()


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


@pytest.fixture
def portal():
    fake = FakePortal(_key())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server hook name
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            status, body = fake.answer(parts.path, query)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    fake.publish(_document("HN-2026-0001", 1, NOW - timedelta(days=20)))
    fake.publish(_document("HN-2026-0007", 1, NOW - timedelta(days=10)))
    fake.publish(
        _document("HN-2026-0007", 2, NOW - timedelta(days=2), statement="more")
    )
    yield fake
    server.shutdown()
    server.server_close()


def _python() -> str:
    # The system interpreter, not the project's virtualenv: the script must need nothing but
    # the standard library.
    return "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable


def run(
    portal: FakePortal, *args: str, state: Path | None
) -> subprocess.CompletedProcess:
    command = [_python(), "-I", str(SCRIPT), "--portal", portal.url, *args]
    command += ["--state", str(state)] if state else ["--no-state"]
    return subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, timeout=60, check=False
    )


# --- end to end ------------------------------------------------------------------------------------


def test_latest_revision_verifies_and_the_checkpoint_is_remembered(portal, tmp_path):
    state = tmp_path / "state.json"
    result = run(portal, "HN-2026-0007", state=state)
    assert result.returncode == 0, result.stderr
    assert "notice HN-2026-0007 revision 2" in result.stdout
    assert "in the log at index 2 of 3" in result.stdout
    assert "verified: HN-2026-0007" in result.stdout
    saved = json.loads(state.read_text())["logs"][portal.url]
    assert saved["tree_size"] == 3


def test_an_earlier_revision_verifies(portal):
    result = run(portal, "HN-2026-0007", "--revision", "1", state=None)
    assert result.returncode == 0, result.stderr
    assert "in the log at index 1 of 3" in result.stdout


def test_a_grown_log_is_proven_consistent_with_the_remembered_checkpoint(
    portal, tmp_path
):
    state = tmp_path / "state.json"
    assert run(portal, "HN-2026-0001", state=state).returncode == 0
    for number in range(3, 9):
        portal.publish(_document("HN-2026-0007", number, NOW - timedelta(hours=number)))
    result = run(portal, "HN-2026-0007", state=state)
    assert result.returncode == 0, result.stderr
    assert "the log only grew: size 3" in result.stdout
    assert json.loads(state.read_text())["logs"][portal.url]["tree_size"] == 9


def test_a_rewritten_log_is_caught_by_the_consistency_check(portal, tmp_path):
    state = tmp_path / "state.json"
    assert run(portal, "HN-2026-0007", state=state).returncode == 0
    # The operator quietly replaces an old entry and re-signs a fresh checkpoint.
    portal.rewrite_log_entry(0, canonical_bytes(_document("HN-2026-0001", 1, NOW)))
    portal.publish(_document("HN-2026-0007", 3, NOW - timedelta(hours=1)))
    before = state.read_text()
    result = run(portal, "HN-2026-0007", state=state)
    assert result.returncode == 1
    assert "is not an extension of the log of size 3" in result.stderr
    assert state.read_text() == before


def test_an_older_checkpoint_must_still_be_a_prefix_and_is_not_remembered(
    portal, tmp_path
):
    state = tmp_path / "state.json"
    assert run(portal, "HN-2026-0001", state=state).returncode == 0
    portal.served_size = 2
    result = run(portal, "HN-2026-0001", state=state)
    assert result.returncode == 0, result.stderr
    assert (
        "served an older checkpoint (size 2); it is a prefix of size 3" in result.stdout
    )
    assert json.loads(state.read_text())["logs"][portal.url]["tree_size"] == 3
    # An older checkpoint that is not a prefix of the remembered one is a rewritten log.
    portal.rewrite_log_entry(1, canonical_bytes(_document("HN-2026-0007", 1, NOW)))
    result = run(portal, "HN-2026-0001", state=state)
    assert result.returncode == 1
    assert "is not an extension of the log of size 2" in result.stderr


def test_a_changed_byte_in_the_notice_fails_the_signature(portal):
    data, _ = portal.revisions[("HN-2026-0007", 2)]
    portal.overrides["/notices/HN-2026-0007/revisions/latest.json"] = data.replace(
        b"Stella", b"Mallet"
    )
    result = run(portal, "HN-2026-0007", state=None)
    assert result.returncode == 1
    assert "FAILED: ssh-keygen rejected the steady-notice signature" in result.stderr


def test_non_canonical_bytes_are_refused(portal):
    data, _ = portal.revisions[("HN-2026-0007", 2)]
    portal.overrides["/notices/HN-2026-0007/revisions/2.json"] = data + b"\n"
    result = run(portal, "HN-2026-0007", "--revision", "2", state=None)
    assert result.returncode == 1
    assert "not in canonical form" in result.stderr


def test_a_genuine_signature_for_another_notice_is_refused(portal):
    data, signature = portal.revisions[("HN-2026-0001", 1)]
    portal.overrides["/notices/HN-2026-0007/revisions/1.json"] = data
    portal.overrides["/notices/HN-2026-0007/revisions/1.json.sig"] = signature.encode()
    result = run(portal, "HN-2026-0007", "--revision", "1", state=None)
    assert result.returncode == 1
    assert "asked for HN-2026-0007 but got 'HN-2026-0001'" in result.stderr


def test_a_signature_by_a_key_not_in_allowed_signers_fails(portal):
    portal.publish(
        _document("HN-2026-0009", 1, NOW - timedelta(days=1)), signing_key=_key()
    )
    result = run(portal, "HN-2026-0009", state=None)
    assert result.returncode == 1
    assert "rejected the steady-notice signature" in result.stderr


def test_a_revision_missing_from_the_log_fails(portal):
    portal.publish(_document("HN-2026-0009", 1, NOW - timedelta(days=1)), log=False)
    result = run(portal, "HN-2026-0009", state=None)
    assert result.returncode == 1
    assert "the log has no entry for HN-2026-0009 revision 1" in result.stderr


def test_a_checkpoint_whose_json_disagrees_with_its_signed_text_fails(portal):
    portal.tamper_checkpoint = lambda body: body.update(tree_size=99)
    result = run(portal, "HN-2026-0007", state=None)
    assert result.returncode == 1
    assert "tree_size differs from its signed text" in result.stderr


def test_a_checkpoint_signed_in_the_notice_namespace_fails(portal):
    portal.checkpoint_namespace = sshsig.NOTICE_NAMESPACE
    result = run(portal, "HN-2026-0007", state=None)
    assert result.returncode == 1
    assert "rejected the steady-checkpoint signature" in result.stderr


def test_a_checkpoint_signed_by_an_unlisted_key_fails(portal):
    portal.checkpoint_key = _key()
    result = run(portal, "HN-2026-0007", state=None)
    assert result.returncode == 1
    assert "rejected the steady-checkpoint signature" in result.stderr


def test_a_notice_signed_by_a_retired_key_verifies_at_its_publication_time(portal):
    retired = _key(NOW - timedelta(days=700), NOW - timedelta(days=100))
    portal.listed_keys = [portal.key, retired]
    portal.publish(
        _document("HN-2025-0003", 1, NOW - timedelta(days=200)), signing_key=retired
    )
    assert run(portal, "HN-2025-0003", state=None).returncode == 0
    # The same retired key signing something dated after its retirement is refused.
    portal.publish(
        _document("HN-2025-0003", 2, NOW - timedelta(days=1)), signing_key=retired
    )
    result = run(portal, "HN-2025-0003", state=None)
    assert result.returncode == 1
    assert "rejected the steady-notice signature" in result.stderr


def test_a_pinned_allowed_signers_file_overrides_the_portal(portal, tmp_path):
    pinned = tmp_path / "allowed_signers"
    pinned.write_text(sshsig.allowed_signers(IDENTITY, [_key()]))
    result = run(portal, "HN-2026-0007", "--allowed-signers", str(pinned), state=None)
    assert result.returncode == 1
    pinned.write_text(sshsig.allowed_signers(IDENTITY, [portal.key]))
    result = run(portal, "HN-2026-0007", "--allowed-signers", str(pinned), state=None)
    assert result.returncode == 0, result.stderr


def test_an_unreachable_portal_is_a_network_error(portal, tmp_path):
    portal.url = "http://127.0.0.1:9"
    result = run(portal, "HN-2026-0007", state=tmp_path / "state.json")
    assert result.returncode == 2
    assert "error:" in result.stderr
    assert not (tmp_path / "state.json").exists()


def test_an_unknown_notice_is_a_fetch_error(portal):
    result = run(portal, "HN-2026-0404", state=None)
    assert result.returncode == 2
    assert "HTTP 404" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["not-an-id"],
        ["HN-2026-0007", "--revision", "0"],
        ["HN-2026-0007", "--revision", "x"],
    ],
)
def test_bad_usage_exits_2(portal, args):
    result = run(portal, *args, state=None)
    assert result.returncode == 2


def test_a_corrupt_state_file_is_an_error_not_a_fresh_start(portal, tmp_path):
    state = tmp_path / "state.json"
    state.write_text("{not json")
    result = run(portal, "HN-2026-0007", state=state)
    assert result.returncode == 2
    assert "cannot read the state file" in result.stderr


# --- the checks one by one ------------------------------------------------------------------------


def test_the_script_imports_only_the_standard_library():
    tree = ast.parse(SCRIPT.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) == set()


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 13, 32, 33])
def test_script_merkle_checks_agree_with_the_portal_log(size):
    leaves = [merkle.leaf_hash(f"{i}".encode()) for i in range(size)]
    tree_root = merkle.root(leaves)
    for index in range(size):
        proof = merkle.inclusion_proof(index, leaves)
        assert sv.verify_inclusion(index, size, leaves[index], proof, tree_root)
        assert not sv.verify_inclusion(index, size, leaves[index], proof, bytes(32))
    for first in range(1, size + 1):
        proof = merkle.consistency_proof(first, leaves)
        first_root = merkle.root(leaves[:first])
        assert sv.verify_consistency(first, size, first_root, tree_root, proof)
        if first < size:
            assert not sv.verify_consistency(first, size, tree_root, first_root, proof)


def test_script_leaf_hash_is_the_rfc6962_leaf_hash():
    assert sv.leaf_hash(b"") == bytes.fromhex(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


def test_script_accepts_canonical_bytes_and_refuses_others():
    document = _document("HN-2026-0007", 1, NOW)
    assert sv.parse_canonical(canonical_bytes(document)) == document
    for bad in (
        json.dumps(document).encode(),
        canonical_bytes(document) + b"\n",
        b'{"a":1.5}',
        b'{"a":1,"a":1}',
        b"\xff",
        b"[]",
    ):
        with pytest.raises(sv.CheckFailed):
            sv.parse_canonical(bad)


def test_script_ssh_verify_uses_the_real_ssh_keygen():
    key = _key()
    data = canonical_bytes(_document("HN-2026-0007", 1, NOW))
    allowed = sshsig.allowed_signers(IDENTITY, [key])
    signature = sshsig.sign(key.private_key, data, sshsig.NOTICE_NAMESPACE)
    report = sv.ssh_verify(
        SSH_KEYGEN, allowed, IDENTITY, "steady-notice", signature, data
    )
    assert key.fingerprint in report
    with pytest.raises(sv.CheckFailed, match="rejected the steady-notice signature"):
        sv.ssh_verify(
            SSH_KEYGEN,
            allowed,
            IDENTITY,
            "steady-notice",
            signature,
            data.replace(b"tinyzip", b"tinyzap"),
        )
    with pytest.raises(sv.CheckFailed, match="steady-checkpoint"):
        sv.ssh_verify(
            SSH_KEYGEN, allowed, IDENTITY, "steady-checkpoint", signature, data
        )


def test_script_reads_the_signer_identity_from_the_first_line():
    allowed = sshsig.allowed_signers(IDENTITY, [_key(), _key()])
    assert sv.signer_identity(allowed) == IDENTITY
    with pytest.raises(sv.CheckFailed, match="empty"):
        sv.signer_identity("")


def test_script_ssh_time_matches_the_allowed_signers_form():
    assert sv.ssh_time("2026-11-20T14:02:11Z") == "20261120140211Z"
    with pytest.raises(sv.CheckFailed, match="not RFC 3339 UTC"):
        sv.ssh_time("2026-11-20T14:02:11+01:00")
    with pytest.raises(sv.CheckFailed, match="not RFC 3339 UTC"):
        sv.ssh_time(None)


def test_script_checkpoint_parser_agrees_with_the_portal_format():
    root = merkle.root([merkle.leaf_hash(b"x")])
    checkpoint = Checkpoint(ORIGIN, 1, root, NOW)
    body = checkpoint_json(checkpoint, "sig")
    parsed = sv.check_checkpoint_body(body)
    assert parsed == {
        "origin": ORIGIN,
        "tree_size": 1,
        "root_hash": root,
        "timestamp": _rfc3339(NOW),
    }
    for field, value in (("root_hash", base64.b64encode(bytes(32)).decode()),):
        with pytest.raises(sv.CheckFailed, match=f"{field} differs"):
            sv.check_checkpoint_body(body | {field: value})


def test_script_inclusion_check_refuses_a_proof_for_other_bytes():
    entries = [b"one", b"two", b"three"]
    leaves = [merkle.leaf_hash(e) for e in entries]
    checkpoint = {"tree_size": 3, "root_hash": merkle.root(leaves)}
    body = {
        "index": 1,
        "tree_size": 3,
        "leaf_hash": base64.b64encode(leaves[1]).decode(),
        "audit_path": _b64(merkle.inclusion_proof(1, leaves)),
    }
    assert sv.verify_log_inclusion(b"two", checkpoint, body) == 1
    with pytest.raises(sv.CheckFailed, match="not the hash of these notice bytes"):
        sv.verify_log_inclusion(b"TWO", checkpoint, body)
    with pytest.raises(sv.CheckFailed, match="does not lead to the checkpoint root"):
        sv.verify_log_inclusion(b"two", checkpoint, body | {"index": 2})
    with pytest.raises(sv.CheckFailed, match="at size 3, got one at 2"):
        sv.verify_log_inclusion(b"two", checkpoint, body | {"tree_size": 2})


def test_a_checkpoint_signed_by_a_retired_key_fails(portal):
    # Checkpoints are checked at the current time, not at their own: that is what keeps a
    # leaked retired key from vouching for a back-dated log. The portal re-signs its head
    # checkpoint with the new key when it rotates.
    retired = _key(NOW - timedelta(days=700), NOW - timedelta(days=100))
    portal.listed_keys = [portal.key, retired]
    portal.checkpoint_key = retired
    result = run(portal, "HN-2026-0007", state=None)
    assert result.returncode == 1
    assert "rejected the steady-checkpoint signature" in result.stderr
