"""Benchmark: the notices API and Atom feed under `wrk` against gunicorn, on PostgreSQL.

    .venv/bin/python tests/bench/bench_api.py --notices 1000

Creates its own database (steady_bench_api by default) on the PostgreSQL server named by
DATABASE_URL (else postgres://postgres@127.0.0.1:5432), migrates it, publishes `--notices`
notices through the real services (drafted, approved, signed, logged), starts gunicorn on a free
port of 127.0.0.1 with DEBUG off, runs `wrk` against each URL, prints throughput and latency,
then stops gunicorn and drops the database (unless --keep). Needs `wrk` on the PATH. Not
collected by pytest; figures go to docs/benchmarks.md.
"""

import argparse
import base64
import datetime
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
ECOSYSTEMS = ("pypi", "npm", "cargo", "gem", "nuget", "generic")


def parse_args():
    parser = argparse.ArgumentParser(
        description="Throughput of the notices API and feed."
    )
    parser.add_argument("--notices", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per URL")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--db-name", default="steady_bench_api")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    return parser.parse_args()


def bench_database_url(db_name: str) -> str:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        base = "postgres://postgres@127.0.0.1:5432/postgres"
    return urlunsplit(urlsplit(base)._replace(path=f"/{db_name}"))


def on_server(url: str, *statements: str) -> None:
    import psycopg

    maintenance = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def configure(url: str) -> None:
    """Production-like settings from the environment, shared with the gunicorn process."""
    sys.path.insert(0, str(ROOT))
    from portal.lib.sshsig import generate_signing_key

    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "false"
    os.environ["SECRET_KEY"] = base64.b64encode(os.urandom(48)).decode()
    key = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    os.environ["CASE_MASTER_KEYS"] = f"1:{key}"
    os.environ["NOTICE_SIGNING_KEYS"] = generate_signing_key(datetime.date(2026, 1, 1))
    os.environ["CELERY_BROKER_URL"] = ""
    os.environ["EMAIL_URL"] = "dummymail://"
    os.environ["CACHE_URL"] = f"filecache://{tempfile.mkdtemp(prefix='steady-bench-')}"
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"


def seed(count: int) -> list[str]:
    """Publish `count` notices through the services; return their ids."""
    from portal.accounts import roles
    from portal.accounts.models import User
    from portal.notices import services
    from portal.notices.content import Identity, NoticeContent, Release, Steward

    drafter, approver = (
        User.objects.create(email=f"caseworker{i}@bench.example", display_name=f"C{i}")
        for i in range(2)
    )
    for user in (drafter, approver):
        roles.grant_role(user, roles.CASEWORKER)
    references = []
    for n in range(count):
        ecosystem = ECOSYSTEMS[n % len(ECOSYSTEMS)]
        name = f"bench-lib-{n}"
        content = NoticeContent(
            project_name=name,
            ecosystem=ecosystem,
            repository_url=f"https://github.com/bench/{name}",
            purls=(f"pkg:{ecosystem}/{name}",),
            window_start=datetime.date(2026, 11, 1),
            window_end=None,
            scope=("triage", "review", "merge", "release"),
            stewards=(Steward(handle=f"steward{n % 50}", name=f"Steward {n % 50}"),),
            authorized_identities=(
                Identity(
                    name=f"Steward {n % 50}",
                    email=f"steward{n % 50}@bench.example",
                    key_fingerprint=None,
                    may=("commit", "release"),
                ),
            ),
            guidance="Only releases signed by the interim steward are expected.",
            releases=(Release(version="1.0.1", date=datetime.date(2026, 11, 18)),),
        )
        notice = services.draft_notice(actor=drafter, content=content)
        services.approve_revision(revision=notice.revisions.get(), actor=approver)
        notice.refresh_from_db(fields=["reference"])
        references.append(notice.reference)
    return references


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - 127.0.0.1
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer {url}")


_RATE = re.compile(r"Requests/sec:\s+([0-9.]+)")
_PERCENTILE = re.compile(r"^\s+(50|90|99)%\s+([0-9.]+)(us|ms|s)\s*$", re.M)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+([0-9]+)")


def wrk(args, url: str, *headers: str) -> dict:
    command = [
        shutil.which("wrk"),
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--latency",
    ]
    for header in headers:
        command += ["-H", header]
    out = subprocess.run(  # noqa: S603 - our arguments
        [*command, url], capture_output=True, text=True, check=True
    ).stdout
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    latency = {p: float(v) * scale[u] for p, v, u in _PERCENTILE.findall(out)}
    errors = _NON_2XX.search(out)
    return {
        "rps": float(_RATE.search(out).group(1)),
        "p50": latency["50"],
        "p90": latency["90"],
        "p99": latency["99"],
        "errors": int(errors.group(1)) if errors else 0,
    }


def main():
    args = parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not on the PATH.")
    url = bench_database_url(args.db_name)
    configure(url)
    on_server(
        url,
        f'DROP DATABASE IF EXISTS "{args.db_name}"',
        f'CREATE DATABASE "{args.db_name}"',
    )
    server = None
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        references = seed(args.notices)
        print(
            f"published {args.notices} notices in {time.perf_counter() - started:.1f} s"
        )

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(  # noqa: S603 - our arguments
            [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                "portal.wsgi",
                f"--workers={args.workers}",
                f"--bind=127.0.0.1:{port}",
                "--log-level=warning",
            ],
            cwd=ROOT,
            start_new_session=True,
        )
        wait_for(f"{base}/api/v1/notices")
        with urllib.request.urlopen(f"{base}/api/v1/notices") as response:  # noqa: S310
            etag = response.headers["ETag"]
        middle = references[len(references) // 2]
        targets = [
            ("list, first page (50)", "/api/v1/notices", ()),
            (
                "list, ecosystem filter",
                "/api/v1/notices?ecosystem=npm&status=active",
                (),
            ),
            ("list, purl filter", f"/api/v1/notices?purl=pkg:npm/bench-lib-{1}", ()),
            (
                "list, If-None-Match (304)",
                "/api/v1/notices",
                (f"If-None-Match: {etag}",),
            ),
            ("notice bytes", f"/api/v1/notices/{middle}", ()),
            ("Atom feed (50 entries)", "/notices/feed.atom", ()),
            ("ecosystem feed", "/notices/ecosystem/npm/feed.atom", ()),
        ]
        print(
            f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
            f"gunicorn --workers={args.workers}, {args.notices} notices"
        )
        print(
            f"{'URL':32} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'non-2xx':>8}"
        )
        for label, path, headers in targets:
            figures = wrk(args, base + path, *headers)
            print(
                f"{label:32} {figures['rps']:8.0f} {figures['p50']:8.1f} "
                f"{figures['p90']:8.1f} {figures['p99']:8.1f} {figures['errors']:8d}"
            )
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        if not args.keep:
            from django.db import connections

            connections.close_all()
            on_server(url, f'DROP DATABASE IF EXISTS "{args.db_name}"')


if __name__ == "__main__":
    main()
