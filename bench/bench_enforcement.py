"""Every enforcement export generated from a register of 2,000 entries, as the API does it
(read the register and its linked items, resolve the catalogue indicators, render), on SQLite
and PostgreSQL; writes bench/results/enforcement.json.

    .venv/bin/python -m bench.bench_enforcement [--entries 2000] [--runs 5]

The register is built through the register service: one entry per catalogue service, half
prohibited, half approved. Each export is generated ``runs`` times in a fresh transaction;
the median and the slowest are recorded (target: every export under 200 ms).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from bench.bench_violations import database
from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from server.enforcement.formats import EXPORTS, MODES
from server.enforcement.policy import build_policy
from server.register import service as register_service
from server.register.schemas import EntryInput
from signatures import load_catalogue

RESULTS = Path(__file__).resolve().parent / "results" / "enforcement.json"


def run_backend(backend: str, entries: int, runs: int) -> dict[str, Any]:
    catalogue = load_catalogue()
    services = sorted(catalogue.services, key=lambda service: service.id)
    services = (services * (entries // len(services) + 1))[:entries]
    with database(backend) as url:
        engine = make_engine(url)
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        started = time.perf_counter()
        with transaction(sessions) as session:
            for number, service in enumerate(services):
                fields = EntryInput(
                    title=f"{service.name} use {number}"[:120], ai_system=service.name[:255],
                    business_owner="Dana", purpose="Bench", risk_level="low",
                )  # fmt: skip
                entry = register_service.create_entry(
                    session, actor="bench", fields=fields, service_id=service.id
                )
                register_service.decide_entry(
                    session, actor="carol", register_id=entry.register_id,
                    expected_version=entry.version,
                    decision="prohibited" if number % 2 else "approved",
                    rationale="bench", alternative="AIR-2026-0001" if number % 2 else "",
                )  # fmt: skip
        seeded = time.perf_counter() - started
        timings: dict[str, dict[str, float | int]] = {}
        for export in EXPORTS.values():
            for mode in MODES if export.modes else ("blocklist",):
                samples = []
                cpu = []
                size = 0
                for _run in range(runs):
                    begun, cpu_begun = time.perf_counter(), time.process_time()
                    with transaction(sessions) as session:
                        body = export.render(build_policy(session, catalogue), mode).encode()
                    samples.append((time.perf_counter() - begun) * 1000)
                    cpu.append((time.process_time() - cpu_begun) * 1000)
                    size = len(body)
                timings[f"{export.name}:{mode}"] = {
                    "median_ms": round(statistics.median(samples), 1),
                    "max_ms": round(max(samples), 1),
                    "median_cpu_ms": round(statistics.median(cpu), 1),
                    "bytes": size,
                }
        with transaction(sessions) as session:
            policy = build_policy(session, catalogue)
        engine.dispose()
    return {
        "backend": backend,
        "entries": entries,
        "seed_seconds": round(seeded, 1),
        "blocked_domains": len(policy.blocked_domains),
        "blocked_hosts": len(policy.blocked_hosts),
        "blocked_chrome_extensions": len(policy.blocked_chrome),
        "blocked_vscode_extensions": len(policy.blocked_vscode),
        "slowest_median_ms": max(timing["median_ms"] for timing in timings.values()),
        "slowest_ms": max(timing["max_ms"] for timing in timings.values()),
        "exports": timings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    results = []
    for backend in args.backends.split(","):
        results.append(run_backend(backend, args.entries, args.runs))
        print(json.dumps(results[-1], indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "enforcement exports from a register of 2,000 entries",
                "command": "python -m bench.bench_enforcement "
                f"--entries {args.entries} --runs {args.runs}",
                "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="minutes"),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_average": os.getloadavg()[0],
                },
                "targets": {"each_export_ms": 200},
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
