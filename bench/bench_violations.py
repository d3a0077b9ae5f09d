"""What violation accounting costs ingest: the same reports ingested into two fresh databases,
one where nothing is governed and one where the register prohibits some services and restricts
others to one department (so that a share of every report is a violation), on SQLite and
PostgreSQL; writes bench/results/violations.json.

    .venv/bin/python -m bench.bench_violations [--hosts 200] [--rounds 5] [--workers 4]

Round 0 (new state) is ingested into both; then the register decides (through its service
functions: triage, promote, decide) in the governed database only; rounds 1.. are measured,
baseline and governed alternating round by round so that the machine's load hits both alike.
The overhead is 1 - governed / baseline findings per second (target: at most 10 %), also
given per CPU millisecond of the benchmark process (SQLite runs in it, so on SQLite the CPU
figure is the steadier one on a shared machine). Round 1 is the one-off cost of new violations
(each is inserted and counted on its item); rounds 2.. are the steady state ("steady_*"), where
a violation seen again within the refresh interval writes nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import secrets
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bench.bench_ingest import PG_ADMIN_URL
from bench.workload import SimulatedHost, make_hosts, next_report
from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.ingest import ingest_report
from collector.store import agents as agents_store
from collector.store import hosts as hosts_store
from collector.store.agents import Agent
from collector.store.inventory import InventoryItem, Violation
from server.inventory import service as triage
from server.register import service as register_service
from server.register.schemas import EntryInput
from signatures import Catalogue, Report, load_catalogue

RESULTS = Path(__file__).resolve().parent / "results" / "violations.json"
DEPARTMENTS = ("fin", "eng", "hr", "sales")


class Variant:
    """One database: its agents and how long its measured rounds took."""

    def __init__(self, name: str, url: str, hosts: list[SimulatedHost]) -> None:
        self.name = name
        self.engine = make_engine(url)
        upgrade(self.engine)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        self.agents: dict[str, Agent] = {}
        self.seconds = 0.0
        self.cpu = 0.0
        self.findings = 0
        self.steady_seconds = 0.0
        self.steady_cpu = 0.0
        self.steady_findings = 0
        with transaction(self.sessions) as session:
            _token, secret = agents_store.create_enrollment_token(
                session, name="bench", expires_at=None, max_uses=None
            )
            for number, host in enumerate(hosts):
                agent, _credential = agents_store.enroll_agent(
                    session, enrollment_secret=secret, agent_uid=host.agent_id,
                    hostname=host.hostname, os="linux",
                )  # fmt: skip
                hosts_store.update_host(
                    session, host_id=agent.host_id, department=DEPARTMENTS[number % 4]
                )
                self.agents[host.agent_id] = agent

    def ingest(
        self, reports: list[tuple[SimulatedHost, Report]], catalogue: Catalogue, workers: int
    ) -> tuple[float, float]:
        def one(item: tuple[SimulatedHost, Report]) -> None:
            host, report = item
            with transaction(self.sessions) as session:
                ingest_report(
                    session, agent=self.agents[host.agent_id], report=report, catalogue=catalogue
                )

        cpu, started = time.process_time(), time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, reports))
        return time.perf_counter() - started, time.process_time() - cpu


def govern(variant: Variant, share: float) -> dict[str, int]:
    """Prohibit the most-seen ``share`` of catalogue items and restrict the next ``share`` to
    the "fin" department, each in a register entry of its own, through the services."""
    with transaction(variant.sessions) as session:
        items = session.scalars(
            select(InventoryItem)
            .where(InventoryItem.service_id.is_not(None))
            .order_by(InventoryItem.sighting_count.desc(), InventoryItem.id)
        ).all()
        count = max(1, int(len(items) * share))
        decided = {"prohibited": 0, "restricted": 0}
        for number, item in enumerate(items[: 2 * count]):
            decision = "prohibited" if number < count else "restricted"
            fields = EntryInput(
                title=f"{item.name} use"[:120], ai_system=item.name[:255],
                business_owner="Dana", purpose="Bench", risk_level="low",
            )  # fmt: skip
            entry = register_service.create_entry(session, actor="bench", fields=fields)
            triage.transition_item(session, actor="bench", item_id=item.id, target="triaging")
            triage.promote_item(
                session, actor="bench", item_id=item.id, existing_register_id=entry.register_id
            )
            register_service.decide_entry(
                session, actor="carol", register_id=entry.register_id,
                expected_version=entry.version, decision=decision, rationale="bench",
                conditions="finance only" if decision == "restricted" else "",
                allowed_departments=["fin"] if decision == "restricted" else [],
            )  # fmt: skip
            decided[decision] += 1
    return decided


@contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{directory}/bench.db"
        return
    name = f"shadowmap_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_backend(
    backend: str, hosts: list[SimulatedHost], rounds: int, workers: int, share: float
) -> dict[str, Any]:
    catalogue = load_catalogue()
    rng = random.Random(11)
    plan = [
        [(host, next_report(host, catalogue, rng, change=0.0 if round_ == 0 else 0.1,
                            later=dt.timedelta(minutes=15 * round_)))
         for host in hosts]
        for round_ in range(rounds)
    ]  # fmt: skip
    writers = 1 if backend == "sqlite" else workers
    with database(backend) as baseline_url, database(backend) as governed_url:
        baseline = Variant("baseline", baseline_url, hosts)
        governed = Variant("governed", governed_url, hosts)
        for variant in (baseline, governed):
            variant.ingest(plan[0], catalogue, writers)
        decided = govern(governed, share)
        per_round = []
        for round_, reports in enumerate(plan[1:], start=1):
            findings = sum(len(report.findings) for _host, report in reports)
            row: dict[str, Any] = {"round": round_, "findings": findings}
            order = (baseline, governed) if round_ % 2 else (governed, baseline)
            for variant in order:
                seconds, cpu = variant.ingest(reports, catalogue, writers)
                variant.seconds += seconds
                variant.cpu += cpu
                variant.findings += findings
                if round_ >= 2:
                    variant.steady_seconds += seconds
                    variant.steady_cpu += cpu
                    variant.steady_findings += findings
                row[f"{variant.name}_findings_per_s"] = round(findings / seconds)
                row[f"{variant.name}_cpu_s"] = round(cpu, 3)
            per_round.append(row)
        with governed.engine.connect() as connection:
            violations = connection.scalar(select(sa.func.count()).select_from(Violation))
        seen = sum(len(report.findings) for reports in plan[1:] for _h, report in reports)
        with transaction(governed.sessions) as session:
            forbidden = set(
                session.scalars(
                    select(InventoryItem.key).where(InventoryItem.governed_status != "")
                ).all()
            )
        for variant in (baseline, governed):
            variant.engine.dispose()
    base_rate = baseline.findings / baseline.seconds
    gov_rate = governed.findings / governed.seconds
    reports = len(hosts) * (rounds - 1)
    return {
        "backend": backend,
        "hosts": len(hosts),
        "measured_rounds": rounds - 1,
        "workers": writers,
        "decided": decided,
        "governed_items": len(forbidden),
        "violations_recorded": violations,
        "findings_measured": seen,
        "baseline_findings_per_s": round(base_rate),
        "governed_findings_per_s": round(gov_rate),
        "overhead": round(1 - gov_rate / base_rate, 4),
        "baseline_cpu_ms_per_report": round(baseline.cpu / reports * 1000, 3),
        "governed_cpu_ms_per_report": round(governed.cpu / reports * 1000, 3),
        "steady_overhead": round(
            1
            - (governed.steady_findings / governed.steady_seconds)
            / (baseline.steady_findings / baseline.steady_seconds),
            4,
        )
        if rounds > 2
        else None,
        "steady_cpu_overhead": round(governed.steady_cpu / baseline.steady_cpu - 1, 4)
        if rounds > 2
        else None,
        "per_round": per_round,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--share", type=float, default=0.05, help="of items prohibited")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    catalogue = load_catalogue()
    results = []
    for backend in args.backends.split(","):
        hosts = make_hosts(args.hosts, catalogue)
        results.append(run_backend(backend, hosts, args.rounds, args.workers, args.share))
        print(json.dumps(results[-1], indent=2))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "ingest with violation accounting vs none governed",
                "command": "python -m bench.bench_violations "
                f"--hosts {args.hosts} --rounds {args.rounds} --workers {args.workers} "
                f"--share {args.share}",
                "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="minutes"),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_average": load,
                },
                "targets": {"overhead": 0.10},
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
