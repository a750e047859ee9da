"""Text, JSON and SARIF 2.1.0 output for the scrutiny commands."""

import datetime
import hashlib
import json
import re
from collections import Counter
from urllib.parse import quote

from portal.scrutiny.findings import ERROR, NOTE, RULES, WARNING, Finding

FORMATS = ("text", "json", "sarif")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL_ORDER = {ERROR: 0, WARNING: 1, NOTE: 2}
# Control characters, and the bidirectional overrides that reorder text on screen.
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(line: str) -> str:
    """A line safe to print to a terminal, with every control character shown as an escape.

    SECURITY: names, emails, subjects and paths come from the scanned repository or tarball;
    raw, an escape sequence could repaint the terminal and hide the findings above it.
    """
    return UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


def _join(lines: list[str]) -> str:
    return "\n".join(printable(line) for line in lines) + "\n"


def _when(timestamp: int | None) -> str | None:
    if timestamp is None:
        return None
    try:
        moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        # A forged date git accepts but a calendar cannot hold.
        return f"@{timestamp}"
    return moment.isoformat().replace("+00:00", "Z")


def _ordered(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (LEVEL_ORDER.get(f.level, 3), f.rule))


def summary_counts(findings: list[Finding]) -> dict:
    return {
        "by_rule": dict(sorted(Counter(f.rule for f in findings).items())),
        "by_level": {
            level: sum(1 for f in findings if f.level == level)
            for level in (ERROR, WARNING, NOTE)
        },
        "flagged": any(f.level in (ERROR, WARNING) for f in findings),
    }


# --- scrutinize ---------------------------------------------------------------------------


def scan_to_dict(result) -> dict:
    summary = summary_counts(result.findings)
    summary["unauthorised_identities"] = [
        {
            **entry,
            "first": _point(entry["first"]),
            "last": _point(entry["last"]),
        }
        for entry in result.unauthorised
    ]
    summary["signatures"] = dict(
        sorted(Counter(c.signature.state for c in result.commits).items())
    )
    return {
        "tool": "steady scrutinize",
        "notice": result.notice_id,
        "repository": result.repository,
        "window": result.window,
        "commits_scanned": result.commits_total,
        "commits_in_window": len(result.commits),
        "tags_in_window": len(result.tags),
        "summary": summary,
        "findings": [f.as_dict() for f in _ordered(result.findings)],
        "commits": [
            {
                "commit": c.oid,
                "author": {"name": c.author.name, "email": c.author.email},
                "author_date": _when(c.author.timestamp),
                "committer": {"name": c.committer.name, "email": c.committer.email},
                "committer_date": _when(c.committer.timestamp),
                "subject": c.subject,
                "signature": _signature(c.signature),
            }
            for c in result.commits
        ],
        "tags": [
            {
                "ref": t.ref,
                "name": t.name,
                "annotated": t.annotated,
                "target": t.target,
                "date": _when(t.date),
                "tagger": {"name": t.tagger.name, "email": t.tagger.email}
                if t.tagger
                else None,
                "signature": _signature(t.signature),
                "listed_in_notice": t.listed_in_notice,
            }
            for t in result.tags
        ],
    }


def _point(point: dict | None) -> dict | None:
    if point is None:
        return None
    return {**point, "date": _when(point["date"])}


def _signature(signature) -> dict:
    return {
        "state": signature.state,
        "fingerprint": signature.fingerprint,
        "key_id": signature.key_id,
        "description": signature.describe(),
    }


def scan_text(result) -> str:
    data = scan_to_dict(result)
    window = result.window
    lines = [
        f"Scrutiny of {result.repository} for notice {result.notice_id}",
        f"Window: {window['start']} to {window['end'] or 'now (open)'} (UTC; a commit counts "
        "when its author or committer date falls inside)",
        f"Commits on all refs: {result.commits_total}; in the window: {len(result.commits)}; "
        f"tags in the window: {len(result.tags)}",
        "",
    ]
    lines += _findings_text(result.findings)
    lines.append("Summary")
    lines += _summary_text(data["summary"])
    unauthorised = data["summary"]["unauthorised_identities"]
    if unauthorised:
        lines.append("")
        lines.append("Unauthorised identities")
        for entry in unauthorised:
            lines.append(
                f"  {entry['email']} ({', '.join(entry['names'])}) as "
                f"{' and '.join(entry['roles'])}: {entry['commits']} commit(s)"
            )
            lines.append(
                f"    first {entry['first']['commit'][:12]} {entry['first']['date']} "
                f"{entry['first']['subject']}"
            )
            lines.append(
                f"    last  {entry['last']['commit'][:12]} {entry['last']['date']} "
                f"{entry['last']['subject']}"
            )
    if result.tags:
        lines.append("")
        lines.append("Tags in the window")
        for tag in data["tags"]:
            who = tag["tagger"]["email"] if tag["tagger"] else "lightweight, no tagger"
            lines.append(
                f"  {tag['name']}  {tag['date']}  {who}  {tag['signature']['description']}"
            )
    lines.append("")
    lines.append(_verdict(data["summary"]))
    return _join(lines)


def _findings_text(findings: list[Finding]) -> list[str]:
    if not findings:
        return ["No findings.", ""]
    lines = []
    for finding in _ordered(findings):
        where = []
        if finding.commit:
            where.append(finding.commit[:12])
        if finding.ref:
            where.append(finding.ref)
        if finding.path and finding.path not in finding.message:
            where.append(finding.path)
        prefix = f"[{finding.level}] {finding.rule}"
        lines.append(f"{prefix}  {' '.join(where)}".rstrip())
        lines.append(f"    {finding.message}")
    lines.append("")
    return lines


def _summary_text(summary: dict) -> list[str]:
    lines = [f"  {rule}: {count}" for rule, count in summary["by_rule"].items()]
    levels = summary["by_level"]
    lines.append(
        f"  errors: {levels[ERROR]}, warnings: {levels[WARNING]}, notes: {levels[NOTE]}"
    )
    if "signatures" in summary:
        states = (
            ", ".join(f"{k}: {v}" for k, v in summary["signatures"].items()) or "none"
        )
        lines.append(f"  commit signatures: {states}")
    return lines


def _verdict(summary: dict) -> str:
    if summary["flagged"]:
        levels = summary["by_level"]
        return (
            f"Result: FLAGGED ({levels[ERROR]} error(s), {levels[WARNING]} warning(s)) "
            "- review the findings above."
        )
    return "Result: nothing flagged."


# --- scrutinize-tarball -------------------------------------------------------------------


def tarball_to_dict(result) -> dict:
    return {
        "tool": "steady scrutinize-tarball",
        "tarball": result.tarball,
        "repository": result.repository,
        "tag": result.tag,
        "tree": result.tree,
        "top_level_directory": result.prefix,
        "members": result.members,
        "files_compared": result.compared,
        "summary": summary_counts(result.findings),
        "findings": [f.as_dict() for f in _ordered(result.findings)],
    }


def tarball_text(result) -> str:
    data = tarball_to_dict(result)
    lines = [
        f"Tarball {result.tarball} against tag {result.tag} of {result.repository}",
        f"Members: {result.members}; files compared with the tagged tree: {result.compared}; "
        f"top-level directory stripped: {result.prefix or '(none)'}",
        "",
    ]
    lines += _findings_text(result.findings)
    lines.append("Summary")
    lines += _summary_text(data["summary"])
    lines.append("")
    lines.append(_verdict(data["summary"]))
    return _join(lines)


# --- SARIF 2.1.0 --------------------------------------------------------------------------


def sarif(
    findings: list[Finding], *, tool: str, repository_uri: str | None, properties: dict
) -> dict:
    """A SARIF 2.1.0 log with one run: every rule, and one result per finding."""
    rule_ids = list(RULES)
    results = []
    for finding in _ordered(findings):
        fingerprint = hashlib.sha256(
            "\0".join(
                [
                    finding.rule,
                    finding.commit or "",
                    finding.path or "",
                    finding.ref or "",
                ]
            ).encode("utf-8", errors="surrogateescape")
        ).hexdigest()
        result = {
            "ruleId": finding.rule,
            "ruleIndex": rule_ids.index(finding.rule),
            "level": finding.level,
            "message": {"text": finding.message},
            "partialFingerprints": {"steadyFinding/v1": fingerprint},
            "properties": {
                key: value
                for key, value in (("commit", finding.commit), ("ref", finding.ref))
                if value
            },
        }
        if finding.path:
            result["locations"] = [
                {"physicalLocation": {"artifactLocation": {"uri": _uri(finding.path)}}}
            ]
        else:
            name = finding.ref or (
                f"commit/{finding.commit}" if finding.commit else "repository"
            )
            result["locations"] = [
                {"logicalLocations": [{"fullyQualifiedName": name, "kind": "resource"}]}
            ]
        results.append(result)
    run: dict = {
        "tool": {
            "driver": {
                "name": tool,
                "rules": [
                    {
                        "id": rule.id,
                        "name": rule.name,
                        "shortDescription": {"text": rule.summary},
                        "fullDescription": {"text": rule.help},
                        "help": {"text": rule.help},
                        "defaultConfiguration": {"level": rule.level},
                    }
                    for rule in RULES.values()
                ],
            }
        },
        "results": results,
        "properties": properties,
    }
    if repository_uri:
        run["versionControlProvenance"] = [{"repositoryUri": repository_uri}]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _uri(path: str) -> str:
    # Paths are bytes in git and tar; undecodable bytes travel as surrogates until here.
    return quote(path.encode("utf-8", errors="surrogateescape"), safe="/-._~")


def render(result, fmt: str, *, kind: str, repository_uri: str | None = None) -> str:
    """The command's output for `result` (a ScanResult or TarballResult) in `fmt`.

    Always valid UTF-8: bytes of a path or name that were not UTF-8 appear as escapes.
    """
    text = _render(result, fmt, kind=kind, repository_uri=repository_uri)
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def _render(result, fmt: str, *, kind: str, repository_uri: str | None) -> str:
    if kind == "scan":
        data, text = scan_to_dict, scan_text
    else:
        data, text = tarball_to_dict, tarball_text
    if fmt == "text":
        return text(result)
    if fmt == "json":
        return json.dumps(data(result), indent=2, ensure_ascii=False) + "\n"
    summary = summary_counts(result.findings)
    log = sarif(
        result.findings,
        tool=f"steady {'scrutinize' if kind == 'scan' else 'scrutinize-tarball'}",
        repository_uri=repository_uri,
        properties={"summary": summary},
    )
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
