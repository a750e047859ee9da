"""Scrutinise the commits and tags of a repository made during a handover window.

Window: a commit is in the window when its author date OR its committer date falls inside it
(dates are claims the committer writes; taking either catches a change backdated on one of
them). The window runs from 00:00 UTC on `window.start` to the end of `window.end` (UTC), or
without end while the notice's window is open. Tags: the tagger date of an annotated tag, the
tagged commit's committer date for a lightweight tag, or a tag pointing at a commit in the window.

Identities are matched on email address, case-insensitively; names never authorise anything
(anyone can type any name), an authorised email under another name is only noted.

SECURITY: the repository is hostile input; portal.scrutiny.git reads it without running
anything from it, and signatures are checked in Python (portal.scrutiny.signatures).
"""

import difflib
import os
import re
from dataclasses import dataclass, field

from portal.scrutiny.findings import ERROR, NOTE, RULES, WARNING, Finding
from portal.scrutiny.git import (
    GitError,
    Repository,
    cat_file_batch,
    open_repository,
    run_git,
)
from portal.scrutiny.notice_source import Identity, Notice, normalise_email
from portal.scrutiny.paths import (
    BINARY_SNIFF_BYTES,
    HIDING_ATTRIBUTES,
    looks_binary,
    path_categories,
    pattern_hides_build_input,
    under_test_directory,
)
from portal.scrutiny.signatures import (
    OPENPGP,
    SSH_INVALID,
    UNREADABLE,
    UNSIGNED,
    SignatureInfo,
    check_signature,
    fingerprints_match,
    split_commit,
    split_tag,
)

HEX = re.compile(rb"^[0-9a-f]{40}([0-9a-f]{24})?$")
CO_AUTHOR = re.compile(r"^\s*co-authored-by:\s*(.*?)\s*<([^<>]+)>\s*$", re.I | re.M)
ZERO_OID = re.compile(r"^0+$")
# Build files bigger than this are not diffed character by character (generated configure
# scripts run to megabytes); they are still reported.
MAX_DIFF_BYTES = 512 * 1024
TINY_CHANGE_CHARS = 3


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    timestamp: int
    offset: str

    @property
    def email_key(self) -> str:
        return normalise_email(self.email)

    def label(self) -> str:
        return f"{self.name} <{self.email}>"


@dataclass
class Commit:
    oid: str
    tree: str
    parents: list[str]
    author: Person
    committer: Person
    message: str
    signature: SignatureInfo

    @property
    def subject(self) -> str:
        return self.message.strip().split("\n", 1)[0][:120]


@dataclass(frozen=True)
class Change:
    status: str
    old_mode: str
    new_mode: str
    old_oid: str
    new_oid: str
    path: str


@dataclass
class Tag:
    ref: str
    name: str
    oid: str
    annotated: bool
    target: str | None
    target_type: str
    date: int | None
    tagger: Person | None
    signature: SignatureInfo
    listed_in_notice: bool = False


@dataclass
class ScanResult:
    notice_id: str
    repository: str
    window: dict
    commits_total: int
    commits: list[Commit]
    tags: list[Tag]
    findings: list[Finding]
    unauthorised: list[dict] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return any(f.level in (ERROR, WARNING) for f in self.findings)


# --- parsing ------------------------------------------------------------------------------


def parse_person(value: bytes) -> Person:
    text = value.decode("utf-8", errors="replace")
    open_at, close_at = text.rfind("<"), text.rfind(">")
    if open_at < 0 or close_at < open_at:
        return Person(text.strip(), "", 0, "+0000")
    name = text[:open_at].strip()
    email = text[open_at + 1 : close_at].strip()
    rest = text[close_at + 1 :].split()
    try:
        timestamp = int(rest[0])
    except (IndexError, ValueError):
        timestamp = 0
    return Person(name, email, timestamp, rest[1] if len(rest) > 1 else "+0000")


def parse_commit(oid: str, raw: bytes, *, object_format: str = "sha1") -> Commit:
    header = b"gpgsig-sha256" if object_format == "sha256" else b"gpgsig"
    payload, armoured = split_commit(raw, header)
    header_end = raw.find(b"\n\n")
    headers = raw[: header_end if header_end >= 0 else len(raw)].split(b"\n")
    message = raw[header_end + 2 :] if header_end >= 0 else b""
    tree, parents = "", []
    author: Person | None = None
    committer: Person | None = None
    for line in headers:
        if line.startswith(b"tree "):
            tree = line[5:].decode("ascii", errors="replace")
        elif line.startswith(b"parent "):
            parents.append(line[7:].decode("ascii", errors="replace"))
        # The first author and committer lines count, as for git itself.
        elif line.startswith(b"author ") and author is None:
            author = parse_person(line[7:])
        elif line.startswith(b"committer ") and committer is None:
            committer = parse_person(line[10:])
    nobody = Person("", "", 0, "+0000")
    return Commit(
        oid=oid,
        tree=tree,
        parents=parents,
        author=author or nobody,
        committer=committer or nobody,
        message=message.decode("utf-8", errors="replace"),
        signature=check_signature(payload, armoured),
    )


def parse_tag_object(raw: bytes) -> dict:
    payload, armoured = split_tag(raw)
    header_end = raw.find(b"\n\n")
    fields: dict = {"tagger": None}
    for line in raw[: header_end if header_end >= 0 else len(raw)].split(b"\n"):
        key, _, value = line.partition(b" ")
        if key == b"object":
            fields["object"] = value.decode("ascii", errors="replace")
        elif key == b"type":
            fields["type"] = value.decode("ascii", errors="replace")
        elif key == b"tag":
            fields["tag"] = value.decode("utf-8", errors="replace")
        elif key == b"tagger":
            fields["tagger"] = parse_person(value)
    fields["signature"] = check_signature(payload, armoured)
    return fields


def parse_diff_tree(output: bytes) -> dict[str, list[Change]]:
    """Parse `diff-tree --stdin -r -z -c --raw` output into changes per commit.

    With -c a merge lists only paths that differ from every parent: the changes the merge
    itself introduced (an "evil merge"), not those of the branches it joins.
    """
    changes: dict[str, list[Change]] = {}
    tokens = output.split(b"\0")
    current: list[Change] | None = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith(b":"):
            path = tokens[i + 1].decode("utf-8", errors="surrogateescape")
            colons = len(token) - len(token.lstrip(b":"))
            fields = token[colons:].split(b" ")
            modes = fields[: colons + 1]
            oids = fields[colons + 1 : 2 * colons + 2]
            status = fields[-1].decode("ascii", errors="replace")
            change = Change(
                status="M" if colons > 1 else status[:1],
                old_mode=modes[0].decode(),
                new_mode=modes[-1].decode(),
                old_oid=oids[0].decode(),
                new_oid=oids[-1].decode(),
                path=path,
            )
            if colons > 1 and all(s == "A" for s in status):
                change = Change(
                    "A", "000000", change.new_mode, "0", change.new_oid, path
                )
            if current is not None:
                current.append(change)
            i += 2
            continue
        if HEX.match(token.strip()):
            current = changes.setdefault(token.strip().decode("ascii"), [])
        i += 1
    return changes


# --- the scan -----------------------------------------------------------------------------


class _Scanner:
    def __init__(self, repo: Repository, notice: Notice):
        self.repo = repo
        self.notice = notice
        self.start, self.end = notice.window_bounds()
        self.committers = notice.identities_that_may("commit")
        self.releasers = notice.identities_that_may("release")
        self.all_identities = {i.email_key: i for i in notice.identities}
        self.findings: list[Finding] = []
        self.named: dict[tuple[str, str], int] = {}

    def in_window(self, timestamp: int | None) -> bool:
        if timestamp is None:
            return False
        return timestamp >= self.start and (self.end is None or timestamp < self.end)

    def add(
        self, rule: str, message: str, *, level: str | None = None, **where
    ) -> None:
        self.findings.append(
            Finding(rule, level or RULES[rule].level, message, **where)
        )

    # commits

    def walk(self) -> tuple[int, list[str]]:
        out = run_git(
            self.repo,
            "rev-list",
            "--all",
            "--no-commit-header",
            "--format=%H %at %ct",
        )
        total = 0
        selected = []
        for line in out.split(b"\n"):
            if not line:
                continue
            total += 1
            oid, *times = line.split(b" ")
            if any(self.in_window(_seconds(t)) for t in times):
                selected.append(oid.decode("ascii"))
        return total, selected

    def scan(self) -> tuple[int, list[Commit], list[Tag]]:
        total, selected = self.walk()
        commits = [
            parse_commit(oid, raw, object_format=self.repo.object_format)
            for oid, kind, raw in cat_file_batch(self.repo, selected)
            if kind == "commit"
        ]
        commits.sort(key=lambda c: (c.committer.timestamp, c.author.timestamp, c.oid))
        diff = b""
        if commits:
            diff = run_git(
                self.repo,
                "diff-tree",
                "--stdin",
                "-r",
                "-z",
                "-c",
                "--root",
                "--raw",
                "--no-renames",
                "--no-ext-diff",
                "--no-textconv",
                "--no-abbrev",
                stdin="".join(f"{c.oid}\n" for c in commits).encode("ascii"),
            )
        changes = parse_diff_tree(diff)
        for commit in commits:
            self.check_identities(commit)
            self.check_commit_signature(commit)
        self.check_paths(commits, changes)
        tags = self.scan_tags({c.oid for c in commits})
        return total, commits, tags

    def check_identities(self, commit: Commit) -> None:
        unauthorised = [
            (role, person)
            for role, person in (
                ("author", commit.author),
                ("committer", commit.committer),
            )
            if person.email_key not in self.committers
        ]
        if unauthorised:
            roles = {role for role, _ in unauthorised}
            if len({p.email_key for _, p in unauthorised}) == 1 and len(roles) == 2:
                who = f"author and committer {unauthorised[0][1].label()}"
            else:
                who = " and ".join(f"{role} {p.label()}" for role, p in unauthorised)
            self.add(
                "unauthorised-identity",
                f"{who} not authorised by the notice to commit: {commit.subject}",
                commit=commit.oid,
                details={
                    "identities": [
                        {"role": role, "name": p.name, "email": p.email}
                        for role, p in unauthorised
                    ]
                },
            )
        committer_ok = commit.committer.email_key in self.committers
        if committer_ok:
            foreign = []
            if commit.author.email_key not in self.committers:
                foreign.append(f"author {commit.author.label()}")
            for name, email in CO_AUTHOR.findall(commit.message):
                if normalise_email(email) not in self.committers:
                    foreign.append(f"co-author {name} <{email}>")
            if foreign:
                self.add(
                    "foreign-change",
                    f"authorised committer {commit.committer.label()} committed a change by "
                    f"{', '.join(foreign)}: {commit.subject}",
                    commit=commit.oid,
                    details={"others": foreign},
                )
        for person in (commit.author, commit.committer):
            identity = self.all_identities.get(person.email_key)
            if identity and identity.name and person.name != identity.name:
                key = (person.email_key, person.name)
                if key not in self.named:
                    self.named[key] = 0
                    self.add(
                        "identity-name-differs",
                        f"authorised email {person.email} used with the name "
                        f"{person.name!r}; the notice names {identity.name!r}",
                        commit=commit.oid,
                    )
                self.named[key] += 1

    def signature_problem(
        self, signature: SignatureInfo, identity: Identity | None, what: str
    ) -> tuple[str, str] | None:
        """(level, message) when a signature needs a look, else None."""
        if signature.state in (SSH_INVALID, UNREADABLE):
            return ERROR, f"{what} carries a {signature.describe()}"
        if identity is None or not identity.key_fingerprint:
            return None
        expected = identity.key_fingerprint
        if signature.state == UNSIGNED:
            return WARNING, f"{what} is unsigned; the notice names key {expected}"
        if fingerprints_match(expected, signature):
            if signature.state == OPENPGP:
                return (
                    NOTE,
                    f"{what} carries an {signature.describe()}, matching {expected}",
                )
            return None
        owner = next(
            (
                i
                for i in self.notice.identities
                if i.key_fingerprint
                and fingerprints_match(i.key_fingerprint, signature)
            ),
            None,
        )
        whose = (
            f" (the key of {owner.email})"
            if owner
            else " (a key the notice does not name)"
        )
        return ERROR, f"{what} carries an {signature.describe()}{whose}, not {expected}"

    def check_commit_signature(self, commit: Commit) -> None:
        identity = self.committers.get(commit.committer.email_key)
        problem = self.signature_problem(
            commit.signature, identity, f"commit by {commit.committer.label()}"
        )
        if problem:
            level, message = problem
            self.add("signature", message, level=level, commit=commit.oid)

    # paths

    def check_paths(
        self, commits: list[Commit], changes: dict[str, list[Change]]
    ) -> None:
        wanted_heads: set[str] = set()
        wanted_full: set[str] = set()
        for commit in commits:
            for change in changes.get(commit.oid, []):
                if change.status == "D" or _is_submodule(change.new_mode):
                    continue
                wanted_heads.add(change.new_oid)
                categories = path_categories(change.path)
                if "ignore-file" in categories or "build-system" in categories:
                    wanted_full.add(change.new_oid)
                    if not ZERO_OID.match(change.old_oid):
                        wanted_full.add(change.old_oid)
        heads = {
            oid: content
            for oid, kind, content in cat_file_batch(
                self.repo, sorted(wanted_heads - wanted_full), limit=BINARY_SNIFF_BYTES
            )
        }
        full = {
            oid: content
            for oid, kind, content in cat_file_batch(self.repo, sorted(wanted_full))
        }
        heads.update(full)
        for commit in commits:
            for change in changes.get(commit.oid, []):
                self.check_change(commit, change, heads, full)

    def check_change(
        self, commit: Commit, change: Change, heads: dict, full: dict
    ) -> None:
        path = change.path
        categories = path_categories(path)
        verb = {"A": "adds", "D": "deletes", "T": "changes the type of"}.get(
            change.status, "changes"
        )
        where = {"commit": commit.oid, "path": path}
        if "build-system" in categories:
            self.report_build_change(commit, change, verb, full, where)
        if "ci-fuzzing" in categories:
            self.add(
                "ci-fuzzing", f"{verb} CI or fuzzing configuration {path}", **where
            )
        if "security-policy" in categories:
            self.add(
                "security-policy",
                f"{verb} security policy, contact or maintainer file {path}",
                **where,
            )
        if "ignore-file" in categories and change.status != "D":
            self.report_ignore_change(change, full, where)
        if change.status in ("A", "M", "T") and not _is_submodule(change.new_mode):
            head = heads.get(change.new_oid, b"")
            if change.new_mode != "120000" and looks_binary(path, head):
                replaced = "replaces" if change.status != "A" else "adds"
                if under_test_directory(path):
                    self.add(
                        "binary-file",
                        f"{replaced} binary file {path} under a test directory",
                        level=ERROR,
                        **where,
                    )
                else:
                    self.add(
                        "binary-file",
                        f"{replaced} binary file {path}",
                        level=WARNING,
                        **where,
                    )

    def report_build_change(
        self, commit: Commit, change: Change, verb: str, full: dict, where: dict
    ) -> None:
        message = f"{verb} build-system file {change.path}"
        level = WARNING
        details: dict = {}
        old = full.get(change.old_oid)
        new = full.get(change.new_oid)
        if (
            change.status == "M"
            and old is not None
            and new is not None
            and max(len(old), len(new)) <= MAX_DIFF_BYTES
            and b"\0" not in old + new
        ):
            tiny = _tiny_change(old, new)
            if tiny is not None:
                chars, line = tiny
                level = ERROR
                message += (
                    f": a change of only {chars} character{'s' if chars != 1 else ''} "
                    f"in {line!r}; a single stray character can silently disable a check"
                )
                details = {"changed_characters": chars, "line": line}
        self.add("build-system", message, level=level, details=details, **where)

    def report_ignore_change(self, change: Change, full: dict, where: dict) -> None:
        old = (
            full.get(change.old_oid, b"") if not ZERO_OID.match(change.old_oid) else b""
        )
        new = full.get(change.new_oid, b"")
        before = set(_pattern_lines(old))
        added = [line for line in _pattern_lines(new) if line not in before]
        if not added:
            return
        is_attributes = change.path.lower().endswith(".gitattributes")
        hiding = []
        for line in added:
            if is_attributes:
                pattern, _, attributes = line.partition(" ")
                if any(a in attributes.split() for a in HIDING_ATTRIBUTES) and (
                    pattern_hides_build_input(pattern) or "export-ignore" in attributes
                ):
                    hiding.append(line)
            elif not line.startswith("!") and pattern_hides_build_input(line):
                hiding.append(line)
        shown = ", ".join(repr(p) for p in added[:10]) + (
            " ..." if len(added) > 10 else ""
        )
        message = f"adds to {change.path}: {shown}"
        if hiding:
            message += f"; {', '.join(repr(p) for p in hiding)} can hide build inputs"
        self.add(
            "ignore-file",
            message,
            level=ERROR if hiding else WARNING,
            details={"added_patterns": added, "hides_build_inputs": hiding},
            **where,
        )

    # tags

    def scan_tags(self, window_commits: set[str]) -> list[Tag]:
        out = run_git(
            self.repo,
            "for-each-ref",
            "--format=%(refname)%00%(objectname)%00%(objecttype)",
            "refs/tags",
        )
        refs = []
        for line in out.split(b"\n"):
            if line:
                ref, oid, kind = line.decode("utf-8", errors="replace").split("\0")
                refs.append((ref, oid, kind))
        tags: list[Tag] = []
        tag_objects = {
            oid: parse_tag_object(raw)
            for oid, kind, raw in cat_file_batch(
                self.repo, [oid for _, oid, kind in refs if kind == "tag"]
            )
            if kind == "tag"
        }
        for ref, oid, kind in refs:
            name = ref.removeprefix("refs/tags/")
            if kind == "tag" and oid in tag_objects:
                fields = tag_objects[oid]
                target, target_type = self.peel(
                    fields.get("object"), fields.get("type")
                )
                tagger = fields["tagger"]
                tags.append(
                    Tag(ref, name, oid, True, target, target_type,
                        tagger.timestamp if tagger else None, tagger, fields["signature"])
                )  # fmt: skip
            else:
                tags.append(
                    Tag(
                        ref,
                        name,
                        oid,
                        False,
                        oid,
                        kind,
                        None,
                        None,
                        SignatureInfo(UNSIGNED),
                    )
                )
        lightweight_targets = [t.target for t in tags if not t.annotated and t.target]
        dates = {
            oid: parse_commit(oid, raw).committer.timestamp
            for oid, kind, raw in cat_file_batch(
                self.repo, sorted(set(lightweight_targets))
            )
            if kind == "commit"
        }
        versions = {_version(r.version) for r in self.notice.releases}
        in_window = []
        for tag in tags:
            if not tag.annotated:
                tag.date = dates.get(tag.target)
            if self.in_window(tag.date) or tag.target in window_commits:
                tag.listed_in_notice = _version(tag.name) in versions
                self.check_tag(tag)
                in_window.append(tag)
        return in_window

    def peel(self, oid: str | None, kind: str | None) -> tuple[str | None, str]:
        seen = set()
        while kind == "tag" and oid and oid not in seen:
            seen.add(oid)
            objects = list(cat_file_batch(self.repo, [oid]))
            if not objects or objects[0][1] != "tag":
                break
            fields = parse_tag_object(objects[0][2])
            oid, kind = fields.get("object"), fields.get("type")
        return oid, kind or "unknown"

    def check_tag(self, tag: Tag) -> None:
        where = {"ref": tag.ref, "commit": tag.target}
        listed = "listed" if tag.listed_in_notice else "NOT listed"
        if tag.annotated and tag.tagger:
            self.add(
                "tag-in-window",
                f"tag {tag.name} by {tag.tagger.label()}, {tag.signature.describe()}; "
                f"{listed} among the notice's releases",
                **where,
            )
            identity = self.releasers.get(tag.tagger.email_key)
            if identity is None:
                self.add(
                    "unauthorised-release",
                    f"tag {tag.name} by {tag.tagger.label()}, who the notice does not "
                    "authorise to release",
                    **where,
                )
            problem = self.signature_problem(
                tag.signature, identity, f"tag {tag.name} by {tag.tagger.label()}"
            )
            if problem:
                self.add("signature", problem[1], level=problem[0], **where)
        else:
            self.add(
                "tag-in-window",
                f"lightweight tag {tag.name}: no tagger and no signature, so nobody can tell "
                f"who made it; {listed} among the notice's releases",
                level=WARNING,
                **where,
            )


def _seconds(value: bytes) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _is_submodule(mode: str) -> bool:
    return mode == "160000"


def _version(name: str) -> str:
    name = name.removeprefix("refs/tags/").rsplit("/", 1)[-1]
    return name[1:] if name[:1] in ("v", "V") and name[1:2].isdigit() else name


def _pattern_lines(content: bytes) -> list[str]:
    lines = []
    for raw in content.decode("utf-8", errors="replace").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def _tiny_change(old: bytes, new: bytes) -> tuple[int, str] | None:
    """If the texts differ in one place by a few characters, not all digits (a version
    bump is not suspicious), return (count, the changed line)."""
    old_lines = old.decode("utf-8", errors="replace").splitlines()
    new_lines = new.decode("utf-8", errors="replace").splitlines()
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    changed = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    if len(changed) != 1:
        return None
    _, i1, i2, j1, j2 = changed[0]
    before = "".join(line + "\n" for line in old_lines[i1:i2])
    after = "".join(line + "\n" for line in new_lines[j1:j2])
    if abs(len(before) - len(after)) > TINY_CHANGE_CHARS:
        return None
    chars = 0
    touched = []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(
        None, before, after, autojunk=False
    ).get_opcodes():
        if op != "equal":
            chars += max(a2 - a1, b2 - b1)
            touched.append(before[a1:a2] + after[b1:b2])
    if chars > TINY_CHANGE_CHARS or "".join(touched).strip().isdigit():
        return None
    return chars, (after.strip() or before.strip())[:200]


def summarise_unauthorised(commits: list[Commit], committers: dict) -> list[dict]:
    """Per unauthorised email: names used, number of commits, first and last commit."""
    people: dict[str, dict] = {}
    for commit in commits:  # already in committer-date order
        for role, person in (
            ("author", commit.author),
            ("committer", commit.committer),
        ):
            if person.email_key in committers:
                continue
            entry = people.setdefault(
                person.email_key,
                {
                    "email": person.email,
                    "names": [],
                    "roles": [],
                    "commits": 0,
                    "first": None,
                    "last": None,
                    "_seen": set(),
                },
            )
            if person.name not in entry["names"]:
                entry["names"].append(person.name)
            if role not in entry["roles"]:
                entry["roles"].append(role)
            if commit.oid in entry["_seen"]:
                continue
            entry["_seen"].add(commit.oid)
            entry["commits"] += 1
            point = {
                "commit": commit.oid,
                "date": commit.committer.timestamp,
                "subject": commit.subject,
            }
            entry["first"] = entry["first"] or point
            entry["last"] = point
    for entry in people.values():
        del entry["_seen"]
    return sorted(people.values(), key=lambda e: (-e["commits"], e["email"]))


__all__ = [
    "GitError",
    "scan_repository",
    "path_categories",
    "pattern_hides_build_input",
]


def scan_repository(path: str | os.PathLike, notice: Notice) -> ScanResult:
    """Scrutinise every ref of the repository at `path` for the notice's window."""
    repo = open_repository(path)
    scanner = _Scanner(repo, notice)
    total, commits, tags = scanner.scan()
    return ScanResult(
        notice_id=notice.id,
        repository=str(path),
        window={
            "start": notice.window_start.isoformat(),
            "end": notice.window_end.isoformat() if notice.window_end else None,
        },
        commits_total=total,
        commits=commits,
        tags=tags,
        findings=scanner.findings,
        unauthorised=summarise_unauthorised(commits, scanner.committers),
    )
