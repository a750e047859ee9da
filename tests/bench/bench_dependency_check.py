"""Benchmark: parse a CycloneDX SBOM and check its components against handover notices.

    .venv/bin/python tests/bench/bench_dependency_check.py
    .venv/bin/python tests/bench/bench_dependency_check.py --components 50000 --runs 10

Builds a CycloneDX 1.5 JSON SBOM (components over npm, PyPI, Maven, Go and Debian, one in ten
nested inside another, versions in the purls) and `steady-notice/1` documents each naming one
of those packages (a quarter of the notices ended, 1 in 50 withdrawn, three releases each, half
of them including the version the SBOM holds). Then times `parse_document` and
`check_components` (plus `results_as_json`) over N runs after one warm-up run, with the purl
cache emptied before each run so that components and notices are both parsed cold, and prints a
Markdown table of the median and 95th percentile. Python, no database. Not collected by pytest; figures go to docs/benchmarks.md.
"""

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from portal.scrutiny import components as components_module  # noqa: E402
from portal.scrutiny.components import parse_document  # noqa: E402
from portal.scrutiny.matching import check_components, results_as_json  # noqa: E402

ECOSYSTEMS = [
    ("npm", lambda i: f"pkg:npm/%40scope{i % 97}/pkg-{i}"),
    ("pypi", lambda i: f"pkg:pypi/package_{i}"),
    ("maven", lambda i: f"pkg:maven/org.example{i % 89}/artifact-{i}"),
    ("golang", lambda i: f"pkg:golang/github.com/org{i % 83}/mod-{i}"),
    ("deb", lambda i: f"pkg:deb/debian/lib-{i}"),
]


def parse_args():
    parser = argparse.ArgumentParser(description="Time the dependency check.")
    parser.add_argument("--components", type=int, default=10_000)
    parser.add_argument("--notices", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=30, help="timed runs")
    parser.add_argument("--seed", type=int, default=2024)
    return parser.parse_args()


def package(i: int) -> str:
    return ECOSYSTEMS[i % len(ECOSYSTEMS)][1](i)


def version(i: int) -> str:
    return f"{i % 7}.{i % 11}.{i % 5}" + ("-1" if i % len(ECOSYSTEMS) == 4 else "")


def build_sbom(count: int) -> bytes:
    components = []
    for i in range(count):
        component = {
            "type": "library",
            "bom-ref": f"c{i}",
            "name": f"pkg-{i}",
            "version": version(i),
            "purl": f"{package(i)}@{version(i)}",
        }
        if i % 10 == 1 and components:
            components[-1].setdefault("components", []).append(component)
        else:
            components.append(component)
    document = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {"component": {"type": "application", "name": "bench-app"}},
        "components": components,
    }
    return json.dumps(document, indent=2).encode()


def build_notices(count: int, components: int, rng: random.Random) -> list[dict]:
    named = rng.sample(range(components), k=min(count, components))
    notices = []
    for n, i in enumerate(named):
        status = "withdrawn" if n % 50 == 0 else "ended" if n % 4 == 0 else "active"
        # Half the notices list the version the SBOM holds among the window's releases.
        held = version(i).split("-")[0] if n % 2 else f"{i % 7}.{i % 11}.{(i % 5) + 2}"
        releases = [held, f"{i % 7}.{i % 11}.{(i % 5) + 1}", f"{i % 7 + 1}.0.0"]
        notices.append(
            {
                "format": "steady-notice/1",
                "id": f"HN-2026-{n + 1:04d}",
                "revision": 1,
                "kind": "initial",
                "status": status,
                "published": "2026-03-01T00:00:00Z",
                "modified": "2026-03-01T00:00:00Z",
                "effective": "2026-03-01T00:00:00Z",
                "project": {
                    "name": f"pkg-{i}",
                    "ecosystem": ECOSYSTEMS[i % len(ECOSYSTEMS)][0],
                    "repository": f"https://github.com/example/pkg-{i}",
                    "purls": [package(i)],
                },
                "window": {
                    "start": "2026-02-01",
                    "end": "2026-04-01" if status == "ended" else None,
                },
                "releases": [{"version": v, "date": "2026-03-01"} for v in releases],
            }
        )
    return notices


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    args = parse_args()
    rng = random.Random(args.seed)
    sbom = build_sbom(args.components)
    notices = build_notices(args.notices, args.components, rng)
    timings: dict[str, list[float]] = {"parse": [], "check": [], "total": [], "cpu": []}
    for run in range(args.runs + 1):
        # Every upload is a new document: time the purl parsing cold, not from the cache.
        components_module._plain_purl_cached.cache_clear()
        cpu_started = time.process_time()
        started = time.perf_counter()
        components = parse_document(sbom)
        parsed = time.perf_counter()
        results = check_components(components, notices)
        answer = results_as_json(results)
        finished = time.perf_counter()
        cpu = time.process_time() - cpu_started
        if run == 0:
            summary = answer["summary"]
            continue
        timings["parse"].append((parsed - started) * 1000)
        timings["check"].append((finished - parsed) * 1000)
        timings["total"].append((finished - started) * 1000)
        timings["cpu"].append(cpu * 1000)
    assert summary["components"] == args.components
    print(
        f"{args.components:,} components ({len(sbom) / 1e6:.1f} MB CycloneDX JSON), "
        f"{len(notices):,} notices; {summary['concerned']:,} components concerned, "
        f"{summary['released_in_window']:,} released in a window; N = {args.runs} runs; "
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print()
    print("| step | median (ms) | p95 (ms) |")
    print("|---|---:|---:|")
    labels = {
        "parse": "`parse_document` (detect, JSON, purls)",
        "check": "`check_components` + `results_as_json`",
        "total": "total (wall clock)",
        "cpu": "total (CPU time of the process, less sensitive to other load)",
    }
    for key, label in labels.items():
        values = timings[key]
        print(
            f"| {label} | {statistics.median(values):.1f} | {percentile(values, 0.95):.1f} |"
        )


if __name__ == "__main__":
    main()
