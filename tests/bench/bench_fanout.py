"""Benchmark: fan one published notice out to many subscribers through real Celery workers.

    .venv/bin/python tests/bench/bench_fanout.py --channel email --subscribers 100000
    .venv/bin/python tests/bench/bench_fanout.py --channel webhook --subscribers 10000

Creates its own database (steady_bench_fanout by default) on the PostgreSQL server named by
DATABASE_URL (else postgres://postgres@127.0.0.1:5432), migrates it, bulk-inserts the active
subscriptions, and starts `--workers` `celery -A portal worker` processes on the Redis broker
`--broker` (queue `bench-fanout`, purged first). Email goes over SMTP to a sink on 127.0.0.1 in
this process; webhooks go over HTTPS to the test receiver on 127.0.0.1 (tests/webhook_receiver.py,
which verifies every signature with `standardwebhooks`). Then it publishes one notice through
the real services (the outbox rows are written in the publishing transaction) and times until
every delivery row is sent. It checks that every subscriber got exactly one message, prints the
figures, stops the workers and drops the database (unless --keep). Not collected by pytest.
"""

import argparse
import base64
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
BATCH = 5000
QUEUE = "bench-fanout"


def parse_args():
    parser = argparse.ArgumentParser(
        description="Time the fan-out of one notice to many subscribers."
    )
    parser.add_argument("--channel", choices=["email", "webhook"], default="email")
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument(
        "--workers", type=int, default=2, help="celery worker processes (default 2)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="pool processes per worker (default 1)",
    )
    parser.add_argument(
        "--broker", default="redis://127.0.0.1:6379/12", help="a Redis broker URL"
    )
    parser.add_argument("--db-name", default="steady_bench_fanout")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--timeout", type=float, default=3600, help="give up after this many seconds"
    )
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


def configure(url: str, args, tls_dir: Path) -> dict[str, str]:
    """Settings come from the environment, for this process and the workers alike."""
    seed = base64.b64encode(os.urandom(32)).decode()
    key = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    env = {
        "DATABASE_URL": url,
        # The loopback receiver is allowed only with DEBUG on (a guard for production).
        "DEBUG": "true" if args.channel == "webhook" else "false",
        "SECRET_KEY": base64.b64encode(os.urandom(48)).decode(),
        "CASE_MASTER_KEYS": f"1:{key}",
        "NOTICE_SIGNING_KEYS": f"2026-01-01:{seed}",
        "CELERY_BROKER_URL": args.broker,
        "CELERY_QUEUE": QUEUE,
        "CACHE_URL": f"filecache://{tempfile.mkdtemp(prefix='steady-bench-')}",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "WEBHOOK_ALLOW_LOOPBACK": "true" if args.channel == "webhook" else "false",
        "WEBHOOK_CA_FILE": str(tls_dir / "ca.pem"),
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    return env


class SmtpCounter:
    """An SMTP sink that only counts recipients: the bench measures the sender."""

    def __init__(self):
        self.recipients = Counter()
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self._lock:
            self.recipients.update(envelope.rcpt_tos)
        return "250 OK"


def seed(channel: str, count: int, receiver) -> None:
    """`count` active subscriptions to every notice, inserted in batches."""
    from portal.accounts.models import User
    from portal.lib.webhooks import generate_secret
    from portal.notices.models import Subscription

    owner = User.objects.create(email="downstream@bench.example")
    for start in range(0, count, BATCH):
        rows = []
        for n in range(start, min(start + BATCH, count)):
            if channel == "email":
                rows.append(
                    Subscription(
                        channel=Subscription.Channel.EMAIL,
                        email=f"subscriber{n}@bench.example",
                        status=Subscription.Status.ACTIVE,
                    )
                )
            else:
                secret = generate_secret()
                rows.append(
                    Subscription(
                        channel=Subscription.Channel.WEBHOOK,
                        owner=owner,
                        url=receiver.add_endpoint(f"/hook/{n}", [secret]),
                        secrets=[secret],
                        status=Subscription.Status.ACTIVE,
                    )
                )
        Subscription.objects.bulk_create(rows)


def caseworkers():
    from portal.accounts import roles
    from portal.accounts.models import User

    users = []
    for name in ("cara", "colin"):
        user = User.objects.create(email=f"{name}@bench.example", display_name=name)
        roles.grant_role(user, roles.CASEWORKER)
        users.append(user)
    return users


def start_workers(args, env: dict[str, str], log_dir: Path) -> list[subprocess.Popen]:
    workers = []
    for number in range(1, args.workers + 1):
        log = (log_dir / f"worker{number}.log").open("wb")
        workers.append(
            subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "portal",
                    "worker",
                    "--pool=prefork",
                    f"--concurrency={args.concurrency}",
                    "--loglevel=WARNING",
                    "--without-gossip",
                    "--without-mingle",
                    f"--hostname=bench{number}@%h",
                ],
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    return workers


def stop_workers(workers) -> None:
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)


def wait_for_workers(app, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(app.control.ping(timeout=1.0) or []) >= count:
            return
    raise SystemExit(f"the {count} workers did not answer within {timeout:.0f}s")


def run(args, url: str, env: dict[str, str], work: Path) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from portal.celery import app
    from portal.notices import services
    from portal.notices.models import Delivery
    from tests.portal.notices.publishing import content as notice_content
    from tests.webhook_receiver import WebhookReceiver, make_tls

    call_command("migrate", verbosity=0)
    receiver = sink = controller = None
    if args.channel == "webhook":
        receiver = WebhookReceiver(make_tls(work / "tls")).start()
    else:
        from aiosmtpd.controller import Controller

        from tests.conftest import free_port

        sink = SmtpCounter()
        port = free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        env["EMAIL_URL"] = f"smtp://127.0.0.1:{port}"

    started = time.monotonic()
    seed(args.channel, args.subscribers, receiver)
    drafter, approver = caseworkers()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"seeded {args.subscribers:,} {args.channel} subscriptions in "
        f"{time.monotonic() - started:.1f} s"
    )

    app.control.purge()
    workers = start_workers(args, env, work)
    try:
        wait_for_workers(app, args.workers)
        notice = services.draft_notice(actor=drafter, content=notice_content())
        began = time.monotonic()
        revision = services.approve_revision(
            revision=notice.revisions.get(), actor=approver
        )
        committed = time.monotonic()
        deliveries = Delivery.objects.filter(revision=revision)
        total = deliveries.count()
        assert total == args.subscribers, total
        first = None
        last_report = committed
        while True:
            sent = deliveries.filter(status=Delivery.Status.SENT).count()
            now = time.monotonic()
            if sent and first is None:
                first = now
            if sent == total:
                break
            if now - committed > args.timeout:
                raise SystemExit(
                    f"gave up after {args.timeout:.0f}s with {sent:,} sent"
                )
            if now - last_report >= 10:
                print(f"  {now - committed:6.0f} s: {sent:,} of {total:,} sent")
                last_report = now
            time.sleep(0.25)
        done = time.monotonic()
        failed = deliveries.exclude(status=Delivery.Status.SENT).count()
        attempts = sorted(set(deliveries.values_list("attempts", flat=True)))
    finally:
        stop_workers(workers)

    if receiver is not None:
        received = len(receiver.processed)
        duplicates = sum(receiver.duplicates.values())
        rejected = receiver.rejected
        receiver.stop()
    else:
        controller.stop()
        received = len(sink.recipients)
        duplicates = sum(n - 1 for n in sink.recipients.values())
        rejected = 0
    fan_out = done - committed
    print(
        f"channel: {args.channel}; workers: {args.workers} x concurrency {args.concurrency}"
    )
    print(
        f"outbox written and committed with the publication: {committed - began:.2f} s"
    )
    print(f"first delivery after commit: {first - committed:.2f} s")
    print(f"all {total:,} delivered after commit: {fan_out:.1f} s")
    print(f"throughput: {total / fan_out:,.0f} deliveries/s")
    print(f"attempts per delivery: {attempts}; not sent: {failed}")
    print(
        f"receiver saw {received:,} distinct recipients/webhook-ids, {duplicates} twice, "
        f"{rejected} rejected"
    )
    if received != total or duplicates or rejected or failed:
        raise SystemExit("delivery was not exactly once")


def main() -> None:
    args = parse_args()
    url = bench_database_url(args.db_name)
    work = Path(tempfile.mkdtemp(prefix="steady-fanout-"))
    env = configure(url, args, work / "tls")
    on_server(
        url,
        f'DROP DATABASE IF EXISTS "{args.db_name}"',
        f'CREATE DATABASE "{args.db_name}"',
    )
    try:
        run(args, url, env, work)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            on_server(url, f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
        print(f"worker logs: {work}")


if __name__ == "__main__":
    main()
