"""Issue 20 #5: slow webhook receivers never hold a database transaction open, so ingest goes
on while they hang (SQLite and PostgreSQL); deliveries to different endpoints run side by side.
Real receivers on loopback, a real agent report over HTTP during the hang."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from server.config import ServerSettings
from server.webhooks.service import deliver_due
from tests.factories import report
from tests.server.conftest import bearer, enroll, make_token
from tests.server.receivers import Receiver
from tests.server.seed import post_report, unknowns


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> ServerSettings:
    url = request.getfixturevalue("fresh_postgres_url") if request.param == "postgres" else None
    return ServerSettings(
        data_dir=tmp_path,
        database_url=url,
        scheduler_enabled=False,
        outbound_allow="127.0.0.1/32",
        webhook_timeout_seconds=60,
    )


@pytest.fixture
def hanging() -> Iterator[list[Receiver]]:
    """Three receivers that hold every request until released (or 45 s: longer than SQLite's
    30 s busy timeout, so a write lock held across the hang fails the ingest)."""
    release = threading.Event()
    receivers = [Receiver() for _ in range(3)]
    for receiver in receivers:
        receiver.hold = release
        receiver.hold_timeout = 45
    yield receivers
    release.set()
    for receiver in receivers:
        receiver.close()


def open_write_transactions(settings: ServerSettings) -> str | None:
    """Return why a write transaction has been open on the server's database for more than a
    moment, if one has: the deliveries to the other endpoints may be claiming or recording
    right then, in writes of milliseconds; what must never happen is a write held across a
    receiver's hang (45 s)."""
    if settings.database_url is None:
        # Waits up to 2 s for a short write to end; one held across the hang outlasts it.
        probe = sqlite3.connect(settings.data_dir / "shadowmap.db", timeout=2)
        try:
            probe.execute("BEGIN IMMEDIATE")  # fails while another connection writes
            probe.execute("ROLLBACK")
            return None
        except sqlite3.OperationalError as exc:
            return str(exc)
        finally:
            probe.close()
    # Named, so that the probes, which run side by side, do not see each other connecting.
    engine = create_engine(
        settings.database_url,
        isolation_level="AUTOCOMMIT",
        connect_args={"application_name": "transaction-probe"},
    )
    deadline = time.monotonic() + 2
    try:
        with engine.connect() as connection:
            while True:
                idle = (
                    connection.execute(
                        text(
                            "SELECT query FROM pg_stat_activity "
                            "WHERE datname = current_database() "
                            "AND state LIKE 'idle in transaction%' "
                            "AND application_name <> 'transaction-probe'"
                        )
                    )
                    .scalars()
                    .all()
                )
                if not idle:
                    return None
                if time.monotonic() > deadline:  # the sender waits on us: a held one stays
                    return f"sessions idle in transaction after: {idle}"
                time.sleep(0.1)
    finally:
        engine.dispose()


def test_hanging_receivers_hold_no_transaction_and_ingest_goes_on(
    client: TestClient, app: FastAPI, settings: ServerSettings, hanging: list[Receiver]
) -> None:
    state = app.state.shadowmap
    admin = make_token(app, ["webhooks:admin"])
    for index, receiver in enumerate(hanging):
        body = {"name": f"slow-{index}", "url": receiver.url, "event_types": ["inventory.*"]}
        assert client.post("/api/v1/webhooks", json=body, headers=bearer(admin)).status_code == 201
    probes: list[str | None] = []
    for receiver in hanging:
        receiver.on_request = lambda: probes.append(open_write_transactions(settings))
    credential = enroll(client, app)
    deliver_due(state.settings, state.sessions)  # the first round starts the feed from now
    post_report(client, credential, unknowns("first"))

    delivering = threading.Thread(target=deliver_due, args=(state.settings, state.sessions))
    delivering.start()
    try:
        # Every endpoint is being called at once: no receiver waits behind another.
        deadline = time.monotonic() + 8
        side_by_side = all(
            receiver.arrived.acquire(timeout=max(0.0, deadline - time.monotonic()))
            for receiver in hanging
        )
        started = time.monotonic()
        answer = client.post(
            "/api/v1/agents/reports",
            content=report(unknowns("second")).to_json(),
            headers={"Authorization": f"Bearer {credential}"},
        )
        ingest_seconds = time.monotonic() - started
    finally:
        assert hanging[0].hold is not None
        hanging[0].hold.set()
        delivering.join(timeout=60)
    assert probes == [None, None, None]
    assert answer.status_code == 200, answer.text
    assert ingest_seconds < 5
    assert side_by_side, "deliveries to different endpoints ran one after another"
    log = client.get("/api/v1/webhooks/deliveries", headers=bearer(admin)).json()
    assert sorted(entry["status"] for entry in log) == ["delivered"] * 3
