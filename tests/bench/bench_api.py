"""Benchmark: the notice API, the Atom feed and the notice list under `wrk`, served by gunicorn.

    .venv/bin/python tests/bench/bench_api.py --notices 1000

Creates its own database (steady_bench_api by default) on the PostgreSQL server named by
DATABASE_URL (else postgres://postgres@127.0.0.1:5432), migrates it, publishes `--notices`
notices through the real services (each one signed and appended to the transparency log), starts
`gunicorn portal.wsgi` on 127.0.0.1 with DEBUG off, and runs `wrk` (apt-get install wrk) against
each URL after a warm-up, printing throughput and the median, p95 and p99 latency. Stops gunicorn
and drops the database (unless --keep). Not collected by pytest.
"""

import argparse
import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
ECOSYSTEMS = ("pypi", "npm", "cargo", "maven", "golang", "generic")
URLS = (
    "/api/v1/notices",
    "/api/v1/notices?ecosystem=pypi",
    "/api/v1/notices?status=active&page_size=100",
    "/notices/feed.atom",
    "/notices/",
)
# wrk prints no p95 by itself; this reports the percentiles from its full latency histogram.
WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d seconds=%.3f errors=%d non2xx=%d\\n",
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout, summary.errors.status))
  io.write(string.format("RESULT p50=%.2f p95=%.2f p99=%.2f max=%.2f\\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def parse_args():
    parser = argparse.ArgumentParser(
        description="Throughput and latency of the notice API, feed and list under wrk."
    )
    parser.add_argument("--notices", type=int, default=1000)
    parser.add_argument(
        "--gunicorn-workers", type=int, default=2, help="sync workers (default 2)"
    )
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--duration", type=int, default=20, help="seconds per URL")
    parser.add_argument("--db-name", default="steady_bench_api")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    return parser.parse_args()


def bench_database_url(db_name: str) -> str:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        base = "postgres://postgres@127.0.0.1:5432/postgres"
    return urlunsplit(urlsplit(base)._replace(path=f"/{db_name}"))


def on_server(url: str, *statements: str) -> None:
    """Run statements on the server's maintenance database (CREATE / DROP DATABASE)."""
    import psycopg

    maintenance = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def configure(url: str) -> dict[str, str]:
    """Production-like settings from the environment, for this process and gunicorn alike."""
    seed = base64.b64encode(os.urandom(32)).decode()
    key = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    env = {
        "DATABASE_URL": url,
        "DEBUG": "false",
        "SECRET_KEY": base64.b64encode(os.urandom(48)).decode(),
        "CASE_MASTER_KEYS": f"1:{key}",
        "NOTICE_SIGNING_KEYS": f"2026-01-01:{seed}",
        # Publishing queues sends; there are no subscribers, so in process is enough.
        "CELERY_BROKER_URL": "",
        "EMAIL_URL": "dummymail://",
        "CACHE_URL": f"filecache://{tempfile.mkdtemp(prefix='steady-bench-')}",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": "http://127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    return env


def seed(count: int) -> None:
    """`count` notices, published through the services, spread over six ecosystems."""
    from portal.accounts import roles
    from portal.accounts.models import User
    from portal.notices import services
    from tests.portal.notices.publishing import content

    drafter, approver = (
        User.objects.create(email=f"{name}@bench.example", display_name=name)
        for name in ("cara", "colin")
    )
    for user in (drafter, approver):
        roles.grant_role(user, roles.CASEWORKER)
    for n in range(count):
        ecosystem = ECOSYSTEMS[n % len(ECOSYSTEMS)]
        name = f"bench-project-{n}"
        purl = {
            "maven": f"pkg:maven/org.bench/{name}",
            "golang": f"pkg:golang/example.org/{name}",
        }.get(ecosystem, f"pkg:{ecosystem}/{name}")
        notice = services.draft_notice(
            actor=drafter,
            content=content(project_name=name, ecosystem=ecosystem, purls=(purl,)),
        )
        services.approve_revision(revision=notice.revisions.get(), actor=approver)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/notices/feed.atom", timeout=5) as r:  # noqa: S310 - our own server
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("gunicorn did not come up")


def run_wrk(args, base: str, path: str, script: Path) -> dict[str, float]:
    command = [
        shutil.which("wrk") or "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "-s",
        str(script),
        base + path,
    ]
    # Warm-up: fill caches and let gunicorn's workers import everything.
    subprocess.run([*command[:3], "-d3s", base + path], check=True, capture_output=True)  # noqa: S603
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603
    figures = dict(
        re.findall(
            r"(\w+)=([\d.]+)",
            " ".join(line for line in output.splitlines() if line.startswith("RESULT")),
        )
    )
    return {k: float(v) for k, v in figures.items()}


def main() -> None:
    args = parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    url = bench_database_url(args.db_name)
    env = configure(url)
    on_server(
        url,
        f'DROP DATABASE IF EXISTS "{args.db_name}"',
        f'CREATE DATABASE "{args.db_name}"',
    )
    work = Path(tempfile.mkdtemp(prefix="steady-api-bench-"))
    script = work / "percentiles.lua"
    script.write_text(WRK_SCRIPT)
    server = None
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection, connections

        call_command("migrate", verbosity=0)
        call_command("collectstatic", "--noinput", verbosity=0)
        started = time.monotonic()
        seed(args.notices)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        connections.close_all()
        print(
            f"published {args.notices:,} notices in {time.monotonic() - started:.1f} s"
        )

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = (work / "gunicorn.log").open("wb")
        server = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi",
                f"--bind=127.0.0.1:{port}",
                f"--workers={args.gunicorn_workers}",
                "--worker-class=sync",
                "--log-level=warning",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until_up(base)
        print(
            f"gunicorn: {args.gunicorn_workers} sync workers; wrk: {args.threads} threads, "
            f"{args.connections} connections, {args.duration} s per URL"
        )
        print(
            f"{'URL':48} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'non-2xx':>8}"
        )
        for path in URLS:
            f = run_wrk(args, base, path, script)
            print(
                f"{path:48} {f['requests'] / f['seconds']:8.1f} {f['p50']:8.1f} "
                f"{f['p95']:8.1f} {f['p99']:8.1f} {int(f['non2xx'] + f['errors']):8d}"
            )
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        if not args.keep:
            on_server(url, f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
