"""The persisted schedule: jobs live in the database, a run missed while the servers were
down fires once at the next start, and two replicas starting together run it once."""

from __future__ import annotations

import datetime as dt
import pickle
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.store.reports import ReportRun
from server.app import create_app
from server.config import ServerSettings
from server.reports.schedule import start_scheduler
from signatures import load_catalogue
from tests.server.reports.seed import seed_discovery


@pytest.mark.slow
def test_a_missed_run_fires_once_after_restart_across_two_replicas(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path, report_cron="0 7 * * mon")
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        seed_discovery(session, load_catalogue(None), now=dt.datetime.now(dt.UTC), hosts=6)

    first = start_scheduler(settings, engine, sessions)
    first.shutdown()
    with engine.begin() as connection:
        stored = connection.execute(text("SELECT id, next_run_time FROM apscheduler_jobs")).all()
    assert [row[0] for row in stored] == ["report:weekly"]  # the webhook poller is not stored
    next_run = dt.datetime.fromtimestamp(stored[0][1], dt.UTC)
    assert next_run.weekday() == 0 and next_run.hour == 7 and next_run > dt.datetime.now(dt.UTC)

    # Every server was down when the report was due: the stored job's time is an hour ago.
    # (Written the way the job store writes it: the pickled state plus its index column.)
    due = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with engine.begin() as connection:
        state = pickle.loads(  # noqa: S301 - the job store's own row in a test database
            connection.execute(text("SELECT job_state FROM apscheduler_jobs")).scalar_one()
        )
        state["next_run_time"] = due
        connection.execute(
            text("UPDATE apscheduler_jobs SET job_state = :state, next_run_time = :t"),
            {"state": pickle.dumps(state, pickle.HIGHEST_PROTOCOL), "t": due.timestamp()},
        )

    # Two replicas start on the same database.
    other_engine = make_engine(settings.resolved_database_url())
    replicas = [
        start_scheduler(settings, engine, sessions),
        start_scheduler(settings, other_engine, make_sessionmaker(other_engine)),
    ]
    deadline = time.monotonic() + 30
    runs: list[ReportRun] = []
    while time.monotonic() < deadline:
        with sessions() as session:
            runs = list(session.scalars(select(ReportRun)))
        if runs and all(run.status == "done" for run in runs):
            break
        time.sleep(0.2)
    time.sleep(1.0)  # give a second, wrong run the chance to appear
    for scheduler in replicas:
        scheduler.shutdown()
    with sessions() as session:
        runs = list(session.scalars(select(ReportRun)))
    assert len(runs) == 1, [(run.period, run.claimed_by) for run in runs]
    assert runs[0].trigger == "schedule" and runs[0].status == "done"
    assert runs[0].summary["headline"]["hosts_total"] == 6
    with engine.begin() as connection:
        moved = connection.execute(text("SELECT next_run_time FROM apscheduler_jobs")).scalar()
    assert moved is not None and moved > time.time()  # rescheduled for next Monday

    # A plain restart does not run it again.
    again = start_scheduler(settings, engine, sessions)
    time.sleep(1.0)
    again.shutdown()
    with sessions() as session:
        assert len(session.scalars(select(ReportRun)).all()) == 1
    other_engine.dispose()
    engine.dispose()


@pytest.mark.parametrize("enabled", [True, False])
def test_the_server_runs_the_scheduler_while_it_runs(tmp_path: Path, enabled: bool) -> None:
    settings = ServerSettings(data_dir=tmp_path, scheduler_enabled=enabled)
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        with engine.connect() as connection:
            tables = connection.execute(
                text("SELECT name FROM sqlite_master WHERE name = 'apscheduler_jobs'")
            ).all()
            jobs = (
                connection.execute(text("SELECT id FROM apscheduler_jobs")).scalars().all()
                if tables
                else []
            )
    assert jobs == (["report:weekly"] if enabled else [])
    engine.dispose()
