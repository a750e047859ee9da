"""Benchmark: matching a steward request against a roster of 5,000 stewards on PostgreSQL.

    .venv/bin/python tests/bench/bench_matching.py --stewards 5000

Creates its own database (steady_bench_matching by default) on the PostgreSQL server named by
DATABASE_URL (else postgres://postgres@127.0.0.1:5432), migrates it, seeds a roster with bulk
inserts, makes one case, its steward request and 50 identities of concern through the real
services, then times the matching page through django.test.Client as the case's caseworker and
the selector alone. Prints median, p95, max and the query count, and drops the database again
(unless --keep). Not collected by pytest; figures go to docs/benchmarks.md.
"""

import argparse
import datetime
import os
import random
import statistics
import sys
import time
import uuid
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_queue import (  # noqa: E402 - after the path is set
    bench_database_url,
    configure,
    measure,
    on_server,
    signed_in_client,
)

TIME_ZONES = [
    "Europe/Berlin",
    "Europe/London",
    "Europe/Madrid",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Asia/Shanghai",
    "Africa/Lagos",
    "Africa/Cairo",
    "Australia/Sydney",
    "Pacific/Auckland",
]
SKILLS = [
    "c",
    "python",
    "rust",
    "go",
    "javascript",
    "fuzzing",
    "release-engineering",
    "packaging",
    "security-review",
    "triage",
    "autotools",
    "cmake",
]


def parse_args():
    parser = argparse.ArgumentParser(description="Time steward matching.")
    parser.add_argument("--stewards", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--db-name", default="steady_bench_matching")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--seed", type=int, default=2024)
    return parser.parse_args()


def seed(count: int, rng: random.Random):
    """`count` stewards: 75 % vetted, 5 % vetted but expired, 5 % suspended, 5 % on hold,
    10 % applied; 2,000 holding assignments; 300 involvements with the bench project (a third
    conflicts, a third recent newcomers); one case with a steward request and 50 identities of
    concern, 10 of them belonging to vetted stewards. Returns the caseworker and the request."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.utils import timezone

    from cases import services
    from cases.models import Assignment, Category, Urgency
    from portal.accounts import roles
    from portal.accounts.models import User
    from portal.projects.models import Ecosystem
    from portal.projects.services import register_project
    from portal.roster.models import ProjectInvolvement, StewardProfile

    now = timezone.now()
    today = timezone.localdate()
    password = make_password(None)
    groups = {
        name: Group.objects.get_or_create(name=name)[0] for name in roles.ALL_ROLES
    }
    maintainer = User.objects.create(email="maintainer@bench.example")
    caseworker = User.objects.create(
        email="caseworker@bench.example", password=password
    )
    User.groups.through.objects.bulk_create(
        [
            User.groups.through(
                user_id=maintainer.pk, group_id=groups["maintainer"].pk
            ),
            User.groups.through(
                user_id=caseworker.pk, group_id=groups["caseworker"].pk
            ),
        ]
    )
    users = User.objects.bulk_create(
        User(email=f"steward{i}@bench.example", display_name=f"Steward {i}")
        for i in range(count)
    )
    User.groups.through.objects.bulk_create(
        User.groups.through(user_id=u.pk, group_id=groups["steward"].pk) for u in users
    )
    ecosystems = Ecosystem.values
    profiles = []
    for i, user in enumerate(users):
        roll = rng.random()
        status, on_hold = StewardProfile.Status.VETTED, False
        vetted_at = now - datetime.timedelta(days=rng.randrange(1, 360))
        expires = vetted_at + datetime.timedelta(days=365)
        if roll < 0.05:
            expires = now - datetime.timedelta(days=rng.randrange(1, 60))
        elif roll < 0.10:
            status = StewardProfile.Status.SUSPENDED
        elif roll < 0.15:
            on_hold = True
        elif roll < 0.25:
            status, vetted_at, expires = StewardProfile.Status.APPLIED, None, None
        profiles.append(
            StewardProfile(
                public_id=uuid.uuid4(),
                user=user,
                handle=f"steward-{i}",
                forge_accounts=[f"github:bench-steward-{i}"],
                ecosystems=rng.sample(ecosystems, rng.randint(1, 3)),
                languages=["English"],
                skills=rng.sample(SKILLS, rng.randint(1, 4)),
                time_zone=rng.choice(TIME_ZONES),
                hours_per_week=rng.randint(2, 20),
                max_assignments=rng.randint(1, 3),
                statement="Bench steward.",
                status=status,
                is_on_hold=on_hold,
                vetted_at=vetted_at,
                vetting_expires_at=expires,
            )
        )
    StewardProfile.objects.bulk_create(profiles, batch_size=2000)

    project = register_project(
        actor=maintainer,
        name="bench-project",
        ecosystem="generic",
        repository_url="https://example.org/bench-project",
        purls=["pkg:generic/bench-project"],
    )
    case = services.open_case(
        actor=maintainer,
        project=project,
        category=Category.HARASSMENT,
        urgency=Urgency.HIGH,
        help_wanted=["steward"],
        narrative="Benchmark narrative.",
    )
    services.assign_caseworker(case=case, caseworker=caseworker, actor=caseworker)
    steward_request = services.request_steward(
        case=case,
        actor=maintainer,
        scope=["triage", "review", "release"],
        starts_on=today + datetime.timedelta(days=7),
        ends_on=today + datetime.timedelta(days=97),
        ecosystem="generic",
        skills=["c", "fuzzing", "release-engineering"],
        hours_per_week=8,
        time_zone="Europe/London",
        brief="Benchmark brief.",
    )
    # The roster's other work: 2,000 active assignments on another request.
    elsewhere = services.request_steward(
        case=case,
        actor=maintainer,
        scope=["triage"],
        starts_on=today + datetime.timedelta(days=1),
        ends_on=today + datetime.timedelta(days=60),
        ecosystem="generic",
        skills=[],
        hours_per_week=4,
        time_zone="Europe/London",
        brief="Other work.",
    )
    vetted = [p for p in profiles if p.status == StewardProfile.Status.VETTED]
    Assignment.objects.bulk_create(
        Assignment(
            request=elsewhere,
            case=case,
            steward=rng.choice(vetted),
            scope=["triage"],
            starts_on=steward_request.starts_on,
            ends_on=steward_request.ends_on,
            proposed_by=caseworker,
            status=Assignment.Status.ACTIVE,
        )
        for _ in range(2000)
    )
    ProjectInvolvement.objects.bulk_create(
        ProjectInvolvement(
            steward=p,
            project=project,
            conflict_of_interest=i % 3 == 0,
            conflict_note="Works for a vendor." if i % 3 == 0 else "",
            first_contributed_on=today
            - datetime.timedelta(days=60 if i % 3 == 1 else 900),
        )
        for i, p in enumerate(rng.sample(profiles, 300))
    )
    for i in range(50):
        identity = (
            f"github:bench-steward-{vetted[i].handle.split('-')[1]}"
            if i < 10
            else f"github:sockpuppet-{i}"
        )
        services.record_identity_of_concern(
            case=case, actor=caseworker, identity=identity
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return caseworker, steward_request


def time_selector(steward_request, n: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cases.matching import match_stewards

    for _ in range(3):
        match_stewards(steward_request)
    with CaptureQueriesContext(connection) as queries:
        result = match_stewards(steward_request)
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        match_stewards(steward_request)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "median": statistics.median(samples),
        "p95": statistics.quantiles(samples, n=20, method="inclusive")[18],
        "max": samples[-1],
        "queries": len(queries),
        "result": result,
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
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections
    from django.urls import reverse

    try:
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        print(f"Seeding {args.stewards} stewards into {args.db_name} …", flush=True)
        caseworker, steward_request = seed(args.stewards, random.Random(args.seed))
        print(f"  set up in {time.perf_counter() - started:.0f} s", flush=True)
        page = reverse("cases:steward-matching", args=[steward_request.public_id])
        client = signed_in_client(caseworker, page)
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        selector = time_selector(steward_request, args.requests)
        result = selector["result"]
        print(
            f"\n{args.stewards} stewards, {result.considered} considered (vetted, suspended "
            f"or on hold); {len(result.ranked)} shown ranked, {len(result.excluded)} shown "
            f"excluded; PostgreSQL {version}; {os.cpu_count()} CPUs; N={args.requests}\n"
        )
        print("| what | median ms | p95 ms | max ms | queries |")
        print("|---|---:|---:|---:|---:|")
        print(
            f"| match_stewards() | {selector['median']:.1f} | {selector['p95']:.1f} "
            f"| {selector['max']:.1f} | {selector['queries']} |",
            flush=True,
        )
        figures = measure(client, page, args.requests)
        print(
            f"| matching page | {figures['median']:.1f} | {figures['p95']:.1f} "
            f"| {figures['max']:.1f} | {figures['queries']} |",
            flush=True,
        )
    finally:
        connections.close_all()
        if not args.keep:
            on_server(url, f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
