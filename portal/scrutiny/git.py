"""Running git on a repository that is hostile input.

SECURITY: only plumbing commands run (rev-parse, for-each-ref, rev-list, cat-file --batch,
diff-tree, ls-tree), with an environment built from nothing and a fixed set of `-c` overrides
for every setting of the repository's own config that could start a program: hooks, fsmonitor,
external diff and textconv, pager, signing programs, transports for lazy fetches. Nothing is
checked out, no filter runs, replace refs and .mailmap change nothing, and git writes nothing.
"""

import os
import subprocess
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

# SECURITY: each of these would otherwise let the scanned repository's .git/config name a
# program for git to run, or change what git reports.
SAFE_CONFIG = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.untrackedCache=false",
    "core.pager=cat",
    "core.sshCommand=false",
    "core.askPass=",
    "diff.external=",
    "gpg.program=false",
    "gpg.ssh.program=false",
    "gpg.x509.program=false",
    "log.showSignature=false",
    "log.mailmap=false",
    "mailmap.file=/dev/null",
    "mailmap.blob=",
    "credential.helper=",
    "protocol.allow=never",
    "uploadpack.packObjectsHook=",
    "core.alternateRefsCommand=",
)


class GitError(Exception):
    """The repository cannot be read (not a repository, unknown tag, git failed)."""


@dataclass(frozen=True)
class Repository:
    git_dir: str
    object_format: str  # "sha1" or "sha256"


def git_environment() -> dict[str, str]:
    # SECURITY: start from nothing rather than os.environ, so GIT_DIR, GIT_EXTERNAL_DIFF,
    # GIT_SSH_COMMAND or a GIT_CONFIG_* from the caller's shell cannot steer git.
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/nonexistent",
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_PAGER": "cat",
        "PAGER": "cat",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_NO_LAZY_FETCH": "1",
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_PROTOCOL_FROM_USER": "0",
    }


def _git_command(repo: Repository | None, args: Iterable[str]) -> list[str]:
    command = ["git", "--no-pager", "--no-replace-objects"]
    for setting in SAFE_CONFIG:
        command += ["-c", setting]
    if repo is not None:
        command.append(f"--git-dir={repo.git_dir}")
    return command + list(args)


def run_git(
    repo: Repository | None,
    *args: str,
    stdin: bytes | None = None,
    cwd: str | None = None,
) -> bytes:
    """Run one git plumbing command and return its stdout; GitError on failure."""
    command = _git_command(repo, args)
    try:
        result = subprocess.run(  # noqa: S603 - fixed git plumbing, no shell
            command,
            input=stdin,
            capture_output=True,
            env=git_environment(),
            cwd=cwd or "/",
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH.") from None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise GitError(
            f"git {args[0]} failed: {message[-1] if message else 'no message'}"
        )
    return result.stdout


def open_repository(path: str | os.PathLike) -> Repository:
    """Find the git directory of a work tree or bare repository at `path`."""
    path = Path(path)
    if not path.is_dir():
        raise GitError(f"{path} is not a directory.")
    # SECURITY: discovery stops at `path`: a repository in a parent directory is never read.
    env_dir = str(path.resolve())
    try:
        out = run_git(
            None,
            f"--git-dir={_git_dir_of(path)}",
            "rev-parse",
            "--absolute-git-dir",
            "--show-object-format",
            cwd=env_dir,
        )
    except GitError:
        raise GitError(f"{path} is not a git repository.") from None
    lines = out.decode("utf-8", errors="replace").split("\n")
    git_dir = lines[0]
    # SECURITY: like git's safe.directory check (which an explicit --git-dir skips), refuse a
    # repository another user owns: SAFE_CONFIG neutralises every setting known to start a
    # program, and this keeps a foreign .git/config out even if one was missed.
    if hasattr(os, "geteuid") and os.stat(git_dir).st_uid != os.geteuid():
        raise GitError(
            f"{path} belongs to another user, so its git configuration is not trusted; "
            "clone it (git clone --no-checkout --no-local) and scan the clone."
        )
    return Repository(git_dir=git_dir, object_format=lines[1] or "sha1")


def _git_dir_of(path: Path) -> str:
    dot_git = path / ".git"
    if dot_git.is_dir():
        return str(dot_git.resolve())
    if dot_git.is_file():
        # A linked work tree or submodule: ".git" holds "gitdir: <path>".
        text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            target = Path(text[len("gitdir:") :].strip())
            return str(
                (path / target).resolve() if not target.is_absolute() else target
            )
    return str(path.resolve())  # a bare repository


def cat_file_batch(
    repo: Repository, oids: Iterable[str], *, limit: int | None = None
) -> Iterator[tuple[str, str, bytes]]:
    """Yield (oid, type, content) for each object, in order, through one `cat-file --batch`.

    With `limit`, only the first `limit` bytes of each object are kept (the rest is read and
    dropped), so sniffing large blobs costs no memory.
    """
    requested = list(oids)
    if not requested:
        return
    process = subprocess.Popen(  # noqa: S603 - fixed git plumbing, no shell
        _git_command(repo, ["cat-file", "--batch"]),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=git_environment(),
        cwd="/",
    )

    def feed() -> None:
        # A writer thread: cat-file answers while we are still asking, and a full pipe in
        # both directions would otherwise deadlock.
        try:
            for oid in requested:
                process.stdin.write(oid.encode("ascii") + b"\n")
            process.stdin.close()
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    out = process.stdout
    try:
        for _ in requested:
            header = out.readline()
            if not header:
                raise GitError("git cat-file stopped early.")
            parts = header.rstrip(b"\n").split(b" ")
            if len(parts) == 2 and parts[1] == b"missing":
                yield parts[0].decode("ascii"), "missing", b""
                continue
            oid, kind, size = (
                parts[0].decode("ascii"),
                parts[1].decode("ascii"),
                int(parts[2]),
            )
            if limit is None or size <= limit:
                content = out.read(size)
            else:
                content = out.read(limit)
                remaining = size - limit
                while remaining:
                    remaining -= len(out.read(min(remaining, 1 << 20)))
            out.read(1)  # the newline after each object
            yield oid, kind, content
    finally:
        # Closing our end first lets cat-file and the writer fail fast if we stopped early.
        out.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        writer.join()
