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

from collector.db import transaction
from tests.server.conftest import sign_in
from tests.server.seed import HOSTILE, ready_entry, seed_over_http


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


def _field_error(page: str, field: str) -> str:
    """Return the message shown beside ``field`` (empty when there is none)."""
    found = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', page, re.S)
    return found.group(1) if found else ""


def test_refused_decisions_and_moves_are_shown_beside_their_field(
    client: TestClient, app: FastAPI
) -> None:
    items = seed_over_http(client, app)
    csrf = sign_in(client, "reviewer")
    client.post(
        f"/inventory/{items['ChatGPT']}/assign", data={"csrf": csrf, "assignee": "reviewer"}
    )
    promoted = client.post(
        f"/inventory/{items['ChatGPT']}/promote",
        data={"csrf": csrf, "title": "ChatGPT for finance", "business_unit": "Finance"},
        follow_redirects=False,
    )
    entry_url = promoted.headers["location"].split("?")[0]
    register_id = entry_url.rsplit("/", 1)[1]
    version = _version(client.get(entry_url).text)

    # A restricted approval before the record names an owner: the entry page again, the
    # guard beside the decision with a link to the field to fix, everything typed kept.
    typed = {
        "csrf": csrf,
        "version": version,
        "decision": "restricted",
        "rationale": "Finance may draft with it <b>only</b>",
        "conditions": "No customer data",
        "allowed_departments": "Finance\nTreasury",
        "alternative": "Copilot",
    }
    refused = client.post(f"{entry_url}/decision", data=typed, headers={"Accept": "text/html"})
    assert refused.status_code == 422
    assert refused.headers["x-shadowmap-field"] == "business_owner"
    page = refused.text
    assert "The decision was not recorded" in page and "Not allowed yet" not in page
    assert "a business owner is required before approval" in _field_error(page, "decision")
    assert 'href="#business_owner"' in _field_error(page, "decision")
    assert 'aria-invalid="true" aria-describedby="decision-error"' in page
    assert '<option value="restricted" selected>' in page
    assert ">Finance may draft with it &lt;b&gt;only&lt;/b&gt;</textarea>" in page
    assert ">No customer data</textarea>" in page and ">Finance\nTreasury</textarea>" in page
    assert 'value="Copilot"' in page
    # Nothing of the refused decision was kept (decide_entry sets the conditions first).
    sign_in(client, "viewer")
    stored = client.get(f"/api/v1/register/{register_id}").json()
    assert stored["status"] == "under_review" and stored["version"] == int(version)
    assert stored["decision_conditions"] == "" and stored["allowed_departments"] == []
    csrf = sign_in(client, "reviewer")

    # Each of the decision's own fields carries its own refusal.
    for changes, field, words in (
        ({"rationale": "  "}, "rationale", "a decision needs its rationale"),
        ({"decision": "approved"}, "allowed_departments", "only a restricted use names"),
        ({"decision": "approved", "allowed_departments": ""}, "alternative", "needs no alter"),
        ({"decision": "maybe"}, "decision", "must be one of approved"),
    ):
        refused = client.post(f"{entry_url}/decision", data={**typed, "csrf": csrf, **changes})
        assert refused.status_code == 422, changes
        assert words in _field_error(refused.text, field), (field, refused.text)

    # The lifecycle form: a move the machine refuses, and a decision sent as a move.
    moved = {"csrf": csrf, "version": version, "target": "retired", "reason": "Not used"}
    refused = client.post(f"{entry_url}/status", data=moved)
    assert refused.status_code == 409
    assert _field_error(refused.text, "target") == (
        "an entry that is under review cannot become retired; "
        "it can become approved, restricted, prohibited"
    )
    assert "The status was not changed" in refused.text
    refused = client.post(f"{entry_url}/status", data={**moved, "target": "approved"})
    assert refused.status_code == 422
    assert _field_error(refused.text, "target") == "record a decision instead"

    # A prohibition needs none of the approval guards; then the page confirms it.
    decided = client.post(
        f"{entry_url}/decision",
        data={**typed, "csrf": csrf, "decision": "prohibited", "allowed_departments": ""},
        follow_redirects=False,
    )
    assert decided.status_code == 303
    assert decided.headers["location"] == f"{entry_url}?saved=decided"
    page = client.get(decided.headers["location"]).text
    assert 'role="status"><p>Decision recorded.</p>' in page
    assert "Decision: prohibited" in page

    # The old version again: the current entry with a word about what happened, status 409.
    stale = client.post(f"{entry_url}/status", data={**moved, "target": "under_review"})
    assert stale.status_code == 409
    assert "someone else changed this entry" in _field_error(stale.text, "target")
    assert _version(stale.text) == str(int(version) + 1)
    assert (
        'value="Not used"' in stale.text and '<option value="under_review" selected>' in stale.text
    )

    # A move without a reason, then with one: the page confirms it.
    current = {**moved, "version": _version(stale.text), "target": "under_review"}
    refused = client.post(f"{entry_url}/status", data={**current, "reason": ""})
    assert refused.status_code == 422
    assert _field_error(refused.text, "reason") == "say why the entry changes state"
    assert '<option value="under_review" selected>' in refused.text
    done = client.post(f"{entry_url}/status", data=current, follow_redirects=False)
    assert done.headers["location"] == f"{entry_url}?saved=moved"
    page = client.get(done.headers["location"]).text
    assert 'role="status"><p>Status changed.</p>' in page


def test_a_refused_edit_of_a_decided_entry_is_shown_on_its_page(
    client: TestClient, app: FastAPI
) -> None:
    with transaction(app.state.shadowmap.sessions) as session:
        register_id = ready_entry(session)
    csrf = sign_in(client, "reviewer")
    entry_url = f"/register/{register_id}"
    decided = client.post(
        f"{entry_url}/decision",
        data={
            "csrf": csrf,
            "version": _version(client.get(entry_url).text),
            "decision": "approved",
            "rationale": "fine",
        },
        follow_redirects=False,
    )
    assert decided.status_code == 303
    page = client.get(entry_url).text
    form = {
        "csrf": csrf,
        "version": _version(page),
        "title": "ChatGPT drafting",
        "ai_system": "ChatGPT",
        "business_owner": "",
        "purpose": "Drafting",
        "risk_level": "low",
    }
    # An approved entry keeps its guards: the owner cannot be emptied.
    refused = client.post(entry_url, data=form)
    assert refused.status_code == 422
    assert refused.headers["x-shadowmap-field"] == "business_owner"
    assert "a business owner is required before approval" in _field_error(
        refused.text, "business_owner"
    )
    assert 'name="purpose"' in refused.text and "Not allowed yet" not in refused.text
    sign_in(client, "viewer")
    assert client.get(f"/api/v1/register/{register_id}").json()["business_owner"] == "Dana"


def test_refused_reviews_are_shown_beside_their_field(client: TestClient, app: FastAPI) -> None:
    with transaction(app.state.shadowmap.sessions) as session:
        register_id = ready_entry(session)
    csrf = sign_in(client, "reviewer")
    entry_url = f"/register/{register_id}"
    decided = client.post(
        f"{entry_url}/decision",
        data={
            "csrf": csrf,
            "version": _version(client.get(entry_url).text),
            "decision": "approved",
            "rationale": "fine",
        },
        follow_redirects=False,
    )
    assert decided.status_code == 303
    version = _version(client.get(entry_url).text)
    review = {"csrf": csrf, "version": version, "outcome": "keep", "notes": "Still in use"}

    refused = client.post(f"{entry_url}/review", data={**review, "next_review_on": "2001-01-01"})
    assert refused.status_code == 422
    assert _field_error(refused.text, "next_review_on") == "a review date cannot be in the past"
    assert "The review was not recorded: a review date cannot be in the past." in refused.text
    assert ">Still in use</textarea>" in refused.text and 'value="2001-01-01"' in refused.text
    refused = client.post(f"{entry_url}/review", data={**review, "outcome": "change_conditions"})
    assert _field_error(refused.text, "outcome") == (
        "only a restricted use has conditions to change"
    )
    refused = client.post(f"{entry_url}/review", data={**review, "notes": " "})
    assert _field_error(refused.text, "notes") == "say what the review found"
    refused = client.post(f"{entry_url}/next-review", data={**review, "next_review_on": "soon"})
    assert refused.status_code == 422
    assert _field_error(refused.text, "next_review_on") == "use a date like 2026-11-27"
    assert 'value="soon"' in refused.text

    done = client.post(f"{entry_url}/review", data=review, follow_redirects=False)
    assert done.headers["location"] == f"{entry_url}?saved=reviewed"
    assert "Review recorded." in client.get(done.headers["location"]).text
    # The version read before the review is stale now.
    stale = client.post(f"{entry_url}/next-review", data={**review, "next_review_on": "2099-01-01"})
    assert stale.status_code == 409
    assert "someone else changed this entry" in _field_error(stale.text, "next_review_on")


def test_a_refused_trigger_dismissal_is_shown_beside_its_reason(
    client: TestClient, app: FastAPI
) -> None:
    """No reason, or a trigger gone since the page was loaded (another reviewer dismissed it):
    the entry's page says so, the reason typed kept; never the error page."""
    import datetime as dt

    from signatures import FindingKind
    from tests.factories import finding
    from tests.server.seed import decided_entry, ingest_items

    with transaction(app.state.shadowmap.sessions) as session:
        register_id = decided_entry(session, "approved", on=dt.date.today() - dt.timedelta(days=30))
        # Seen through DNS for the first time after the decision: a reassessment trigger.
        ingest_items(
            session,
            finding("openai-chatgpt", kind=FindingKind.DNS, indicator="chatgpt.com",
                    indicator_kind="domain"),
            host="laptop-2", uid="agent-2",
        )  # fmt: skip
    csrf = sign_in(client, "reviewer")
    entry_url = f"/register/{register_id}"
    trigger = "new kind of evidence: dns (ChatGPT)"
    assert trigger in client.get(entry_url).text
    dismiss = f"{entry_url}/triggers/dismiss"

    no_reason = client.post(dismiss, data={"csrf": csrf, "trigger": trigger, "reason": " "})
    assert no_reason.status_code == 422 and "Not allowed yet" not in no_reason.text
    assert 'id="dismiss-1-error">say why the trigger needs no reassessment</p>' in no_reason.text
    assert "The trigger was not dismissed: say why" in no_reason.text

    reason = "Same use <as> decided"
    done = client.post(
        dismiss, data={"csrf": csrf, "trigger": trigger, "reason": reason}, follow_redirects=False
    )
    assert done.headers["location"] == f"{entry_url}?saved=dismissed"
    assert "Trigger dismissed." in client.get(done.headers["location"]).text
    # The same form sent again from a page loaded before: the trigger is no longer current.
    again = client.post(dismiss, data={"csrf": csrf, "trigger": trigger, "reason": reason})
    assert again.status_code == 422 and "Not allowed yet" not in again.text
    made_up = client.post(dismiss, data={"csrf": csrf, "trigger": "made up", "reason": reason})
    assert "The trigger was not dismissed: not a current reassessment trigger" in made_up.text
    assert "The trigger was not dismissed: it is dismissed already (perhaps" in again.text
    assert "<as>" not in again.text
