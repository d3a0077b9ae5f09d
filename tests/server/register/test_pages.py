"""The triage and register pages through the in-process app: the main journey, guards, audit."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import finding, report
from tests.server.conftest import enroll, sign_in

HOSTILE = "<script>alert('x')</script>"


def _seed(client: TestClient, app: FastAPI) -> dict[str, int]:
    credential = enroll(client, app, hostname="fin-laptop-7")
    answer = client.post(
        "/api/v1/agents/reports",
        content=report(
            [finding("openai-chatgpt"), finding(None, indicator=HOSTILE, heuristic="test")],
            hostname="fin-laptop-7",
        ).to_json(),
        headers={"Authorization": f"Bearer {credential}"},
    )
    assert answer.status_code == 200, answer.text
    sign_in(client, "viewer")
    items = {row["name"]: row["id"] for row in client.get("/api/v1/inventory").json()}
    client.cookies.clear()
    return items


def _version(page: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', page)
    assert found
    return found.group(1)


def test_triage_promote_approve_and_dashboard(client: TestClient, app: FastAPI) -> None:
    items = _seed(client, app)
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
    entry_url = promoted.headers["location"]
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


def test_false_positive_needs_a_reason_and_creates_a_suppression(
    client: TestClient, app: FastAPI
) -> None:
    items = _seed(client, app)
    candidate = items[next(name for name in items if name != "ChatGPT")]
    csrf = sign_in(client, "reviewer")
    no_reason = client.post(
        f"/inventory/{candidate}/state", data={"csrf": csrf, "target": "false_positive"}
    )
    assert no_reason.status_code == 422
    done = client.post(
        f"/inventory/{candidate}/state",
        data={"csrf": csrf, "target": "false_positive", "reason": "internal test page"},
    )
    assert done.status_code == 200
    rules = client.get("/suppressions")
    assert "internal test page" in rules.text
    assert "&lt;script&gt;" not in client.get("/inventory").text  # hidden from the inventory
    assert HOSTILE not in client.get("/triage").text  # closed items leave the open queue
    bulk = client.post(
        "/triage/bulk",
        data={"csrf": csrf, "item": [str(items["ChatGPT"]), str(candidate)], "action": "triaging"},
    )
    # One of the two cannot go to triaging from false positive... it can (reopen): both move.
    assert bulk.status_code == 200
    assert "internal test page" not in client.get("/suppressions").text


def test_bulk_is_all_or_nothing(client: TestClient, app: FastAPI) -> None:
    items = _seed(client, app)
    csrf = sign_in(client, "reviewer")
    answer = client.post(
        "/triage/bulk",
        data={"csrf": csrf, "item": [str(i) for i in items.values()], "action": "out_of_scope"},
    )
    assert answer.status_code == 422  # reason missing
    assert {row["state"] for row in client.get("/api/v1/inventory").json()} == {"new"}
    answer = client.post(
        "/triage/bulk",
        data={
            "csrf": csrf,
            "item": [str(i) for i in items.values()],
            "action": "out_of_scope",
            "reason": "personal devices are outside the AIMS",
        },
    )
    assert answer.status_code == 200
    assert client.get("/triage").text.count('name="item"') == 0


def test_admin_manages_users_and_viewers_cannot(client: TestClient) -> None:
    csrf = sign_in(client, "admin")
    created = client.post(
        "/admin/users", data={"csrf": csrf, "username": "auditor1", "role": "viewer"}
    )
    assert created.status_code == 200 and "auditor1" in created.text
    password = re.search(r'class="secret">([^<]+)<', created.text)
    assert password
    user_id = re.search(
        r'action="/admin/users/(\d+)"[^>]*>\s*<input[^>]*>\s*<label for="role-\d+" '
        r'class="visually-hidden">Role of auditor1',
        created.text,
    )
    assert user_id
    uid = user_id.group(1)
    assert (
        client.post(f"/admin/users/{uid}", data={"csrf": csrf, "role": "reviewer"}).status_code
        == 200
    )
    assert (
        client.post(f"/admin/users/{uid}", data={"csrf": csrf, "disabled": "true"}).status_code
        == 200
    )
    audit = client.get("/audit?object_type=user").text
    assert "user.create" in audit and "user.update" in audit and "argon2" not in audit
    client.cookies.clear()
    # The disabled account cannot sign in.
    page = client.get("/login")
    login_csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert login_csrf
    refused = client.post(
        "/login",
        data={"username": "auditor1", "password": password.group(1), "csrf": login_csrf.group(1)},
    )
    assert refused.status_code == 401
    csrf = sign_in(client, "viewer")
    assert client.get("/admin/users").status_code == 403
    assert (
        client.post(
            "/admin/users", data={"csrf": csrf, "username": "x", "role": "admin"}
        ).status_code
        == 403
    )


def test_register_json_api(client: TestClient) -> None:
    csrf = sign_in(client, "reviewer")
    body = {
        "title": "Copilot for engineering",
        "ai_system": "GitHub Copilot",
        "business_unit": "Engineering",
    }
    assert client.post("/api/v1/register", json=body).status_code == 403  # no CSRF header
    created = client.post("/api/v1/register", json=body, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["status"] == "under_review" and entry["version"] == 1
    bad = client.patch(
        f"/api/v1/register/{entry['register_id']}",
        json={"version": 1, "changes": {"risk_level": "extreme"}},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "risk_level"]
    patched = client.patch(
        f"/api/v1/register/{entry['register_id']}",
        json={"version": 1, "changes": {"risk_level": "high"}},
        headers={"X-CSRF-Token": csrf},
    )
    assert patched.status_code == 200 and patched.json()["version"] == 2
    conflict = client.patch(
        f"/api/v1/register/{entry['register_id']}",
        json={"version": 1, "changes": {"risk_level": "low"}},
        headers={"X-CSRF-Token": csrf},
    )
    assert conflict.status_code == 409
    listed = client.get("/api/v1/register").json()
    assert [e["register_id"] for e in listed] == [entry["register_id"]]
    assert listed[0]["risk_level"] == "high"
