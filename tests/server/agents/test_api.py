"""The agent-facing API: enrollment, report ingest and its refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from collector.store import triage
from collector.store.agents import Report
from collector.store.inventory import InventoryItem, Sighting, list_inventory
from server.app import create_app
from server.config import ServerSettings
from signatures import FindingKind
from tests.factories import finding, report
from tests.server.conftest import enroll, sign_in


def _counts(app: FastAPI) -> tuple[int, int, int]:
    with app.state.shadowmap.sessions() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Report, InventoryItem, Sighting)
        )


def _post(client: TestClient, credential: str, body: bytes) -> object:
    return client.post(
        "/api/v1/agents/reports",
        content=body,
        headers={"Authorization": f"Bearer {credential}", "Content-Type": "application/json"},
    )


def test_enrolled_agent_report_lands_in_the_inventory(client: TestClient, app: FastAPI) -> None:
    credential = enroll(client, app)
    sent = report([finding("openai-chatgpt"), finding("ollama", indicator="ollama")])
    answer = _post(client, credential, sent.to_json())
    assert answer.status_code == 200  # type: ignore[attr-defined]
    assert answer.json() == {
        "report_id": sent.report_id,
        "status": "stored",  # type: ignore[attr-defined]
        "findings": 2,
        "items": 2,
        "limited": [],
    }

    again = _post(client, credential, sent.to_json())
    assert again.json()["status"] == "duplicate"  # type: ignore[attr-defined]
    assert _counts(app) == (1, 2, 2)

    sign_in(client, "viewer")
    items = client.get("/api/v1/inventory").json()
    assert {item["service_id"] for item in items} == {"openai-chatgpt", "ollama"}
    assert all(item["host_count"] == 1 for item in items)


def test_reports_need_a_valid_agent_credential(client: TestClient, app: FastAPI) -> None:
    body = report([finding()]).to_json()
    assert client.post("/api/v1/agents/reports", content=body).status_code == 401
    assert _post(client, "smag_forged", body).status_code == 401  # type: ignore[attr-defined]
    assert _counts(app) == (0, 0, 0)


def test_malformed_reports_get_a_clear_4xx_and_write_nothing(
    client: TestClient, app: FastAPI
) -> None:
    credential = enroll(client, app)
    good = json.loads(report([finding()]).to_json())
    cases = {
        b"{not json": "not valid JSON",
        json.dumps({**good, "schema_version": 99}).encode(): "schema_version",
        json.dumps(
            {**good, "findings": [{**good["findings"][0], "kind": "telepathy"}]}
        ).encode(): "findings[0].kind",
        json.dumps(
            {**good, "findings": [{**good["findings"][0], "first_seen": "yesterday"}]}
        ).encode(): "findings[0].first_seen",
        json.dumps({**good, "surprise": 1}).encode(): "Additional properties",
        json.dumps(
            {**good, "host": {**good["host"], "hostname": "x" * 300}}
        ).encode(): "host.hostname",
    }
    for body, expected in cases.items():
        answer = _post(client, credential, body)
        assert answer.status_code == 422, body  # type: ignore[attr-defined]
        assert expected in answer.json()["detail"], answer.json()  # type: ignore[attr-defined]
    assert _counts(app) == (0, 0, 0)


def test_oversized_reports_are_refused_before_parsing(client: TestClient, app: FastAPI) -> None:
    credential = enroll(client, app)
    limit = app.state.shadowmap.settings.max_report_bytes
    answer = _post(client, credential, b"{" + b" " * limit + b"}")
    assert answer.status_code == 413  # type: ignore[attr-defined]
    assert "exceeds" in answer.json()["detail"]  # type: ignore[attr-defined]
    assert _counts(app) == (0, 0, 0)


def test_enrollment_refuses_bad_tokens(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/agents/enroll",
        json={
            "token": "smet_not-a-real-token",
            "agent_id": "agent-0001",
            "host": {"hostname": "h", "os": "linux"},
        },
    )
    assert answer.status_code == 401
    invalid = client.post(
        "/api/v1/agents/enroll",
        json={"token": "x", "agent_id": "../../etc", "host": {"hostname": "", "os": "beos"}},
    )
    assert invalid.status_code == 422


def test_a_heartbeat_is_acknowledged_and_a_heartbeat_with_findings_refused(
    client: TestClient, app: FastAPI
) -> None:
    credential = enroll(client, app)
    doc = json.loads(report([]).to_json())
    doc["kind"] = "heartbeat"
    assert _post(client, credential, json.dumps(doc).encode()).status_code == 200  # type: ignore[attr-defined]

    doc = json.loads(report([finding()]).to_json())
    doc["kind"] = "heartbeat"
    answer = client.post(
        "/api/v1/agents/reports",
        content=json.dumps(doc).encode(),
        headers={"Authorization": f"Bearer {credential}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 422 and "findings" in answer.json()["detail"]
    sign_in(client, "viewer")
    assert client.get("/api/v1/inventory").json() == []
    (host,) = client.get("/api/v1/hosts").json()
    assert host["last_report_at"] is not None


def test_agents_are_told_the_organisation_domains(tmp_path: Path, seeded_sqlite: Path) -> None:
    """GET /api/v1/agents/config: agent credential only; the domains as the setting lists them."""
    data_dir = tmp_path / "org"
    data_dir.mkdir()
    shutil.copyfile(seeded_sqlite, data_dir / "shadowmap.db")
    settings = ServerSettings(
        data_dir=data_dir,
        scheduler_enabled=False,
        organisation_domains="Example.com, corp.example.org,example.com",
    )
    app = create_app(settings)
    with TestClient(app, base_url="http://testserver") as client:
        assert client.get("/api/v1/agents/config").status_code == 401
        credential = enroll(client, app)
        answer = client.get(
            "/api/v1/agents/config", headers={"Authorization": f"Bearer {credential}"}
        )
        assert answer.status_code == 200
        assert answer.json() == {"organisation_domains": ["example.com", "corp.example.org"]}
        sign_in(client, "admin")  # a person's session is not an agent credential
        assert client.get("/api/v1/agents/config").status_code == 401


def test_a_profile_class_lands_on_the_sighting_and_the_item(
    client: TestClient, app: FastAPI
) -> None:
    credential = enroll(client, app)
    extension = {"kind": FindingKind.BROWSER_EXTENSION, "indicator_kind": "browser_extension"}
    sent = report(
        [
            finding(
                "monica",
                indicator="ofpnmcalabcbjgholdjcjblkibolbppb",
                user="ana",
                evidence={"profile_account": "personal"},
                **extension,
            ),  # type: ignore[arg-type]
            finding(
                "monica",
                indicator="ofpnmcalabcbjgholdjcjblkibolbppb",
                user="bob",
                evidence={"profile_account": "corporate", "profile_account_domain": "example.com"},
                **extension,
            ),  # type: ignore[arg-type]
            finding(
                "merlin",
                indicator="camppjleccjaphfdbohjdohecfnoikec",
                user="bob",
                evidence={"profile_account": "forged-class"},
                **extension,
            ),  # type: ignore[arg-type]
        ]
    )
    assert _post(client, credential, sent.to_json()).status_code == 200  # type: ignore[attr-defined]
    with app.state.shadowmap.sessions() as session:
        stored = {(row.user_name, row.profile_account) for row in session.scalars(select(Sighting))}
        assert stored == {("ana", "personal"), ("bob", "corporate"), ("bob", "")}
        accounts = {row.item.service_id: row.profile_accounts for row in list_inventory(session)}
        assert accounts == {"monica": ("personal", "corporate"), "merlin": ()}
        personal = triage.list_triage_queue(session, profile_account="personal")
        assert [row.item.service_id for row in personal] == ["monica"]
    sign_in(client, "viewer")
    items = {item["service_id"]: item for item in client.get("/api/v1/inventory").json()}
    assert items["monica"]["profile_accounts"] == ["personal", "corporate"]
    monica = items["monica"]["id"]
    sightings = client.get(f"/api/v1/inventory/{monica}/sightings").json()
    assert sorted(s["profile_account"] for s in sightings) == ["corporate", "personal"]
