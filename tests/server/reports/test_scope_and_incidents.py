"""Every board summary states the AIMS scope, how much discovered AI falls outside it and the
AI incidents; the dashboard states the scope too."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from collector.db import transaction
from collector.store.base import utcnow
from server.incidents.service import report_incident
from server.reports.figures import gather
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
