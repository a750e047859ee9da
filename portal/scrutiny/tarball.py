"""Compare a release tarball with the tree of the tag it claims to be built from.

The tarball is read as a stream and never extracted: each member's bytes are hashed as a git
blob in Python and compared with the blob ids of the tagged tree (`ls-tree -r -z`). Files that
only the tarball has, or that differ from the tree, are what a reviewer must read: the xz
backdoor's trigger lived in a build macro that was in the release tarball and not in git.
"""

import hashlib
import lzma
import re
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from portal.scrutiny.findings import ERROR, NOTE, WARNING, Finding
from portal.scrutiny.git import GitError, Repository, open_repository, run_git
from portal.scrutiny.paths import looks_binary, path_categories

MAX_MEMBERS = 200_000
MAX_TOTAL_BYTES = 4 * 1024**3
CHUNK = 1 << 20
# What git's refname rules forbid, checked before the name reaches git.
BAD_TAG = re.compile(r"(^[-./])|(\.\.)|([\x00-\x20\x7f~^:?*\[\\])|(@\{)|(\.lock$)|(/$)")


class TarballError(Exception):
    """The tarball cannot be read or breaks a limit."""


@dataclass
class TarballResult:
    tarball: str
    repository: str
    tag: str
    tree: str
    prefix: str | None
    members: int
    compared: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return any(f.level in (ERROR, WARNING) for f in self.findings)


@dataclass
class _Member:
    name: str
    kind: str  # file, dir, symlink, hardlink, device, other
    oid: str | None
    executable: bool
    link: str | None
    head: bytes = b""


def tag_tree(repo: Repository, tag: str) -> str:
    if not tag or BAD_TAG.search(tag):
        raise GitError(f"{tag!r} is not a valid tag name.")
    try:
        out = run_git(
            repo,
            "rev-parse",
            "--verify",
            "--end-of-options",
            f"refs/tags/{tag}^{{tree}}",
        )
    except GitError:
        raise GitError(f"The repository has no tag {tag}.") from None
    return out.decode("ascii").strip()


def tree_blobs(repo: Repository, tree: str) -> dict[str, tuple[str, str]]:
    """path -> (mode, blob id) for every blob of the tree (submodules are left out)."""
    out = run_git(repo, "ls-tree", "-r", "-z", "--full-tree", tree)
    entries = {}
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, kind, oid = meta.decode("ascii").split(" ")
        if kind == "blob":
            entries[path.decode("utf-8", errors="surrogateescape")] = (mode, oid)
    return entries


def _blob_hasher(object_format: str, size: int):
    hasher = hashlib.sha256() if object_format == "sha256" else hashlib.sha1()  # noqa: S324 - git's object id, not a security hash
    hasher.update(b"blob %d\0" % size)
    return hasher


def read_tarball(
    path: str | Path,
    object_format: str,
    *,
    max_members: int = MAX_MEMBERS,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> list[_Member]:
    """Every member of the tarball with the git blob id of its bytes; nothing is written."""
    members: list[_Member] = []
    total = 0
    try:
        # SECURITY: stream mode ("r|*") reads members in order without extraction; the
        # compression (gzip, bzip2, xz or none) is detected from the bytes, not the name.
        with tarfile.open(path, mode="r|*") as archive:
            for info in archive:
                if len(members) >= max_members:
                    raise TarballError(
                        f"The tarball has more than {max_members} members; "
                        "raise --max-members if it is genuine."
                    )
                kind = _kind(info)
                member = _Member(info.name, kind, None, bool(info.mode & 0o111), None)
                if kind in ("symlink", "hardlink"):
                    member.link = info.linkname
                    if kind == "symlink":
                        target = info.linkname.encode("utf-8", errors="surrogateescape")
                        hasher = _blob_hasher(object_format, len(target))
                        hasher.update(target)
                        member.oid = hasher.hexdigest()
                elif kind == "file":
                    total += info.size
                    if total > max_total_bytes:
                        raise TarballError(
                            f"The tarball holds more than {max_total_bytes} bytes of files; "
                            "raise --max-bytes if it is genuine."
                        )
                    hasher = _blob_hasher(object_format, info.size)
                    handle = archive.extractfile(info)
                    read = 0
                    while chunk := handle.read(CHUNK):
                        if read == 0:
                            member.head = chunk[:8000]
                        hasher.update(chunk)
                        read += len(chunk)
                    if read != info.size:
                        raise TarballError(f"The member {info.name!r} is truncated.")
                    member.oid = hasher.hexdigest()
                members.append(member)
    except FileNotFoundError:
        raise TarballError(f"No such file: {path}.") from None
    except IsADirectoryError:
        raise TarballError(f"{path} is a directory, not a tarball.") from None
    except (tarfile.TarError, EOFError, OSError, lzma.LZMAError, zlib.error) as exc:
        raise TarballError(f"{path} is not a readable tarball: {exc}.") from None
    return members


def _kind(info: tarfile.TarInfo) -> str:
    if info.isreg():
        return "file"
    if info.isdir():
        return "dir"
    if info.issym():
        return "symlink"
    if info.islnk():
        return "hardlink"
    if info.ischr() or info.isblk() or info.isfifo():
        return "device"
    return "other"


def _clean(name: str) -> tuple[str, str | None]:
    """(normalised name, why it is unsafe or None)."""
    if name.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", name):
        return name, "an absolute path"
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        return name, "a path that climbs out with '..'"
    return "/".join(parts), None


def _common_prefix(names: list[str]) -> str | None:
    firsts = {name.split("/", 1)[0] for name in names if name}
    if len(firsts) != 1:
        return None
    prefix = firsts.pop()
    # A tarball holding a single file at its root has nothing to strip.
    if all(name == prefix for name in names):
        return None
    return prefix


def scrutinize_tarball(
    tarball: str | Path,
    repository: str | Path,
    tag: str,
    *,
    max_members: int = MAX_MEMBERS,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> TarballResult:
    repo = open_repository(repository)
    tree = tag_tree(repo, tag)
    blobs = tree_blobs(repo, tree)
    members = read_tarball(
        tarball,
        repo.object_format,
        max_members=max_members,
        max_total_bytes=max_total_bytes,
    )
    findings: list[Finding] = []

    safe: list[tuple[str, _Member]] = []
    for member in members:
        name, unsafe = _clean(member.name)
        if unsafe:
            findings.append(
                Finding(
                    "tarball-unsafe-member",
                    ERROR,
                    f"member {member.name!r} has {unsafe}",
                    path=member.name,
                )
            )
            continue
        if name:
            safe.append((name, member))

    prefix = _common_prefix([name for name, _ in safe])
    by_path: dict[str, _Member] = {}
    seen: dict[str, int] = {}
    for name, member in safe:
        if prefix is not None:
            name = name[len(prefix) + 1 :] if name != prefix else ""
        if not name:
            continue
        if member.kind != "dir":
            seen[name] = seen.get(name, 0) + 1
            by_path[name] = member

    for name, count in sorted(seen.items()):
        if count > 1:
            findings.append(
                Finding(
                    "tarball-unsafe-member",
                    ERROR,
                    f"{name} appears {count} times; extracting keeps only the last copy, "
                    "which is the one compared here",
                    path=name,
                )
            )

    compared = 0
    for name in sorted(by_path):
        member = by_path[name]
        in_tree = blobs.get(name)
        if member.kind in ("device", "other"):
            findings.append(
                Finding(
                    "tarball-unsafe-member",
                    ERROR,
                    f"{name} is a device file or FIFO, which no source release needs",
                    path=name,
                )
            )
            continue
        if member.kind == "hardlink":
            findings.append(
                Finding(
                    "tarball-unsafe-member",
                    ERROR,
                    f"{name} is a hard link to {member.link!r}",
                    path=name,
                )
            )
            continue
        if member.kind == "symlink":
            same = in_tree is not None and in_tree == ("120000", member.oid)
            findings.append(
                Finding(
                    "tarball-unsafe-member",
                    NOTE if same else ERROR,
                    f"{name} is a symbolic link to {member.link!r}"
                    + (
                        " (the tagged tree has the same link)"
                        if same
                        else " that the tagged tree does not have"
                    ),
                    path=name,
                )
            )
            compared += 1
            continue
        compared += 1
        sensitive = path_categories(name)
        binary = looks_binary(name, member.head)
        kinds = [c.replace("-", " ") for c in sensitive] + (
            ["binary"] if binary else []
        )
        what = f" ({', '.join(kinds)})" if kinds else ""
        serious = "build-system" in sensitive or binary
        if in_tree is None:
            findings.append(
                Finding(
                    "tarball-extra-file",
                    ERROR if serious else WARNING,
                    f"{name}{what} is in the tarball but not in tag {tag}",
                    path=name,
                    details={"blob": member.oid},
                )
            )
        elif in_tree[0] == "120000" or in_tree[1] != member.oid:
            findings.append(
                Finding(
                    "tarball-modified-file",
                    ERROR,
                    f"{name}{what} differs from tag {tag}",
                    path=name,
                    details={"tarball_blob": member.oid, "tree_blob": in_tree[1]},
                )
            )
        elif (in_tree[0] == "100755") != member.executable:
            findings.append(
                Finding(
                    "tarball-modified-file",
                    WARNING,
                    f"{name} has the same bytes as in tag {tag} but "
                    + ("is executable" if member.executable else "is not executable")
                    + " in the tarball",
                    path=name,
                )
            )

    for name in sorted(set(blobs) - set(by_path)):
        findings.append(
            Finding(
                "tarball-missing-file",
                NOTE,
                f"{name} is in tag {tag} but not in the tarball",
                path=name,
            )
        )

    return TarballResult(
        tarball=str(tarball),
        repository=str(repository),
        tag=tag,
        tree=tree,
        prefix=prefix,
        members=len(members),
        compared=compared,
        findings=findings,
    )
