"""Inventory exports: JSON, CSV (formula-safe) and CycloneDX 1.6 validated against the
official schema shipped with cyclonedx-python-lib (offline)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from collector.db import transaction
from collector.models import InventoryItem
from tests.server.api.conftest import bearer, make_token
from tests.server.reports.seed import seed_discovery


def seeded(app: FastAPI) -> None:
    state = app.state.shadowmap
    with transaction(state.sessions) as session:
        seed_discovery(session, state.catalogue, now=dt.datetime.now(dt.UTC), hosts=8)
        item = session.scalar(select(InventoryItem).where(InventoryItem.service_id.is_(None)))
        assert item is not None
        item.name = "=cmd|'/c calc'!A1"


def test_json_and_csv_exports(client: TestClient, app: FastAPI) -> None:
    seeded(app)
    token = make_token(app, ["inventory:read"])
    exported = client.get("/api/v1/exports/inventory.json", headers=bearer(token))
    assert exported.status_code == 200
    assert "attachment" in exported.headers["Content-Disposition"]
    document = exported.json()
    assert document["format"] == "shadowmap.inventory" and document["version"] == 1
    assert len(document["items"]) == 13
    chatgpt = next(i for i in document["items"] if i["service_id"] == "openai-chatgpt")
    assert chatgpt["state"] == "approved" and chatgpt["host_count"] >= 1

    table = client.get("/api/v1/exports/inventory.csv", headers=bearer(token))
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert len(rows) == 13 and rows[0].keys() >= {"name", "state", "host_count"}
    names = {row["name"] for row in rows}
    assert "'=cmd|'/c calc'!A1" in names and "=cmd|'/c calc'!A1" not in names
    approved = client.get(
        "/api/v1/exports/inventory.csv", params={"state": "approved"}, headers=bearer(token)
    )
    assert len(list(csv.DictReader(io.StringIO(approved.text)))) == 3
    assert client.get("/api/v1/exports/inventory.xml", headers=bearer(token)).status_code == 422
    hosts_only = make_token(app, ["hosts:read"])
    assert (
        client.get("/api/v1/exports/inventory.json", headers=bearer(hosts_only)).status_code == 403
    )


def test_cyclonedx_export_is_a_valid_1_6_bom_of_discovered_services(
    client: TestClient, app: FastAPI
) -> None:
    seeded(app)
    token = make_token(app, ["inventory:read"])
    answer = client.get("/api/v1/exports/inventory.cyclonedx", headers=bearer(token))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.cyclonedx+json")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(answer.text) is None
    bom = json.loads(answer.text)
    assert bom["specVersion"] == "1.6"
    assert bom["metadata"]["lifecycles"] == [{"phase": "discovery"}]
    services = {service["name"]: service for service in bom["services"]}
    assert len(services) == 13
    chatgpt = services["ChatGPT"]
    assert chatgpt["provider"] == {"name": "OpenAI"}
    assert chatgpt["data"] == [{"flow": "outbound", "classification": "unclassified"}]
    assert {"https://chatgpt.com", "https://chat.openai.com"} <= set(chatgpt["endpoints"])
    properties = {(p["name"], p["value"]) for p in chatgpt["properties"]}
    assert ("shadowmap:inventory:state", "approved") in properties
    assert ("shadowmap:catalogue:service_id", "openai-chatgpt") in properties
