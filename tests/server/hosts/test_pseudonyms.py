"""With a pseudonymisation key set, no page or API answer about hosts or violations shows a
user name as reported: host pages, /api/v1/hosts/{id} and an item's violations give the
keyed pseudonym the inventory gives."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from collector.db import transaction
from server.app import create_app
from server.config import ServerSettings
from server.inventory.evidence import user_display
from tests.factories import finding, report
from tests.server.conftest import bearer, enroll, make_token, sign_in
from tests.server.webhooks.test_webhooks import prohibit_item

KEY = "pseudonym-key-" + "k" * 20
REAL_NAME = "alice.smith"


def test_host_pages_and_violations_show_pseudonyms_only(
    tmp_path: Path, seeded_sqlite: Path
) -> None:
    settings = ServerSettings(data_dir=tmp_path, scheduler_enabled=False, user_pseudonym_key=KEY)
    shutil.copyfile(seeded_sqlite, tmp_path / "shadowmap.db")
    app = create_app(settings)
    pseudonym = user_display(KEY)(REAL_NAME)
    assert pseudonym.startswith("user-") and REAL_NAME not in pseudonym
    with TestClient(app) as client:
        credential = enroll(client, app)
        sent = report([finding("openai-chatgpt", user=REAL_NAME)])
        posted = client.post(
            "/api/v1/agents/reports", content=sent.to_json(), headers=bearer(credential)
        )
        assert posted.status_code == 200
        token = make_token(app, ["hosts:read", "inventory:read"])
        item_id = client.get("/api/v1/inventory", headers=bearer(token)).json()[0]["id"]
        with transaction(app.state.shadowmap.sessions) as session:
            prohibit_item(session, item_id)  # the register decides; the item follows
        # Seen again while prohibited: a violation by this user on this host.
        again = report([finding("openai-chatgpt", user=REAL_NAME)])
        client.post("/api/v1/agents/reports", content=again.to_json(), headers=bearer(credential))

        host_id = client.get("/api/v1/hosts", headers=bearer(token)).json()[0]["id"]
        host = client.get(f"/api/v1/hosts/{host_id}", headers=bearer(token))
        item = client.get(f"/api/v1/inventory/{item_id}", headers=bearer(token))
        assert [s["user"] for s in host.json()["sightings"]] == [pseudonym]
        assert [v["user"] for v in host.json()["violations"]] == [pseudonym]
        assert [v["user"] for v in item.json()["violations"]] == [pseudonym]
        sign_in(client, "viewer")
        pages = [client.get(f"/hosts/{host_id}"), client.get(f"/inventory/{item_id}")]
        assert pseudonym in pages[0].text
        for answer in (host, item, *pages):
            assert answer.status_code == 200
            assert REAL_NAME not in answer.text, answer.url
