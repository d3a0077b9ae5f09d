"""The draft inventory over the API: the raw sightings behind an item, paged and pseudonymised."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.ingest import ingest_report
from server.app import create_app
from server.config import ServerSettings
from tests.factories import enrolled_agent, finding, report
from tests.server.conftest import bearer, make_token


@pytest.mark.parametrize("pseudonym_key", [None, "k" * 32])
def test_sightings_of_an_item_page_and_respect_pseudonyms(
    tmp_path: Path, pseudonym_key: str | None
) -> None:
    settings = ServerSettings(
        data_dir=tmp_path, scheduler_enabled=False, user_pseudonym_key=pseudonym_key
    )
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    app = create_app(settings)
    with transaction(make_sessionmaker(engine)) as session:
        agent, _credential = enrolled_agent(session)
        wire = report(
            [
                finding("openai-chatgpt", user="alice"),
                finding("openai-chatgpt", indicator="chatgpt.com", indicator_kind="domain"),
            ]
        )
        ingest_report(session, agent=agent, report=wire, catalogue=app.state.shadowmap.catalogue)
    engine.dispose()
    token = make_token(app, ["inventory:read"])
    with TestClient(app) as client:
        item_id = client.get("/api/v1/inventory", headers=bearer(token)).json()[0]["id"]
        url = f"/api/v1/inventory/{item_id}/sightings"
        sightings = client.get(url, headers=bearer(token)).json()
        assert len(sightings) == 2
        assert {s["indicator"] for s in sightings} == {"ChatGPT", "chatgpt.com"}
        assert sightings[0]["hostname"] == "laptop-1"
        users = {s["user"] for s in sightings}
        if pseudonym_key is None:
            assert users == {"alice"}
        else:
            assert len(users) == 1 and users.pop().startswith("user-")
        page = client.get(url, params={"limit": 1, "offset": 1}, headers=bearer(token))
        assert page.json() == sightings[1:] and page.headers["X-Total-Count"] == "2"
        missing = client.get("/api/v1/inventory/999999/sightings", headers=bearer(token))
        assert missing.status_code == 404
        hosts_only = make_token(app, ["hosts:read"])
        assert client.get(url, headers=bearer(hosts_only)).status_code == 403
    app.state.shadowmap.engine.dispose()
