"""Every board summary states the AIMS scope, how much discovered AI falls outside it and the
AI incidents; the dashboard states the scope too."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.store import objectives
from collector.store.base import utcnow
from server.config import ServerSettings
from server.incidents.service import report_incident
from server.reports.figures import gather
from server.reports.runner import run_report
from server.scope.service import publish_scope
from tests.factories import finding
from tests.server.conftest import sign_in
from tests.server.seed import ingest_items


def _summary(db: Session) -> list[str]:
    now = utcnow()
    return gather(
        db, title="Weekly", start=now - dt.timedelta(days=7), end=now + dt.timedelta(seconds=1),
        stale_after=dt.timedelta(hours=3),
    ).summary  # fmt: skip


def test_the_board_summary_states_scope_and_incidents(db: Session) -> None:
    ingest_items(db, finding("openai-chatgpt"))
    lines = _summary(db)
    assert lines[0].startswith("No AIMS scope has been published")
    assert lines[-1] == "No AI incident is open and none was recorded this period."
    publish_scope(
        db, actor="admin", owner="Olga", business_units=["Sales"], locations=[],
        ai_use_kinds=["used"], exclusions="", rationale="start",
    )  # fmt: skip
    report_incident(db, actor="admin", title="Leak", severity="high", occurred_on=utcnow().date())
    lines = _summary(db)
    assert lines[0].startswith("AIMS scope v1 (owner Olga): Sales; AI used. 0 of 1 discovered")
    assert lines[-1] == "1 AI incident open (highest severity: high); 1 recorded this period."


def test_the_dashboard_states_the_scope(client: TestClient) -> None:
    sign_in(client, "viewer")
    page = client.get("/dashboard").text
    assert "No AIMS scope has been published" in page
    with transaction(client.app.state.shadowmap.sessions) as session:  # type: ignore[attr-defined]
        publish_scope(
            session, actor="admin", owner="Olga", business_units=["Sales"], locations=[],
            ai_use_kinds=["used"], exclusions="", rationale="start",
        )  # fmt: skip
    assert "AIMS scope v1 (owner Olga)" in client.get("/dashboard").text


def test_each_scheduled_report_keeps_a_point_of_every_objective_trend(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path, scheduler_enabled=False)
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    run_report(sessions, settings, name="weekly", trigger="manual", deliver=False)
    with transaction(sessions) as session:
        assert objectives.list_measurements(session) == []
    for week in (1, 2):
        moment = dt.datetime(2026, 11, 2 + 7 * week, 8, tzinfo=dt.UTC)
        run_report(sessions, settings, name="weekly", trigger="schedule", deliver=False, now=moment)
    with transaction(sessions) as session:
        points = objectives.list_measurements(session)
        assert {p.measure for p in points} == {"open_violations", "open_incidents"}
        assert sorted({p.measured_at for p in points}) == [
            dt.datetime(2026, 11, 9, 8, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 16, 8, tzinfo=dt.UTC),
        ]
    engine.dispose()
