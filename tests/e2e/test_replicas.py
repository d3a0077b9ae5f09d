"""Two real server replicas on one PostgreSQL, many agents reporting overlapping services at
once over real HTTP: no duplicate items and exact roll-ups."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from collector.db import make_engine
from collector.store.agents import Report
from collector.store.inventory import InventoryItem, Sighting
from signatures import Finding, FindingKind, load_catalogue
from tests.e2e.conftest import LiveServer, run_cli, start_server
from tests.factories import finding, report

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

AGENTS = 32
REPORTS_PER_AGENT = 4
SERVICES = [service.id for service in load_catalogue().services][:10]


@pytest.fixture
def replicas(tmp_path: Path, fresh_postgres_url: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    first_dir, second_dir = tmp_path / "replica-a", tmp_path / "replica-b"
    first_dir.mkdir()
    second_dir.mkdir()
    database = ("--database-url", fresh_postgres_url)
    run_cli("server", "db", "upgrade", "--data-dir", str(first_dir), *database)
    first = start_server(first_dir, database_url=fresh_postgres_url)
    try:
        second = start_server(second_dir, database_url=fresh_postgres_url)
    except Exception:
        first.stop()
        raise
    yield first, second
    second.stop()
    first.stop()


def _findings(agent: int, round_: int) -> list[Finding]:
    """Overlapping services across agents, a shared candidate domain, several users."""
    services = {SERVICES[(agent + offset) % len(SERVICES)] for offset in range(3)}
    services.add(SERVICES[round_ % len(SERVICES)])
    found = [
        finding(service, indicator=service, user=user)
        for service in sorted(services)
        for user in (f"user{agent % 5}", "shared")
    ]
    found.append(
        finding(
            None,
            kind=FindingKind.DNS,
            indicator=f"api{round_}.shadow-ai.dev",
            indicator_kind="domain",
            user=None,
        )
    )
    return found


def test_two_replicas_keep_one_item_per_service_with_exact_counts(
    replicas: tuple[LiveServer, LiveServer], fresh_postgres_url: str
) -> None:
    servers = replicas
    database = ("--database-url", fresh_postgres_url)
    data_dir = ("--data-dir", str(servers[0].data_dir))
    token = run_cli("server", "enroll-token", "create", "--quiet", *data_dir, *database)
    token = token.stdout.strip()
    start = threading.Barrier(AGENTS)
    answers: list[str] = []
    lock = threading.Lock()

    def run_agent(number: int) -> None:
        agent_id = f"replica-agent-{number:04d}"
        hostname = f"host-{number}"
        with httpx.Client(timeout=60) as client:
            enrolled = client.post(
                f"{servers[number % 2].url}/api/v1/agents/enroll",
                json={
                    "token": token,
                    "agent_id": agent_id,
                    "host": {"hostname": hostname, "os": "linux"},
                },
            )
            assert enrolled.status_code == 200, enrolled.text
            headers = {
                "Authorization": f"Bearer {enrolled.json()['credential']}",
                "Content-Type": "application/json",
            }
            start.wait(timeout=60)
            for round_ in range(REPORTS_PER_AGENT):
                body = report(_findings(number, round_), agent_id=agent_id, hostname=hostname)
                # Each report goes to one replica, and its retry to the other.
                for attempt in range(2 if round_ == 0 else 1):
                    server = servers[(number + round_ + attempt) % 2]
                    answer = client.post(
                        f"{server.url}/api/v1/agents/reports",
                        content=body.to_json(),
                        headers=headers,
                    )
                    assert answer.status_code == 200, answer.text
                    with lock:
                        answers.append(answer.json()["status"])

    with ThreadPoolExecutor(max_workers=AGENTS) as pool:
        for future in [pool.submit(run_agent, number) for number in range(AGENTS)]:
            future.result()

    assert answers.count("stored") == AGENTS * REPORTS_PER_AGENT
    assert answers.count("duplicate") == AGENTS

    expected_hosts: dict[str, set[int]] = defaultdict(set)
    expected_sightings: dict[str, set[tuple[int, str, str]]] = defaultdict(set)
    expected_users: dict[str, set[str]] = defaultdict(set)
    for number in range(AGENTS):
        for round_ in range(REPORTS_PER_AGENT):
            for found in _findings(number, round_):
                key = f"svc:{found.service_id}" if found.service_id else "cand:domain:shadow-ai.dev"
                expected_hosts[key].add(number)
                expected_sightings[key].add((number, found.indicator, found.user or ""))
                if found.user:
                    expected_users[key].add(found.user)

    engine = make_engine(fresh_postgres_url)
    try:
        with engine.connect() as connection:
            items = connection.execute(
                select(
                    InventoryItem.key,
                    InventoryItem.id,
                    InventoryItem.host_count,
                    InventoryItem.user_count,
                    InventoryItem.sighting_count,
                )
            ).all()
            stored = dict(
                connection.execute(
                    select(Sighting.item_id, func.count()).group_by(Sighting.item_id)
                ).all()
            )
            reports = connection.scalar(select(func.count()).select_from(Report))
    finally:
        engine.dispose()

    assert sorted(key for key, *_ in items) == sorted(expected_hosts)  # no duplicates
    for key, item_id, host_count, user_count, sighting_count in items:
        assert host_count == len(expected_hosts[key]), key
        assert user_count == len(expected_users[key]), key
        assert sighting_count == len(expected_sightings[key]) == stored[item_id], key
    assert reports == AGENTS * REPORTS_PER_AGENT
