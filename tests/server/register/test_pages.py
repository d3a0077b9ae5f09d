"""The register pages through the in-process app: the main journey from triage to an approved
entry on the dashboard, with its guards and audit."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.server.conftest import sign_in
from tests.server.seed import HOSTILE, seed_over_http


def _version(page: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', page)
    assert found
    return found.group(1)


def test_triage_promote_approve_and_dashboard(client: TestClient, app: FastAPI) -> None:
    items = seed_over_http(client, app)
    chatgpt = items["ChatGPT"]
    csrf = sign_in(client, "reviewer")

    queue = client.get("/triage")
    assert queue.status_code == 200 and "ChatGPT" in queue.text
    assert HOSTILE not in queue.text and "&lt;script&gt;" in queue.text

    assert (
        client.post(
            f"/inventory/{chatgpt}/assign", data={"csrf": csrf, "assignee": "reviewer"}
        ).status_code
        == 200
    )
    page = client.get(f"/inventory/{chatgpt}")
    assert "triaging" in page.text and "fin-laptop-7" in page.text

    promoted = client.post(
        f"/inventory/{chatgpt}/promote",
        data={"csrf": csrf, "title": "ChatGPT for finance", "business_unit": "Finance"},
        follow_redirects=False,
    )
    assert promoted.status_code == 303
    entry_url, saved = promoted.headers["location"].split("?")
    assert saved == "saved=promoted"  # the entry page confirms what was done
    register_id = entry_url.rsplit("/", 1)[1]
    assert re.fullmatch(r"AIR-\d{4}-0001", register_id)

    entry = client.get(entry_url)
    assert "under review" in entry.text and "Before approval" in entry.text
    # No approval without an owner, a purpose and a risk level.
    refused = client.post(
        f"{entry_url}/decision",
        data={
            "csrf": csrf,
            "version": _version(entry.text),
            "decision": "approved",
            "rationale": "fine",
        },
        headers={"Accept": "text/html"},
    )
    assert refused.status_code == 422 and "business owner" in refused.text

    form = {
        "csrf": csrf,
        "version": _version(entry.text),
        "title": "ChatGPT for finance",
        "ai_system": "ChatGPT",
        "business_unit": "Finance",
        "business_owner": "Dana Finance",
        "purpose": "Drafting supplier emails",
        "risk_level": "medium",
        "risk_rationale": "Internal data only",
        "data_classes": ["internal", "personal_data"],
        "review_cadence_months": "6",
        "dpia_screening": "not_screened",
        "supplier": "OpenAI",
        "supplier_review": "approved",
        "eu_ai_act_class": "minimal",
        "human_oversight": "human_in_the_loop",
        "scope_status": "in_scope",
        "evidence_links": "https://wiki.example.com/ai/chatgpt",
    }
    assert client.post(entry_url, data=form).status_code == 200
    entry = client.get(entry_url)
    # Personal data is involved: the DPIA screening guard now blocks approval.
    refused = client.post(
        f"{entry_url}/decision",
        data={
            "csrf": csrf,
            "version": _version(entry.text),
            "decision": "approved",
            "rationale": "ok",
        },
    )
    assert refused.status_code == 422 and refused.headers["x-shadowmap-field"] == "dpia_screening"
    form.update(version=_version(entry.text), dpia_screening="dpia_not_required")
    assert client.post(entry_url, data=form).status_code == 200
    stale = client.post(entry_url, data=form)  # the old version again
    assert stale.status_code == 409

    entry = client.get(entry_url)
    approved = client.post(
        f"{entry_url}/decision",
        data={
            "csrf": csrf,
            "version": _version(entry.text),
            "decision": "approved",
            "rationale": "Low risk with the DPA in place",
        },
    )
    assert approved.status_code == 200
    entry = client.get(entry_url)
    assert "Decision: approved" in entry.text and "Dana Finance" in entry.text

    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200
    approved_kpi = re.search(
        r'kpi-value">(\d+)</span><span class="kpi-label">approved', dashboard.text
    )
    assert approved_kpi and approved_kpi.group(1) == "1"
    assert "<svg" in dashboard.text and "style=" not in dashboard.text

    register = client.get("/register?status=approved")
    assert register_id in register.text

    audit = client.get("/audit?object_type=entry")
    assert "entry.approved" in audit.text and "entry.create" in audit.text
    lines = client.get("/audit/export?format=jsonl").text.splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["action"] for e in events][:2] == ["item.assign", "entry.create"]
    assert all(e["prev_hash"] == p["hash"] for p, e in itertools.pairwise(events))
    rows = list(csv.DictReader(io.StringIO(client.get("/audit/export?format=csv").text)))
    assert len(rows) == len(events) and rows[-1]["action"] == "entry.approved"
