"""Benchmark: the triage queue and a case page against PostgreSQL at a given number of cases.

    .venv/bin/python tests/bench/bench_queue.py --cases 10000
    .venv/bin/python tests/bench/bench_queue.py --cases 100000

Creates its own database (steady_bench by default) on the PostgreSQL server named by
DATABASE_URL (else postgres://postgres@127.0.0.1:5432), migrates it, seeds it with bulk inserts,
times requests through django.test.Client as a signed-in caseworker, prints the figures, and
drops the database again (unless --keep). Not collected by pytest; figures go to
docs/benchmarks.md.
"""

import argparse
import base64
import datetime
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
BATCH = 5000
PROJECTS = 1000
MAINTAINERS = 500
COLLEAGUES = 9


def parse_args():
    parser = argparse.ArgumentParser(
        description="Time the triage queue and a case page."
    )
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument(
        "--requests", type=int, default=50, help="timed requests per page"
    )
    parser.add_argument("--db-name", default="steady_bench")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--seed", type=int, default=2024)
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


def configure(url: str) -> None:
    """Settings come from the environment: set it before django.setup(), production-like."""
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "false"
    os.environ["SECRET_KEY"] = base64.b64encode(os.urandom(48)).decode()
    key = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    os.environ["CASE_MASTER_KEYS"] = f"1:{key}"
    os.environ["CELERY_BROKER_URL"] = (
        ""  # the few notifications of the seeding run in process
    )
    os.environ["EMAIL_URL"] = "dummymail://"
    os.environ["CACHE_URL"] = f"filecache://{tempfile.mkdtemp(prefix='steady-bench-')}"
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    sys.path.insert(0, str(ROOT))


def seed(count: int, rng: random.Random):
    """`count` cases over 1,000 projects and 500 maintainers, 10 caseworkers. About 30 % resolved
    or closed, 40 % open and assigned, 30 % open in the pool; the bench caseworker holds about
    1 % of all cases. Membership and permission rows are the ones the services would write.
    Returns the bench caseworker and one of their cases with a sealed narrative and messages."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, Permission
    from django.db import connection
    from django.utils import timezone

    from cases import services
    from cases.models import Case, CaseUserObjectPermission, Category, Urgency
    from cases.states import Status
    from portal.accounts import roles
    from portal.accounts.models import User
    from portal.projects.models import Ecosystem, Maintainership, Project

    password = make_password(None)
    maintainers = User.objects.bulk_create(
        User(email=f"maintainer{i}@bench.example", display_name=f"Maintainer {i}")
        for i in range(MAINTAINERS)
    )
    caseworkers = User.objects.bulk_create(
        User(
            email=f"caseworker{i}@bench.example",
            display_name=f"Caseworker {i}",
            password=password,
        )
        for i in range(COLLEAGUES + 1)
    )
    bench_user, colleagues = caseworkers[0], caseworkers[1:]
    groups = {
        name: Group.objects.get_or_create(name=name)[0] for name in roles.ALL_ROLES
    }
    User.groups.through.objects.bulk_create(
        [
            User.groups.through(user_id=u.pk, group_id=groups[roles.MAINTAINER].pk)
            for u in maintainers
        ]
        + [
            User.groups.through(user_id=u.pk, group_id=groups[roles.CASEWORKER].pk)
            for u in caseworkers
        ]
    )
    ecosystems = Ecosystem.values
    projects = Project.objects.bulk_create(
        Project(
            name=f"bench-project-{i}",
            ecosystem=ecosystems[i % len(ecosystems)],
            repository_url=f"https://example.org/bench-project-{i}",
            purls=[f"pkg:generic/bench-project-{i}"],
        )
        for i in range(PROJECTS)
    )
    Maintainership.objects.bulk_create(
        Maintainership(project=p, user=maintainers[i % MAINTAINERS])
        for i, p in enumerate(projects)
    )
    view = Permission.objects.get(content_type__app_label="cases", codename="view_case")
    work = Permission.objects.get(content_type__app_label="cases", codename="work_case")

    working = [
        Status.NEW,
        Status.TRIAGED,
        Status.IN_PROGRESS,
        Status.WAITING_ON_MAINTAINER,
        Status.STEWARD_REQUESTED,
    ]
    categories = Category.values
    hours = {1: 4, 2: 24, 3: 72, 4: 168}
    now = timezone.now()
    created_at = Case._meta.get_field("created_at")
    # Seeded cases carry their own opening time, spread over half a year.
    created_at.auto_now_add = False
    try:
        for start in range(0, count, BATCH):
            rows, plans = [], []
            for _ in range(start, min(count, start + BATCH)):
                index = rng.randrange(PROJECTS)
                urgency = rng.choices(Urgency.values, weights=[5, 20, 55, 20])[0]
                opened = now - datetime.timedelta(minutes=rng.randrange(180 * 24 * 60))
                roll = rng.random()
                if roll < 0.3:
                    status, assigned, answered = (
                        rng.choice([Status.RESOLVED, Status.CLOSED]),
                        True,
                        True,
                    )
                elif roll < 0.7:
                    status, assigned, answered = (
                        rng.choice(working),
                        True,
                        rng.random() < 0.8,
                    )
                else:
                    status, assigned, answered = Status.NEW, False, False
                due = opened + datetime.timedelta(hours=hours[urgency])
                rows.append(
                    Case(
                        public_id=uuid.uuid4(),
                        project=projects[index],
                        opened_by=maintainers[index % MAINTAINERS],
                        category=rng.choice(categories),
                        urgency=urgency,
                        help_wanted=["talk"],
                        status=status,
                        created_at=opened,
                        first_response_due_at=due,
                        first_response_at=(
                            opened + (due - opened) * rng.random() if answered else None
                        ),
                    )
                )
                worker = None
                if assigned:
                    worker = (
                        bench_user if rng.random() < 1 / 70 else rng.choice(colleagues)
                    )
                plans.append(worker)
            Case.objects.bulk_create(rows)
            members, grants = [], []
            for case, worker in zip(rows, plans, strict=True):
                grants.append(
                    CaseUserObjectPermission(
                        content_object=case, user_id=case.opened_by_id, permission=view
                    )
                )
                if worker is None:
                    continue
                members.append(
                    Case.caseworkers.through(case_id=case.pk, user_id=worker.pk)
                )
                grants.append(
                    CaseUserObjectPermission(
                        content_object=case, user=worker, permission=view
                    )
                )
                if case.status != Status.CLOSED:
                    grants.append(
                        CaseUserObjectPermission(
                            content_object=case, user=worker, permission=work
                        )
                    )
            Case.caseworkers.through.objects.bulk_create(members)
            CaseUserObjectPermission.objects.bulk_create(grants)
            print(f"  seeded {min(count, start + BATCH):>7} cases", flush=True)
    finally:
        created_at.auto_now_add = True

    # One case through the real services: sealed narrative, a conversation, a note.
    maintainer = maintainers[0]
    case = services.open_case(
        actor=maintainer,
        project=projects[0],
        category=Category.HARASSMENT,
        urgency=Urgency.HIGH,
        help_wanted=["talk", "steward"],
        narrative="Benchmark narrative. " * 40,
    )
    services.assign_caseworker(case=case, caseworker=bench_user, actor=bench_user)
    for i in range(10):
        author = bench_user if i % 2 else maintainer
        services.post_message(
            case=case, actor=author, body=f"Message {i}. " + "Words. " * 60
        )
    services.post_message(
        case=case, actor=bench_user, body="Internal note.", internal=True
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return bench_user, case


def signed_in_client(user, probe_url: str):
    """A client signed in as `user`, past the caseworker second-factor gate if there is one."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    response = client.get(probe_url)
    if response.status_code == 302 and "2fa" in response["Location"]:
        from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

        TOTP.activate(user, generate_totp_secret())
        response = client.get(probe_url)
    if response.status_code != 200:
        raise SystemExit(f"{probe_url} answered {response.status_code}")
    return client


def measure(client, url: str, n: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):  # warm caches and connections
        assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    query_count = len(queries)  # read now: the next request resets the log
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    samples.sort()
    return {
        "median": statistics.median(samples),
        "p95": statistics.quantiles(samples, n=20, method="inclusive")[18],
        "max": samples[-1],
        "queries": query_count,
    }


def main() -> None:
    args = parse_args()
    url = bench_database_url(args.db_name)
    on_server(
        url,
        f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)',
        f'CREATE DATABASE "{args.db_name}"',
    )
    configure(url)
    # Static files are served from the finders here; no collectstatic for a benchmark.
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections
    from django.urls import reverse

    from cases import selectors

    try:
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        print(f"Seeding {args.cases} cases into {args.db_name} …", flush=True)
        bench_user, case = seed(args.cases, random.Random(args.seed))
        print(f"  set up in {time.perf_counter() - started:.0f} s", flush=True)

        queue = reverse("cases:queue")
        filters = {
            "q": "bench-project-1",
            "urgency": 2,
            "assignee": "unassigned",
            "sort": "due",
        }
        pages = [
            ("queue, page 1", queue, {}),
            (
                "queue, filtered",
                queue + "?q=bench-project-1&urgency=2&assignee=unassigned&sort=due",
                filters,
            ),
            ("queue, page 20", queue + "?page=20", {}),
            ("case page", reverse("cases:detail", args=[case.public_id]), None),
        ]
        client = signed_in_client(bench_user, queue)
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        print(
            f"\n{args.cases} cases; queue of the bench caseworker: "
            f"{selectors.triage_queue_for(bench_user).count()} rows; "
            f"PostgreSQL {version}; {os.cpu_count()} CPUs; N={args.requests}\n"
        )
        print("| page | matching rows | median ms | p95 ms | max ms | queries |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, page_url, page_filters in pages:
            figures = measure(client, page_url, args.requests)
            matching = (
                "–"
                if page_filters is None
                else selectors.triage_queue_for(
                    bench_user,
                    **{
                        "search": page_filters.get("q", ""),
                        "urgency": page_filters.get("urgency"),
                        "assignee": page_filters.get("assignee"),
                    },
                ).count()
            )
            print(
                f"| {name} | {matching} | {figures['median']:.1f} | {figures['p95']:.1f} "
                f"| {figures['max']:.1f} | {figures['queries']} |",
                flush=True,
            )
    finally:
        connections.close_all()
        if not args.keep:
            on_server(url, f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
