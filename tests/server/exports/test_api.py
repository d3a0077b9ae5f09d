"""Inventory and register exports: JSON, CSV (formula-safe) and CycloneDX 1.6 validated
against the official schema shipped with cyclonedx-python-lib (offline)."""

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
from collector.store.inventory import InventoryItem
from server.exports.service import REGISTER_CSV_COLUMNS
from server.register import service
from server.register.schemas import EntryInput, RegisterEntryOut
from tests.server.conftest import bearer, make_token
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
    assert chatgpt["state"] == "promoted" and chatgpt["host_count"] >= 1
    assert chatgpt["governed_status"] == "approved"

    table = client.get("/api/v1/exports/inventory.csv", headers=bearer(token))
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert len(rows) == 13 and rows[0].keys() >= {"name", "state", "host_count"}
    names = {row["name"] for row in rows}
    assert "'=cmd|'/c calc'!A1" in names and "=cmd|'/c calc'!A1" not in names
    promoted = client.get(
        "/api/v1/exports/inventory.csv", params={"state": "promoted"}, headers=bearer(token)
    )
    governed = [row["governed_status"] for row in csv.DictReader(io.StringIO(promoted.text))]
    assert sorted(governed) == ["approved"] * 3 + ["prohibited"]
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
    assert ("shadowmap:inventory:state", "promoted") in properties
    assert ("shadowmap:register:status", "approved") in properties
    assert ("shadowmap:catalogue:service_id", "openai-chatgpt") in properties


def seeded_register(app: FastAPI) -> list[str]:
    """Two entries: one approved with data classes and evidence, one with formula text."""
    with transaction(app.state.shadowmap.sessions) as session:
        approved = service.create_entry(
            session,
            actor="alice",
            fields=EntryInput(
                title="Drafting letters",
                ai_system="ChatGPT",
                supplier="OpenAI",
                business_owner="Bob Owner",
                technical_owner="Tess Tech",
                purpose="Draft customer letters",
                data_classes=["customer_data", "internal"],
                risk_level="medium",
                dpia_screening="dpia_completed",
                evidence_links=["https://wiki.example/dpia/42"],
            ),
            service_id="openai-chatgpt",
        )
        service.decide_entry(
            session,
            actor="carol",
            register_id=approved.register_id,
            expected_version=approved.version,
            decision="approved",
            rationale="DPIA done",
            today=dt.date(2026, 11, 1),
        )
        hostile = service.create_entry(
            session,
            actor="alice",
            fields=EntryInput(
                title='=HYPERLINK("http://evil")', ai_system="@SUM(1)", purpose="-2+3"
            ),
        )
        return [approved.register_id, hostile.register_id]


def test_register_json_and_csv_exports(client: TestClient, app: FastAPI) -> None:
    approved_id, hostile_id = seeded_register(app)
    token = make_token(app, ["register:read"])
    exported = client.get("/api/v1/exports/register.json", headers=bearer(token))
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    document = exported.json()
    assert document["format"] == "shadowmap.register" and document["version"] == 1
    entries = {entry["register_id"]: entry for entry in document["entries"]}
    assert entries[approved_id]["status"] == "approved"
    assert entries[approved_id]["next_review_on"] == "2027-11-01"
    assert entries[approved_id]["data_classes"] == ["internal", "customer_data"]

    table = client.get("/api/v1/exports/register.csv", headers=bearer(token))
    rows = {row["register_id"]: row for row in csv.DictReader(io.StringIO(table.text))}
    assert tuple(rows[approved_id]) == REGISTER_CSV_COLUMNS
    assert set(REGISTER_CSV_COLUMNS) == set(RegisterEntryOut.model_fields)
    assert rows[approved_id]["decided_by"] == "carol"
    assert rows[hostile_id]["title"] == '\'=HYPERLINK("http://evil")'
    assert rows[hostile_id]["ai_system"] == "'@SUM(1)" and rows[hostile_id]["purpose"] == "'-2+3"
    only = client.get(
        "/api/v1/exports/register.csv", params={"status": "under_review"}, headers=bearer(token)
    )
    assert [row["register_id"] for row in csv.DictReader(io.StringIO(only.text))] == [hostile_id]
    inventory_only = make_token(app, ["inventory:read"])
    assert (
        client.get("/api/v1/exports/register.json", headers=bearer(inventory_only)).status_code
        == 403
    )


def test_register_cyclonedx_is_a_valid_1_6_bom_with_classified_data_flows(
    client: TestClient, app: FastAPI
) -> None:
    approved_id, hostile_id = seeded_register(app)
    token = make_token(app, ["register:read"])
    answer = client.get("/api/v1/exports/register.cyclonedx", headers=bearer(token))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.cyclonedx+json")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(answer.text) is None
    bom = json.loads(answer.text)
    assert bom["specVersion"] == "1.6"
    assert bom["metadata"]["lifecycles"] == [{"phase": "discovery"}, {"phase": "operations"}]
    services = {service["bom-ref"]: service for service in bom["services"]}
    chatgpt = services[f"shadowmap:register-entry:{approved_id}"]
    assert chatgpt["name"] == "ChatGPT" and chatgpt["provider"] == {"name": "OpenAI"}
    assert sorted(flow["classification"] for flow in chatgpt["data"]) == [
        "customer_data",
        "internal",
    ]
    assert {flow["flow"] for flow in chatgpt["data"]} == {"outbound"}
    assert "https://chatgpt.com" in chatgpt["endpoints"]
    assert chatgpt["externalReferences"] == [
        {"type": "evidence", "url": "https://wiki.example/dpia/42"}
    ]
    properties = {p["name"]: p["value"] for p in chatgpt["properties"]}
    assert properties["shadowmap:register:risk_level"] == "medium"
    assert properties["shadowmap:register:decision"] == "approved"
    assert properties["shadowmap:register:business_owner"] == "Bob Owner"
    assert properties["shadowmap:register:next_review_on"] == "2027-11-01"
    unclassified = services[f"shadowmap:register-entry:{hostile_id}"]
    assert unclassified["data"] == [{"flow": "outbound", "classification": "unclassified"}]
    assert "provider" not in unclassified


def test_register_cyclonedx_takes_evidence_links_cyclonedx_would_refuse(
    client: TestClient, app: FastAPI
) -> None:
    """The register accepts a link with a lone "%" or a second "#" (schemathesis' stateful run
    found one); the CycloneDX exports and the evidence pack percent-encode them, not fail."""
    links = ["https://wiki.example/v%N$K+", "https://wiki.example/a#b#c"]
    with transaction(app.state.shadowmap.sessions) as session:
        service.create_entry(
            session,
            actor="alice",
            fields=EntryInput(title="Odd links", ai_system="Some AI", evidence_links=links),
        )
    token = make_token(app, ["register:read", "inventory:read"])
    answer = client.get("/api/v1/exports/register.cyclonedx", headers=bearer(token))
    assert answer.status_code == 200
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(answer.text) is None
    (entry,) = json.loads(answer.text)["services"]
    assert sorted(ref["url"] for ref in entry["externalReferences"]) == [
        "https://wiki.example/a#b%23c",
        "https://wiki.example/v%25N$K+",
    ]
    assert client.get("/api/v1/exports/evidence-pack.zip", headers=bearer(token)).status_code == 200
