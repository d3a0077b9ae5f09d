"""The host API: host detail with what was found on it, item detail with its trend, and the
department only admins set."""

from __future__ import annotations

from typing import get_args

from fastapi import FastAPI
from fastapi.testclient import TestClient

from collector.store.hosts import HOST_SORTS
from server.hosts.api import HostSort
from tests.factories import finding, report
from tests.server.conftest import enroll, sign_in


def _post(client: TestClient, credential: str, body: bytes) -> int:
    answer = client.post(
        "/api/v1/agents/reports",
        content=body,
        headers={"Authorization": f"Bearer {credential}", "Content-Type": "application/json"},
    )
    return answer.status_code


def test_host_detail_lists_what_was_found_and_admins_set_a_department(
    client: TestClient, app: FastAPI
) -> None:
    credential = enroll(client, app)
    sent = report([finding(), finding("anthropic-claude", indicator="Claude", user="bob")])
    assert _post(client, credential, sent.to_json()) == 200

    csrf = sign_in(client, "admin")
    (host,) = client.get("/api/v1/hosts").json()
    detail = client.get(f"/api/v1/hosts/{host['id']}").json()
    assert detail["item_count"] == 2 and not detail["stale"]
    assert sorted((s["item_name"], s["user"]) for s in detail["sightings"]) == [
        ("ChatGPT", "alice"),
        ("Claude", "bob"),
    ]
    assert client.get("/api/v1/hosts/999999").status_code == 404

    path = f"/api/v1/hosts/{host['id']}"
    refused = client.patch(path, json={"department": "Finance"})
    assert refused.status_code == 403
    too_long = client.patch(path, json={"department": "x" * 129}, headers={"X-CSRF-Token": csrf})
    assert too_long.status_code == 422 and "department" in too_long.text
    changed = client.patch(path, json={"department": "Finance"}, headers={"X-CSRF-Token": csrf})
    assert changed.status_code == 200 and changed.json()["department"] == "Finance"

    # The department rolls up into the items from the host's next report.
    assert _post(client, credential, report([finding()]).to_json()) == 200
    items = {item["name"]: item for item in client.get("/api/v1/inventory").json()}
    assert items["ChatGPT"]["departments"] == ["Finance"]
    assert items["ChatGPT"]["evidence_kinds"] == ["process"]

    detail = client.get(f"/api/v1/inventory/{items['ChatGPT']['id']}?days=7").json()
    assert len(detail["trend"]) == 7 and detail["trend"][-1]["hosts"] == 1
    assert detail["violations"] == []


def test_viewers_cannot_change_hosts(client: TestClient, app: FastAPI) -> None:
    credential = enroll(client, app)
    assert _post(client, credential, report([finding()]).to_json()) == 200
    csrf = sign_in(client, "viewer")
    (host,) = client.get("/api/v1/hosts").json()
    answer = client.patch(
        f"/api/v1/hosts/{host['id']}", json={"department": "x"}, headers={"X-CSRF-Token": csrf}
    )
    assert answer.status_code == 403


def test_the_host_list_pages_sorts_and_filters_like_the_hosts_page(
    client: TestClient, app: FastAPI
) -> None:
    # Five hosts: three report (two macOS with AI on them), two enrolled only (stale).
    for number, (hostname, os, found) in enumerate(
        (
            ("mac-alpha", "darwin", [finding(), finding("anthropic-claude", indicator="Claude")]),
            ("mac-beta", "darwin", [finding()]),
            ("linux-gamma", "linux", []),
            ("win-delta", "windows", None),
            ("win-epsilon", "windows", None),
        )
    ):
        agent_id = f"agent-{number:04d}"
        credential = enroll(client, app, agent_id=agent_id, hostname=hostname, os=os)
        if found is not None:
            sent = report(found, agent_id=agent_id, hostname=hostname, os=os)
            assert _post(client, credential, sent.to_json()) == 200
    csrf = sign_in(client, "admin")
    hosts = {host["hostname"]: host for host in client.get("/api/v1/hosts").json()}
    changed = client.patch(
        f"/api/v1/hosts/{hosts['mac-beta']['id']}",
        json={"department": "Finance"},
        headers={"X-CSRF-Token": csrf},
    )
    assert changed.status_code == 200

    def names(query: str) -> tuple[list[str], str, str | None]:
        answer = client.get(f"/api/v1/hosts{query}")
        assert answer.status_code == 200, answer.text
        return (
            [host["hostname"] for host in answer.json()],
            answer.headers["x-total-count"],
            answer.headers.get("link"),
        )

    # By default, every host (up to the page size) by name, the total said, no next page.
    everything = names("")
    assert everything == (
        ["linux-gamma", "mac-alpha", "mac-beta", "win-delta", "win-epsilon"],
        "5",
        None,
    )
    assert hosts["mac-alpha"]["item_count"] == 2 and hosts["mac-alpha"]["risk"] >= 1
    assert hosts["win-delta"]["stale"] and hosts["win-delta"]["risk"] is None
    # Pages: the total on each, a Link to the next one that keeps the filters and the sort.
    first = names("?limit=2&sort=hostname&dir=desc")
    assert first[:2] == (["win-epsilon", "win-delta"], "5")
    assert first[2] == '</api/v1/hosts?limit=2&sort=hostname&dir=desc&offset=2>; rel="next"'
    assert names("?limit=2&offset=2&sort=hostname&dir=desc")[0] == ["mac-beta", "mac-alpha"]
    assert names("?limit=2&offset=4&sort=hostname&dir=desc") == (["linux-gamma"], "5", None)
    assert names("?offset=10") == ([], "5", None)
    # Filters combine, as on the hosts page.
    assert names("?stale=true") == (["win-delta", "win-epsilon"], "2", None)
    assert names("?stale=false&os=darwin")[0] == ["mac-alpha", "mac-beta"]
    assert names("?q=MAC-&department=Finance")[:2] == (["mac-beta"], "1")
    assert names("?department=-&os=darwin")[0] == ["mac-alpha"]
    assert names("?has_violations=true")[:2] == ([], "0")
    assert names("?sort=items&dir=desc&limit=2")[0] == ["mac-alpha", "mac-beta"]
    assert names("?sort=risk&dir=desc&limit=1")[0] == ["mac-alpha"]
    # Out of bounds: refused, not silently cut.
    for query in ("?limit=501", "?limit=0", "?offset=-1", "?sort=nope", "?dir=up", "?q=%00"):
        assert client.get(f"/api/v1/hosts{query}").status_code == 422, query


def test_the_api_offers_every_sort_of_the_hosts_store() -> None:
    assert set(get_args(HostSort)) == set(HOST_SORTS)
