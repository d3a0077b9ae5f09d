"""Pages of the draft inventory: the list escapes what agents send; triage by form, one item
or in bulk."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import finding, report
from tests.server.conftest import enroll, sign_in
from tests.server.seed import HOSTILE, seed_over_http


def test_inventory_page_lists_items_with_hosts_and_escapes_what_agents_send(
    client: TestClient, app: FastAPI
) -> None:
    credential = enroll(client, app, hostname="<img src=x onerror=alert(1)>")
    hostile = "<script>alert('pwned')</script>"
    client.post(
        "/api/v1/agents/reports",
        content=report(
            [finding("openai-chatgpt"), finding(None, indicator=hostile, heuristic="test")],
            hostname="<img src=x onerror=alert(1)>",
        ).to_json(),
        headers={"Authorization": f"Bearer {credential}"},
    )
    sign_in(client, "viewer")

    page = client.get("/inventory")
    assert page.status_code == 200
    assert "ChatGPT" in page.text and "OpenAI" in page.text
    assert hostile not in page.text
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]

    hosts = client.get("/hosts")
    assert "<img src=x" not in hosts.text and "&lt;img src=x" in hosts.text
    item_id = next(
        item["id"]
        for item in client.get("/api/v1/inventory").json()
        if item["service_id"] == "openai-chatgpt"
    )
    detail = client.get(f"/inventory/{item_id}")
    assert detail.status_code == 200 and "alice" in detail.text
    assert client.get("/inventory/99999").status_code == 404


def test_false_positive_needs_a_reason_and_creates_a_suppression(
    client: TestClient, app: FastAPI
) -> None:
    items = seed_over_http(client, app)
    candidate = items[next(name for name in items if name != "ChatGPT")]
    csrf = sign_in(client, "reviewer")
    no_reason = client.post(
        f"/inventory/{candidate}/state", data={"csrf": csrf, "target": "false_positive"}
    )
    assert no_reason.status_code == 422
    # Said beside the field, on the item's own page, the choice kept.
    assert '<p class="field-error" id="reason-error">a reason is required' in no_reason.text
    assert '<option value="false_positive" selected>' in no_reason.text
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
        data={
            "csrf": csrf,
            "item": [str(items["ChatGPT"]), str(candidate)],
            "action": "triaging",
            "confirm": "yes",
        },
    )
    # One of the two cannot go to triaging from false positive... it can (reopen): both move.
    assert bulk.status_code == 200
    assert "internal test page" not in client.get("/suppressions").text


def test_bulk_is_all_or_nothing(client: TestClient, app: FastAPI) -> None:
    items = seed_over_http(client, app)
    csrf = sign_in(client, "reviewer")
    answer = client.post(
        "/triage/bulk",
        data={
            "csrf": csrf,
            "item": [str(i) for i in items.values()],
            "action": "out_of_scope",
            "confirm": "yes",
        },
    )
    assert answer.status_code == 422  # reason missing: said beside the field
    assert 'id="err-reason"' in answer.text
    assert {row["state"] for row in client.get("/api/v1/inventory").json()} == {"new"}
    answer = client.post(
        "/triage/bulk",
        data={
            "csrf": csrf,
            "item": [str(i) for i in items.values()],
            "action": "out_of_scope",
            "reason": "personal devices are outside the AIMS",
            "confirm": "yes",
        },
    )
    assert answer.status_code == 200
    assert client.get("/triage").text.count('name="item"') == 0


def test_a_move_from_a_page_loaded_before_someone_else_moved_the_item_is_explained(
    client: TestClient, app: FastAPI
) -> None:
    """Two reviewers on one item's page: the second's move, no longer allowed from the state
    the first left it in, is refused on the item's page in plain words, not the error page."""
    items = seed_over_http(client, app)
    chatgpt = items["ChatGPT"]
    csrf = sign_in(client, "reviewer")
    url = f"/inventory/{chatgpt}/state"
    assert client.post(url, data={"csrf": csrf, "target": "triaging"}).status_code == 200
    # The first reviewer rules it out of scope; the second, on the older page, asks triaging.
    out = {"csrf": csrf, "target": "out_of_scope", "reason": "a personal test"}
    assert client.post(url, data=out).status_code == 200
    stale = client.post(url, data={"csrf": csrf, "target": "needs_info", "reason": "ask"})
    assert stale.status_code == 422
    assert "Not allowed yet" not in stale.text
    assert (
        '<p class="field-error" id="target-error">this item is out of scope now (it may have '
        "changed since this page was loaded) and cannot move to needs info from there"
    ) in stale.text
    unknown = client.post(url, data={"csrf": csrf, "target": "<b>gone</b>"})
    assert unknown.status_code == 422 and "<b>gone</b>" not in unknown.text
    assert "is not a triage state" in unknown.text
