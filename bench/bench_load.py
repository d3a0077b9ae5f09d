"""The load of many endpoints on server replicas sharing one PostgreSQL; writes
bench/results/load.json.

    /work/venv/bin/python -m bench.bench_load [--replicas 2] [--agents 2000] [--rate 111]
        [--duration 300]

100,000 endpoints reporting every 15 minutes is about 111 reports a second. This starts
``--replicas`` real ``shadowmap serve`` processes on a fresh PostgreSQL database, enrolls
``--agents`` simulated agents through them and drives ``bench.loadgen`` at ``--rate`` for
``--duration`` seconds. Fewer simulated agents than endpoints report more often each; the
server sees the same rate and report sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.loadgen import enroll_all, send_reports, summarise
from bench.workload import make_hosts
from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.store import agents as agents_store
from signatures import load_catalogue

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "load.json"
PG_ADMIN_URL = os.environ.get(
    "SHADOWMAP_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(database_url: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--data-dir", str(data_dir),
         "--database-url", database_url, "--port", str(port), "--log-level", "warning"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=(data_dir / "server.log").open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"replica did not start: {(data_dir / 'server.log').read_text()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=111.0)
    parser.add_argument("--duration", type=float, default=300.0)
    parser.add_argument("--heartbeat-share", type=float, default=0.25)
    parser.add_argument("--change-share", type=float, default=0.1)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    name = f"shadowmap_load_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    replicas: list[subprocess.Popen[bytes]] = []
    try:
        engine = make_engine(url)
        upgrade(engine)
        with transaction(make_sessionmaker(engine)) as session:
            _token, token = agents_store.create_enrollment_token(
                session, name="load", expires_at=None, max_uses=None
            )
        engine.dispose()
        urls = []
        with tempfile.TemporaryDirectory() as directory:
            for index in range(args.replicas):
                process, replica_url = _start(url, Path(directory) / f"replica-{index}")
                replicas.append(process)
                urls.append(replica_url)
            hosts = make_hosts(args.agents, load_catalogue(), prefix="load")
            started = time.perf_counter()
            agents = asyncio.run(enroll_all(urls, token, hosts, concurrency=16))
            enroll_seconds = time.perf_counter() - started
            # Warm-up: every agent's first report (its whole state, every sighting new) at the
            # same rate, drained before the clock starts. A fleet long enrolled reports deltas
            # against known state; the first inventory is measured on its own.
            started = time.perf_counter()
            initial = asyncio.run(
                send_reports(
                    urls, agents, rate=args.rate, duration=len(agents) / args.rate,
                    heartbeat_share=0.0, change_share=0.0, count=len(agents),
                )
            )  # fmt: skip
            initial_seconds = time.perf_counter() - started
            outcome = asyncio.run(
                send_reports(
                    urls, agents, rate=args.rate, duration=args.duration,
                    heartbeat_share=args.heartbeat_share, change_share=args.change_share,
                    first_full=False,
                )
            )  # fmt: skip
        engine = make_engine(url)
        with engine.connect() as connection:
            stored = {
                table: connection.scalar(sa.text(f"SELECT count(*) FROM {table}"))  # noqa: S608
                for table in ("hosts", "reports", "inventory_items", "sightings")
            }
        engine.dispose()
    finally:
        for process in replicas:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    summary = summarise(outcome, args.duration)
    target_met = summary["error_count"] == 0 and summary["latency_ms"]["p99"] < 300
    result = {
        "benchmark": "sustained agent load on server replicas sharing one PostgreSQL",
        "command": f"python -m bench.bench_load --replicas {args.replicas} --agents {args.agents}"
        f" --rate {args.rate:g} --duration {args.duration:g}",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_at_end": os.getloadavg()},
        "target": {"reports_per_s": 111, "p99_ms_below": 300, "errors": 0},
        "target_met": target_met,
        "mix": {"heartbeat_share": args.heartbeat_share, "change_share": args.change_share,
                "findings_per_full_report": "20-80"},
        "enroll_seconds": round(enroll_seconds, 1),
        "initial_reports": {
            "note": "each agent's first full report, sent at the same rate before the run",
            "seconds_until_all_stored": round(initial_seconds, 1),
            **summarise(initial, initial_seconds),
        },
        "stored": stored,
        **summary,
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
