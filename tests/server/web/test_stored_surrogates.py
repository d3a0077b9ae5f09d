"""Text an older release stored with a lone UTF-16 surrogate (as a JSON escape in evidence,
health or scanner errors) never makes a page or an API answer fail: it is shown escaped."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from collector.db import transaction
from server.app import create_app
from server.config import ServerSettings
from tests.factories import finding, report
from tests.server.conftest import bearer, enroll, sign_in


def test_pages_and_api_answer_with_a_stored_lone_surrogate(
    tmp_path: Path, seeded_sqlite: Path
) -> None:
    shutil.copyfile(seeded_sqlite, tmp_path / "shadowmap.db")
    app = create_app(ServerSettings(data_dir=tmp_path, scheduler_enabled=False))
    with TestClient(app) as client:
        credential = enroll(client, app)
        sent = report([finding("openai-chatgpt", evidence={"browser": "Chrome", "pid": 7})])
        assert (
            client.post(
                "/api/v1/agents/reports", content=sent.to_json(), headers=bearer(credential)
            ).status_code
            == 200
        )
        # What a release before the ingest check stored: SQLite keeps JSON as text, so the
        # escape went in; decoding it gives Python a lone surrogate.
        with transaction(app.state.shadowmap.sessions) as session:
            session.execute(
                text("""UPDATE sightings SET evidence = '{"browser": "Chr\\ud800me"}'""")
            )
            session.execute(
                text(
                    """UPDATE hosts SET health = '{"note": "\\udfff"}', """
                    """scanner_errors = '[{"scanner": "x\\ud800", "message": "m"}]'"""
                )
            )
        sign_in(client, "admin")
        host_id = client.get("/api/v1/hosts").json()[0]["id"]
        item_id = client.get("/api/v1/inventory").json()[0]["id"]
        for path in (
            f"/hosts/{host_id}",
            f"/inventory/{item_id}",
            f"/api/v1/hosts/{host_id}",
            f"/api/v1/inventory/{item_id}/sightings",
            "/hosts",
            "/inventory",
        ):
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.text[:300])
        page = client.get(f"/inventory/{item_id}").text
        assert "Chr\ufffdme" in page
        host = client.get(f"/api/v1/hosts/{host_id}")
        assert host.json()["health"] == {"note": "\udfff"} or "\\udfff" in host.text
