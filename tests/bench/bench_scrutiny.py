"""Benchmark: scrutinize a handover window of 10,000 commits, and a 10,000-file tarball.

    .venv/bin/python tests/bench/bench_scrutiny.py
    .venv/bin/python tests/bench/bench_scrutiny.py --commits 10000 --files 10000 --runs 7

Builds a repository in a temporary directory with `git fast-import`: a base commit before the
window with --files files in 100-file directories, then --commits commits inside the window by
five identities (two authorised), each changing one file; every 50th also touches configure.ac,
every 100th adds a binary file under tests/, every 500th is on a side branch of its own, every
1000th is tagged. Times `scan_repository` and `scrutinize_tarball` (against `git archive` of
the last tag) over --runs runs after one warm-up. Prints median and p95 per step. Not collected by pytest; figures go to
docs/benchmarks.md.
"""

# The benchmark runs git with fixed arguments.
# ruff: noqa: S603, S607

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WINDOW_START = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
PEOPLE = [
    ("Stella Steward", "stella@example.org"),
    ("Max Maintainer", "max@example.org"),
    ("Jia Newcomer", "jia@example.net"),
    ("Eve Helper", "eve@example.net"),
    ("Dan Drive-by", "dan@example.com"),
]


def parse_args():
    parser = argparse.ArgumentParser(description="Time the scrutiny commands.")
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    return parser.parse_args()


def git_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
    }


def data(payload: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(payload), payload)


def build(repo: Path, commits: int, files: int) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    chunks: list[bytes] = []
    base = int((WINDOW_START - datetime.timedelta(days=30)).timestamp())
    ident = b"Max Maintainer <max@example.org> %d +0000" % base
    chunks.append(b"commit refs/heads/main\nmark :1\n")
    chunks.append(b"author %s\ncommitter %s\n" % (ident, ident))
    chunks.append(data(b"Base"))
    chunks.append(
        b"M 100644 inline configure.ac\n" + data(b"AC_INIT([bench], [1.0])\nAC_OUTPUT")
    )
    for n in range(files):
        chunks.append(
            b"M 100644 inline src/d%03d/f%05d.c\n" % (n // 100, n)
            + data(b"int f%d;" % n)
        )
    start = int(WINDOW_START.timestamp())
    last_main = 1
    for i in range(commits):
        mark = i + 2
        name, email = PEOPLE[i % len(PEOPLE)]
        when = start + i * 60
        who = b"%s <%s> %d +0000" % (name.encode(), email.encode(), when)
        side = i % 500 == 499
        branch = b"refs/heads/side-%d" % i if side else b"refs/heads/main"
        chunks.append(b"commit %s\nmark :%d\n" % (branch, mark))
        chunks.append(b"author %s\ncommitter %s\n" % (who, who))
        chunks.append(data(b"Change %d" % i))
        chunks.append(b"from :%d\n" % last_main)
        if not side:
            last_main = mark
        chunks.append(
            b"M 100644 inline src/d%03d/f%05d.c\n"
            % ((i % max(files, 1)) // 100, i % max(files, 1))
            + data(b"int f%d = %d;" % (i, i))
        )
        if i % 50 == 0:
            chunks.append(
                b"M 100644 inline configure.ac\n"
                + data(b"AC_INIT([bench], [1.%d])\nAC_OUTPUT" % i)
            )
        if i % 100 == 0:
            chunks.append(
                b"M 100644 inline tests/data/b%05d.bin\n" % i + data(b"\x00\x01" * 64)
            )
        if i % 1000 == 999:
            chunks.append(b"reset refs/tags/v1.%d\nfrom :%d\n" % (i, mark))
    stream = b"".join(chunks) + b"done\n"
    subprocess.run(
        ["git", "fast-import", "--quiet", "--done"],
        cwd=repo,
        input=stream,
        check=True,
        env=git_env(repo.parent),
    )


def timed(function, runs: int) -> tuple[list[float], object]:
    function()  # warm-up: the OS page cache, Python imports
    times, result = [], None
    for _ in range(runs):
        began = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - began)
    return times, result


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    args = parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from portal.scrutiny.gitscan import scan_repository
    from portal.scrutiny.notice_source import parse_notice
    from portal.scrutiny.tarball import scrutinize_tarball

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        repo = tmp / "bench"
        began = time.perf_counter()
        build(repo, args.commits, args.files)
        print(
            f"built {args.commits} window commits, {args.files} files in {time.perf_counter() - began:.1f} s"
        )
        notice = parse_notice(
            json.dumps(
                {
                    "format": "steady-notice/1",
                    "id": "HN-2026-0001",
                    "revision": 1,
                    "status": "active",
                    "window": {"start": "2026-11-01", "end": None},
                    "authorized_identities": [
                        {
                            "name": n,
                            "email": e,
                            "key_fingerprint": None,
                            "may": ["commit", "release"],
                        }
                        for n, e in PEOPLE[:2]
                    ],
                    "releases": [],
                }
            ).encode()
        )
        times, result = timed(lambda: scan_repository(repo, notice), args.runs)
        print(
            f"scan: {result.commits_total} commits on all refs, {len(result.commits)} in the window, "
            f"{len(result.tags)} tags, {len(result.findings)} findings"
        )
        print(
            f"scan: median {statistics.median(times):.2f} s, p95 {p95(times):.2f} s over {args.runs} runs"
        )

        last_tag = result.tags[-1].name if result.tags else None
        if last_tag:
            tarball = tmp / "release.tar.gz"
            with tarball.open("wb") as out:
                subprocess.run(
                    ["git", "archive", "--format=tar.gz", "--prefix=bench/", last_tag],
                    cwd=repo,
                    stdout=out,
                    check=True,
                    env=git_env(tmp),
                )
            times, tar_result = timed(
                lambda: scrutinize_tarball(tarball, repo, last_tag), args.runs
            )
            print(
                f"tarball: {tar_result.members} members, {tar_result.compared} compared, "
                f"{len(tar_result.findings)} findings"
            )
            print(
                f"tarball: median {statistics.median(times):.2f} s, p95 {p95(times):.2f} s "
                f"over {args.runs} runs"
            )


if __name__ == "__main__":
    main()
