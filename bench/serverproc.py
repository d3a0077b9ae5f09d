"""Real `shadowmap serve` processes for the benchmarks, started from any checkout (``root``),
so that one benchmark can measure this tree and an older one the same way; their CLI; a
PostgreSQL database of their own; agents that report over HTTP."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from signatures import AgentInfo, Confidence, Finding, FindingKind, HostInfo, Report

REPO = Path(__file__).resolve().parent.parent
SEEN = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
PG_ADMIN_URL = os.environ.get(
    "SHADOWMAP_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env(root: Path, extra: Mapping[str, str]) -> dict[str, str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("SHADOWMAP")}
    return {**clean, "PYTHONPATH": str(root), **extra}


def cli(root: Path, data_dir: Path, database_url: str | None, *args: str) -> str:
    """Run `shadowmap ARGS` from ``root`` on that database; return its output."""
    location = ["--data-dir", str(data_dir)]
    if database_url:
        location += ["--database-url", database_url]
    done = subprocess.run(
        [sys.executable, "-m", "server", *args[:2], *location, *args[2:]],
        cwd=root,
        env=_env(root, {}),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@contextmanager
def serve(
    root: Path, data_dir: Path, database_url: str | None, settings: Mapping[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run `shadowmap serve` from ``root``; yield the process and its URL; stop it after."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "server", "serve", "--data-dir", str(data_dir)]
    if database_url:
        command += ["--database-url", database_url]
    command += ["--port", str(port), "--log-level", "warning"]
    log = (data_dir / "server.log").open("wb")
    process = subprocess.Popen(
        command,
        cwd=root,
        env=_env(root, {f"SHADOWMAP_{name.upper()}": value for name, value in settings.items()}),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(
                        f"server did not start: {(data_dir / 'server.log').read_text()}"
                    ) from None
                time.sleep(0.2)
        yield process, url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create a PostgreSQL database for one run; yield its URL; drop it after."""
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


def finding(indicator: str, service_id: str | None = None) -> Finding:
    """One finding as an agent reports it: a catalogue service, or an unknown candidate."""
    return Finding(
        kind=FindingKind.PROCESS,
        indicator=indicator,
        indicator_kind="process",
        service_id=service_id,
        confidence=Confidence.HIGH if service_id else Confidence.LOW,
        heuristic=None if service_id else "bench",
        user="bench",
        evidence={"pid": 4242},
        first_seen=SEEN,
        last_seen=SEEN,
    )


def report_body(agent_id: str, hostname: str, findings: list[Finding]) -> bytes:
    """A full agent report in the wire format, as the agent sends it."""
    return Report(
        report_id=str(uuid.uuid4()),
        agent=AgentInfo(id=agent_id, version="bench", catalogue_version="bench"),
        host=HostInfo(hostname=hostname, os="linux", os_version="bench", arch="x86_64"),
        generated_at=SEEN,
        findings=findings,
    ).to_json()


def enroll(client: httpx.Client, url: str, token: str, agent_id: str, hostname: str) -> str:
    """Enroll one agent over HTTP; return its credential."""
    answer = client.post(
        f"{url}/api/v1/agents/enroll",
        json={
            "token": token,
            "agent_id": agent_id,
            "host": {"hostname": hostname, "os": "linux", "os_version": "", "arch": "x86_64"},
        },
    )
    answer.raise_for_status()
    credential: str = answer.json()["credential"]
    return credential
