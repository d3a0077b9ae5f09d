"""Ingest throughput with dedup against a raw bulk insert of the same rows, on SQLite and
PostgreSQL, measured in one run; writes bench/results/ingest.json.

    /work/venv/bin/python -m bench.bench_ingest [--hosts 300] [--rounds 3]

Dedup ingest: collector.ingest.ingest_report, one transaction per report, as the server does.
Raw: an executemany INSERT of the very same sighting rows into a plain table without any
constraint or dedup, also one transaction per report. Both start from parsed reports; the
JSON parse and schema validation cost per report is measured separately.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.workload import SimulatedHost, make_hosts, next_report
from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.ingest import ingest_report, parse_agent_report
from collector.store import agents as agents_store
from collector.store.agents import Agent
from signatures import Report, load_catalogue

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.json"
PG_ADMIN_URL = os.environ.get(
    "SHADOWMAP_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

_raw = sa.Table(
    "bench_raw_sightings",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("host_id", sa.Integer),
    sa.Column("service_key", sa.String(300)),
    sa.Column("kind", sa.String(32)),
    sa.Column("indicator", sa.String(1024)),
    sa.Column("indicator_kind", sa.String(32)),
    sa.Column("user_name", sa.String(256)),
    sa.Column("confidence", sa.String(8)),
    sa.Column("heuristic", sa.Text),
    sa.Column("evidence", sa.JSON),
    sa.Column("first_seen_at", sa.DateTime(timezone=True)),
    sa.Column("last_seen_at", sa.DateTime(timezone=True)),
)


def _raw_rows(report: Report, host_id: int, sqlite: bool) -> list[dict[str, Any]]:
    rows = []
    for finding in report.findings:
        key = finding.key()
        first, last = finding.first_seen, finding.last_seen
        if sqlite:
            first, last = first.replace(tzinfo=None), last.replace(tzinfo=None)
        rows.append(
            {
                "host_id": host_id,
                "service_key": finding.service_id or finding.indicator,
                "kind": key.kind,
                "indicator": key.indicator,
                "indicator_kind": finding.indicator_kind,
                "user_name": key.user,
                "confidence": finding.confidence.value,
                "heuristic": finding.heuristic,
                "evidence": dict(finding.evidence),
                "first_seen_at": first,
                "last_seen_at": last,
            }
        )
    return rows


def run_backend(
    name: str, url: str, hosts: list[SimulatedHost], rounds: int, workers: int
) -> dict[str, Any]:
    catalogue = load_catalogue()
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    agents: dict[str, Agent] = {}
    with transaction(sessions) as session:
        _token, secret = agents_store.create_enrollment_token(
            session, name="bench", expires_at=None, max_uses=None
        )
        for host in hosts:
            agent, _credential = agents_store.enroll_agent(
                session, enrollment_secret=secret, agent_uid=host.agent_id,
                hostname=host.hostname, os="linux",
            )  # fmt: skip
            agents[host.agent_id] = agent
    rng = random.Random(11)
    # Rounds are 15 minutes apart, like agents reporting every 15 minutes: round 0 is new
    # state, rounds 1-3 repeat it within the hour, round 4 refreshes "last seen", and so on.
    plan = [
        [(host, next_report(host, catalogue, rng, change=0.0 if round_ == 0 else 0.1,
                            later=dt.timedelta(minutes=15 * round_)))
         for host in hosts]
        for round_ in range(rounds)
    ]  # fmt: skip

    started = time.perf_counter()
    parsed = 0
    for _host, report in plan[0][:200]:
        parse_agent_report(report.to_json())
        parsed += 1
    parse_ms = (time.perf_counter() - started) / parsed * 1000

    def ingest_one(item: tuple[SimulatedHost, Report]) -> None:
        host, report = item
        with transaction(sessions) as session:
            ingest_report(session, agent=agents[host.agent_id], report=report, catalogue=catalogue)

    per_round = []
    total_findings = 0
    total_seconds = 0.0
    cpu_started = time.process_time()
    for round_, reports in enumerate(plan):
        findings = sum(len(report.findings) for _host, report in reports)
        started = time.perf_counter()
        # Each host's reports stay in order: a round is one report per host.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(ingest_one, reports))
        seconds = time.perf_counter() - started
        per_round.append(
            {"round": round_, "reports": len(reports), "findings": findings,
             "seconds": round(seconds, 3), "findings_per_s": round(findings / seconds)}
        )  # fmt: skip
        total_findings += findings
        total_seconds += seconds

    cpu_ms_per_report = (time.process_time() - cpu_started) / (len(plan) * len(hosts)) * 1000
    _raw.drop(engine, checkfirst=True)
    _raw.create(engine)
    sqlite = engine.dialect.name == "sqlite"

    def insert_raw(item: tuple[SimulatedHost, Report]) -> None:
        host, report = item
        rows = _raw_rows(report, agents[host.agent_id].host_id, sqlite)
        with engine.begin() as connection:
            connection.execute(_raw.insert(), rows)

    started = time.perf_counter()
    for reports in plan:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(insert_raw, reports))
    raw_seconds = time.perf_counter() - started
    _raw.drop(engine)
    with engine.connect() as connection:
        items = connection.scalar(sa.text("SELECT count(*) FROM inventory_items"))
        sightings = connection.scalar(sa.text("SELECT count(*) FROM sightings"))
    engine.dispose()

    dedup_rate = total_findings / total_seconds
    raw_rate = total_findings / raw_seconds
    return {
        "backend": name,
        "hosts": len(hosts),
        "rounds": rounds,
        "findings": total_findings,
        "dedup_findings_per_s": round(dedup_rate),
        "raw_insert_findings_per_s": round(raw_rate),
        "dedup_to_raw_ratio": round(dedup_rate / raw_rate, 3),
        "workers": workers,
        "ingest_cpu_ms_per_report": round(cpu_ms_per_report, 2),
        "parse_and_validate_ms_per_report": round(parse_ms, 2),
        "per_round": per_round,
        "inventory_items": items,
        "sightings_stored": sightings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=300)
    parser.add_argument(
        "--rounds", type=int, default=5, help="reports per host, 15 simulated minutes apart"
    )
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--workers",
        type=int,
        default=4,
        help="concurrent transactions on PostgreSQL, as server threads (SQLite: 1 writer)",
    )
    args = parser.parse_args()
    catalogue = load_catalogue()
    results = []
    for backend in args.backends.split(","):
        hosts = make_hosts(args.hosts, catalogue)
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as directory:
                results.append(
                    run_backend(
                        backend,
                        f"sqlite:///{directory}/bench.db",
                        hosts,
                        args.rounds,
                        1,  # one writer at a time is how SQLite works
                    )
                )
        else:
            name = f"shadowmap_bench_{secrets.token_hex(4)}"
            admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
            try:
                results.append(run_backend(backend, url, hosts, args.rounds, args.workers))
            finally:
                with admin.connect() as connection:
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        print(json.dumps(results[-1], indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "ingest with dedup vs raw bulk insert",
                "command": "python -m bench.bench_ingest "
                f"--hosts {args.hosts} --rounds {args.rounds} --workers {args.workers}",
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "targets": {"findings_per_s": 5000, "dedup_to_raw_ratio": 0.3},
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
