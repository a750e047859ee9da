#!/usr/bin/env python3
"""Verify a Steady handover notice: its signature, and its place in the transparency log.

Needs only Python 3.11+ and OpenSSH's ssh-keygen. For one revision of a notice it checks that

  1. the bytes are the canonical JSON of a steady-notice/1 document for that notice,
  2. the foundation signed them (ssh-keygen -Y verify, namespace steady-notice, at the time the
     revision says it was published, against the portal's allowed_signers or a pinned copy),
  3. the log checkpoint is signed by the foundation (namespace steady-checkpoint),
  4. the revision is in the log under that checkpoint (RFC 6962 inclusion proof),
  5. the log only grew since the checkpoint this script saw last (RFC 6962 consistency proof),

then remembers the checkpoint in a state file for next time.

    python3 steady_verify.py --portal https://steady.example.org HN-2026-0007 [--revision N]
        [--state ~/.cache/steady-verify.json] [--allowed-signers FILE]

Exit status: 0 when every check holds, 1 when one fails, 2 on usage or network errors.
"""

import argparse
import base64
import binascii
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
NOTICE_NAMESPACE = "steady-notice"
CHECKPOINT_NAMESPACE = "steady-checkpoint"
NOTICE_FORMAT = "steady-notice/1"
HASH_SIZE = 32
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
USER_AGENT = "steady-verify/1"
_NOTICE_ID = re.compile(r"HN-[0-9]{4}-[0-9]{4,}")
_RFC3339_UTC = "%Y-%m-%dT%H:%M:%SZ"


class CheckFailed(Exception):
    """A verification check failed: the notice or the log cannot be trusted as served."""


class FetchError(Exception):
    """The portal could not be reached or did not answer; nothing was verified."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


# --- canonical JSON ---------------------------------------------------------------------------


def parse_canonical(data: bytes) -> dict:
    """The document in `data`, provided the bytes are its canonical form (see the portal's
    docs/notice-format.md): sorted keys, no spaces, UTF-8, integers only, no trailing newline."""

    def no_duplicates(pairs):
        result = {}
        for key, value in pairs:
            if key in result:
                raise CheckFailed(f"the notice JSON has the key {key!r} twice")
            result[key] = value
        return result

    def no_float(text):
        raise CheckFailed(f"the notice JSON has a non-integer number {text}")

    try:
        document = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=no_duplicates,
            parse_float=no_float,
            parse_constant=no_float,
        )
        again = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError) as exc:
        raise CheckFailed(f"the notice is not valid UTF-8 JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise CheckFailed("the notice JSON is not an object")
    if again != data:
        raise CheckFailed("the notice bytes are not in canonical form")
    return document


def check_document(document: dict, notice_id: str, revision: int | None) -> int:
    """The revision number, after checking the document is the notice (and revision) asked for."""
    if document.get("format") != NOTICE_FORMAT:
        raise CheckFailed(f"the document format is {document.get('format')!r}")
    # SECURITY: a genuine signature on some other notice must not pass for this one.
    if document.get("id") != notice_id:
        raise CheckFailed(f"asked for {notice_id} but got {document.get('id')!r}")
    number = document.get("revision")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise CheckFailed(f"the revision number {number!r} is not a positive integer")
    if revision is not None and number != revision:
        raise CheckFailed(f"asked for revision {revision} but got revision {number}")
    return number


# --- RFC 6962 Merkle tree -----------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _hashes_ok(*hashes) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: list, root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size or not _hashes_ok(leaf, root, *proof):
        return False
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and result == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list
) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if not 0 <= first <= second or not _hashes_ok(first_root, second_root, *proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == hashlib.sha256(b"").digest()
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(node, fr), node_hash(node, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, node)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


# --- checkpoints and proofs as the portal serves them ------------------------------------------


def _b64_hash(value, what: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise CheckFailed(f"{what} is not base64") from exc
    if len(raw) != HASH_SIZE:
        raise CheckFailed(f"{what} is not a {HASH_SIZE}-byte hash")
    return raw


def _count(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CheckFailed(f"{what} {value!r} is not a non-negative integer")
    return value


def parse_checkpoint(text: str) -> dict:
    """origin, tree_size, root_hash (bytes) and timestamp of a signed checkpoint text."""
    if not isinstance(text, str) or not text.endswith("\n"):
        raise CheckFailed("the checkpoint text does not end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) != 4:
        raise CheckFailed("the checkpoint text is not four lines")
    origin, size_text, root_text, time_text = lines
    if not re.fullmatch(r"[\x21-\x7e]{1,255}", origin):
        raise CheckFailed("the checkpoint origin is malformed")
    if not re.fullmatch(r"0|[1-9][0-9]{0,17}", size_text):
        raise CheckFailed("the checkpoint tree size is not a number")
    root_hash = _b64_hash(root_text, "the checkpoint root hash")
    try:
        moment = datetime.strptime(time_text, _RFC3339_UTC).replace(tzinfo=UTC)
    except ValueError as exc:
        raise CheckFailed("the checkpoint time is not RFC 3339 UTC") from exc
    if moment.strftime(_RFC3339_UTC) != time_text:
        raise CheckFailed("the checkpoint time is not in canonical form")
    return {
        "origin": origin,
        "tree_size": int(size_text),
        "root_hash": root_hash,
        "timestamp": time_text,
    }


def check_checkpoint_body(body) -> dict:
    """The signed checkpoint from GET /api/v1/log/checkpoint; the JSON fields must repeat it."""
    if not isinstance(body, dict):
        raise CheckFailed("the checkpoint answer is not a JSON object")
    checkpoint = parse_checkpoint(body.get("checkpoint"))
    # SECURITY: only the signed text counts; unsigned JSON fields that disagree with it are a
    # sign of tampering, not something to fall back on.
    for field in ("origin", "tree_size", "timestamp"):
        if body.get(field) != checkpoint[field]:
            raise CheckFailed(f"the checkpoint's {field} differs from its signed text")
    if body.get("root_hash") != base64.b64encode(checkpoint["root_hash"]).decode():
        raise CheckFailed("the checkpoint's root_hash differs from its signed text")
    if not isinstance(body.get("signature"), str):
        raise CheckFailed("the checkpoint has no signature")
    return checkpoint


def check_inclusion_body(body, tree_size: int) -> tuple[int, bytes, list[bytes]]:
    if not isinstance(body, dict):
        raise CheckFailed("the inclusion proof answer is not a JSON object")
    if body.get("tree_size") != tree_size:
        raise CheckFailed(
            f"asked for an inclusion proof at size {tree_size}, got one at "
            f"{body.get('tree_size')!r}"
        )
    index = _count(body.get("index"), "the leaf index")
    leaf = _b64_hash(body.get("leaf_hash"), "the leaf hash")
    path = body.get("audit_path")
    if not isinstance(path, list):
        raise CheckFailed("the inclusion proof has no audit_path list")
    return index, leaf, [_b64_hash(item, "an audit path hash") for item in path]


def check_consistency_body(body, first: int, second: int) -> list[bytes]:
    if not isinstance(body, dict):
        raise CheckFailed("the consistency proof answer is not a JSON object")
    if body.get("first") != first or body.get("second") != second:
        raise CheckFailed(
            f"asked for a consistency proof {first}->{second}, got "
            f"{body.get('first')!r}->{body.get('second')!r}"
        )
    proof = body.get("proof")
    if not isinstance(proof, list):
        raise CheckFailed("the consistency proof has no proof list")
    return [_b64_hash(item, "a consistency proof hash") for item in proof]


def verify_log_inclusion(data: bytes, checkpoint: dict, body) -> int:
    """The revision's index in the log, once its inclusion under `checkpoint` is proven."""
    index, leaf, path = check_inclusion_body(body, checkpoint["tree_size"])
    if leaf != leaf_hash(data):
        raise CheckFailed(
            "the log entry's leaf hash is not the hash of these notice bytes"
        )
    if not verify_inclusion(
        index, checkpoint["tree_size"], leaf, path, checkpoint["root_hash"]
    ):
        raise CheckFailed(
            f"the inclusion proof for index {index} does not lead to the checkpoint root"
        )
    return index


def verify_log_growth(earlier: dict, later: dict, proof: list[bytes]) -> None:
    """Prove `later` extends `earlier` (both checkpoint dicts, earlier the smaller)."""
    if earlier["origin"] != later["origin"]:
        raise CheckFailed(
            f"the log origin changed from {earlier['origin']!r} to {later['origin']!r}"
        )
    if not verify_consistency(
        earlier["tree_size"],
        later["tree_size"],
        earlier["root_hash"],
        later["root_hash"],
        proof,
    ):
        raise CheckFailed(
            f"the log of size {later['tree_size']} is not an extension of the log of size "
            f"{earlier['tree_size']} seen on {earlier['timestamp']}: it was rewritten"
        )


# --- ssh-keygen ---------------------------------------------------------------------------------


def signer_identity(allowed_signers: str) -> str:
    """The identity to verify as: the first field of the file's first line."""
    lines = allowed_signers.splitlines()
    fields = lines[0].split() if lines else []
    if not fields:
        raise CheckFailed("the allowed_signers file is empty")
    return fields[0]


def ssh_time(rfc3339: str) -> str:
    """`2026-11-20T14:02:11Z` as ssh-keygen reads it: `20261120140211Z`."""
    try:
        moment = datetime.strptime(rfc3339, _RFC3339_UTC)
    except (TypeError, ValueError) as exc:
        raise CheckFailed(f"the time {rfc3339!r} is not RFC 3339 UTC") from exc
    return moment.strftime("%Y%m%d%H%M%S") + "Z"


def ssh_verify(
    ssh_keygen: str,
    allowed_signers: str,
    identity: str,
    namespace: str,
    signature: str,
    data: bytes,
    verify_time: str | None = None,
) -> str:
    """Run `ssh-keygen -Y verify`; returns its report, raises CheckFailed if it says no."""
    with tempfile.TemporaryDirectory(prefix="steady-verify-") as folder:
        allowed_path = Path(folder, "allowed_signers")
        allowed_path.write_text(allowed_signers, encoding="utf-8")
        signature_path = Path(folder, "data.sig")
        signature_path.write_text(signature, encoding="utf-8")
        command = [ssh_keygen, "-Y", "verify", "-f", str(allowed_path), "-I", identity]
        command += ["-n", namespace, "-s", str(signature_path)]
        if verify_time:
            command.append(f"-Overify-time={verify_time}")
        try:
            result = subprocess.run(  # noqa: S603 - fixed argument list, no shell
                command, input=data, capture_output=True, timeout=60, check=False
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise FetchError(f"could not run {ssh_keygen}: {exc}") from exc
    report = (result.stdout + result.stderr).decode("utf-8", "replace").strip()
    if result.returncode != 0:
        raise CheckFailed(
            f"ssh-keygen rejected the {namespace} signature: {report or 'no reason given'}"
        )
    return report


# --- state --------------------------------------------------------------------------------------


def default_state_path() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "steady-verify.json"


def load_state(path: Path) -> dict:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"version": 1, "logs": {}}
    except (OSError, ValueError) as exc:
        raise FetchError(f"cannot read the state file {path}: {exc}") from exc
    if not isinstance(state, dict) or not isinstance(state.get("logs"), dict):
        raise FetchError(f"the state file {path} is not a steady-verify state file")
    return state


def remembered_checkpoint(state: dict, portal: str) -> dict | None:
    saved = state["logs"].get(portal)
    if saved is None:
        return None
    try:
        return check_checkpoint_body(saved)
    except CheckFailed as exc:
        raise FetchError(
            f"the saved checkpoint for {portal} is unreadable: {exc}"
        ) from exc


def save_state(path: Path, state: dict, portal: str, checkpoint_body: dict) -> None:
    state["logs"][portal] = {
        key: checkpoint_body[key]
        for key in ("origin", "tree_size", "root_hash", "timestamp", "checkpoint")
    } | {"signature": checkpoint_body["signature"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so an interrupted run never leaves half a state file behind.
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", "utf-8")
    os.replace(temporary, path)


# --- network ------------------------------------------------------------------------------------


class Portal:
    """A thin HTTP client for the portal's public endpoints."""

    def __init__(self, base_url: str, timeout: float = 30):
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("https", "http") or not parsed.netloc:
            raise FetchError(f"the portal URL must be https://host, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        if parsed.scheme == "http" and parsed.hostname not in (
            "127.0.0.1",
            "localhost",
            "::1",
        ):
            print(
                "steady_verify: warning: plain http; use https so answers cannot be swapped "
                "in transit (signatures and proofs are still checked)",
                file=sys.stderr,
            )

    def fetch(self, path: str, **params) -> bytes:
        url = f"{self.base_url}/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise FetchError(f"{url}: HTTP {exc.code}", status=exc.code) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise FetchError(f"{url}: {getattr(exc, 'reason', exc)}") from exc
        if len(body) > MAX_RESPONSE_BYTES:
            raise FetchError(
                f"{url}: the answer is larger than {MAX_RESPONSE_BYTES} bytes"
            )
        return body

    def fetch_json(self, path: str, **params):
        body = self.fetch(path, **params)
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeError, ValueError) as exc:
            raise CheckFailed(f"{path} did not answer with JSON") from exc


# --- the whole check ----------------------------------------------------------------------------


def verify_notice(
    portal: Portal,
    notice_id: str,
    *,
    revision: int | None,
    state_path: Path | None,
    ssh_keygen: str,
    pinned_allowed_signers: str | None = None,
    say=print,
) -> None:
    """Run every check, reporting each; raises CheckFailed or FetchError on the first failure."""
    allowed = pinned_allowed_signers
    if allowed is None:
        allowed = portal.fetch(".well-known/steady/allowed_signers").decode(
            "utf-8", "replace"
        )
    identity = signer_identity(allowed)

    name = "latest" if revision is None else str(revision)
    data = portal.fetch(f"notices/{notice_id}/revisions/{name}.json")
    document = parse_canonical(data)
    number = check_document(document, notice_id, revision)
    say(
        f"notice {notice_id} revision {number} ({document.get('kind')}, "
        f"{document.get('status')}), modified {document.get('modified')}"
    )
    say(f"ok   canonical bytes, sha256 {hashlib.sha256(data).hexdigest()}")

    signature = portal.fetch(f"notices/{notice_id}/revisions/{number}.json.sig")
    # The signature is checked at the time the revision was published, so notices signed by
    # a key since rotated out (it has a valid-before in allowed_signers) still verify; the log
    # checks below are what stop a retired key from slipping in a back-dated revision.
    report = ssh_verify(
        ssh_keygen,
        allowed,
        identity,
        NOTICE_NAMESPACE,
        signature.decode("ascii", "replace"),
        data,
        verify_time=ssh_time(document.get("modified")),
    )
    say(f"ok   notice signature: {report}")

    body = portal.fetch_json("api/v1/log/checkpoint")
    checkpoint = check_checkpoint_body(body)
    # SECURITY: the checkpoint is checked at the current time, so only a key valid now can
    # vouch for the log; a retired key cannot, whatever date it puts in the text.
    ssh_verify(
        ssh_keygen,
        allowed,
        identity,
        CHECKPOINT_NAMESPACE,
        body["signature"],
        body["checkpoint"].encode("ascii"),
    )
    say(
        f"ok   checkpoint signed for {checkpoint['origin']}: {checkpoint['tree_size']} "
        f"entries at {checkpoint['timestamp']}"
    )

    try:
        inclusion = portal.fetch_json(
            "api/v1/log/proof/inclusion",
            notice=notice_id,
            revision=number,
            tree_size=checkpoint["tree_size"],
        )
    except FetchError as exc:
        if exc.status == 404:
            raise CheckFailed(
                f"the log has no entry for {notice_id} revision {number}"
            ) from exc
        raise
    index = verify_log_inclusion(data, checkpoint, inclusion)
    say(f"ok   in the log at index {index} of {checkpoint['tree_size']}")

    if state_path is None:
        return
    state = load_state(state_path)
    earlier = remembered_checkpoint(state, portal.base_url)
    if earlier is None:
        save_state(state_path, state, portal.base_url, body)
        say(f"ok   first checkpoint from this portal saved in {state_path}")
        return
    if earlier["tree_size"] <= checkpoint["tree_size"]:
        older, newer = earlier, checkpoint
    else:
        # The portal answered with an older checkpoint (a cache, say); it must still be a
        # prefix of the one seen before, and the larger one stays remembered.
        older, newer = checkpoint, earlier
    proof = []
    if older["tree_size"] != newer["tree_size"]:
        proof = check_consistency_body(
            portal.fetch_json(
                "api/v1/log/proof/consistency",
                first=older["tree_size"],
                second=newer["tree_size"],
            ),
            older["tree_size"],
            newer["tree_size"],
        )
    verify_log_growth(older, newer, proof)
    if newer is checkpoint:
        save_state(state_path, state, portal.base_url, body)
        say(
            f"ok   the log only grew: size {earlier['tree_size']} seen on "
            f"{earlier['timestamp']} is a prefix of size {newer['tree_size']}"
        )
    else:
        say(
            f"ok   the portal served an older checkpoint (size {checkpoint['tree_size']}); "
            f"it is a prefix of size {earlier['tree_size']} seen on {earlier['timestamp']}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="steady_verify.py",
        description="Verify a Steady handover notice and its place in the transparency log.",
    )
    parser.add_argument("notice", help="the notice id, e.g. HN-2026-0007")
    parser.add_argument(
        "--portal", required=True, help="e.g. https://steady.example.org"
    )
    parser.add_argument(
        "--revision", type=int, help="a revision number (default: latest)"
    )
    parser.add_argument(
        "--state",
        type=Path,
        help=f"where to remember checkpoints (default: {default_state_path()})",
    )
    parser.add_argument(
        "--no-state", action="store_true", help="neither read nor save a checkpoint"
    )
    parser.add_argument(
        "--allowed-signers",
        type=Path,
        help="a pinned allowed_signers file to trust instead of the portal's copy",
    )
    parser.add_argument("--ssh-keygen", default="ssh-keygen", help="path to ssh-keygen")
    parser.add_argument("--timeout", type=float, default=30, help="seconds per request")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE

    def fail(message: str, code: int) -> int:
        print(f"steady_verify: {message}", file=sys.stderr)
        return code

    if not _NOTICE_ID.fullmatch(args.notice):
        return fail(f"{args.notice!r} is not a notice id like HN-2026-0007", EXIT_USAGE)
    if args.revision is not None and args.revision < 1:
        return fail("--revision must be 1 or more", EXIT_USAGE)
    ssh_keygen = shutil.which(args.ssh_keygen)
    if ssh_keygen is None:
        return fail(f"cannot find {args.ssh_keygen}; install OpenSSH", EXIT_USAGE)
    try:
        pinned = None
        if args.allowed_signers is not None:
            pinned = args.allowed_signers.read_text(encoding="utf-8")
        verify_notice(
            Portal(args.portal, timeout=args.timeout),
            args.notice,
            revision=args.revision,
            state_path=None if args.no_state else (args.state or default_state_path()),
            ssh_keygen=ssh_keygen,
            pinned_allowed_signers=pinned,
        )
    except CheckFailed as exc:
        return fail(f"FAILED: {exc}", EXIT_FAILED)
    except (FetchError, OSError) as exc:
        return fail(f"error: {exc}", EXIT_USAGE)
    print(f"verified: {args.notice} is signed by the foundation and in the log")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
