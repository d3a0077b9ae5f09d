"""A malicious AI extension stands out everywhere: severity from the collector's own catalogue
(not the agent's word), first and filterable in the triage queue with a visible marker, the
report on the item page, an alert with its hosts on the dashboard, in the API and in webhooks.

The malicious service is picked from the shipped catalogue by its ``malicious`` attribute."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.config import ServerSettings
from server.webhooks.service import deliver_due
from signatures import FindingKind, IndicatorKind, Service, Severity
from tests.factories import finding, report
from tests.server.conftest import bearer, enroll, make_token, sign_in
from tests.server.seed import CATALOGUE
from tests.server.webhooks.test_webhooks import Receiver


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    """The test server; its webhook receiver listens on loopback, which the allow-list names."""
    return ServerSettings(data_dir=tmp_path, scheduler_enabled=False, outbound_allow="127.0.0.1/32")


@pytest.fixture
def malicious() -> Service:
    services = [
        s
        for s in CATALOGUE.malicious_services()
        if s.indicators.get(IndicatorKind.BROWSER_EXTENSION)
    ]
    assert services, "the shipped catalogue names at least one published malicious service"
    return services[0]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def _extension_finding(service: Service, severity: Severity) -> object:
    extension_id = service.indicators[IndicatorKind.BROWSER_EXTENSION][0]
    return dataclasses.replace(
        finding(
            service.id,
            kind=FindingKind.BROWSER_EXTENSION,
            indicator=extension_id,
            indicator_kind="browser_extension",
        ),
        severity=severity,
    )


def _send(client: TestClient, app: FastAPI, hostname: str, *findings: object) -> None:
    credential = enroll(client, app, hostname=hostname, agent_id=hostname)
    sent = client.post(
        "/api/v1/agents/reports",
        content=report(list(findings), hostname=hostname, agent_id=hostname).to_json(),  # type: ignore[arg-type]
        headers={"Authorization": f"Bearer {credential}"},
    )
    assert sent.status_code == 200, sent.text


def test_the_collector_derives_severity_from_its_own_catalogue(
    client: TestClient, app: FastAPI, malicious: Service
) -> None:
    # The agent claims the opposite of the truth both ways: the collector does not trust it.
    _send(
        client,
        app,
        "laptop-7",
        _extension_finding(malicious, Severity.NORMAL),
        dataclasses.replace(finding("openai-chatgpt"), severity=Severity.MALICIOUS),
    )
    reader = make_token(app, ["inventory:read"])
    items = {
        item["service_id"]: item
        for item in client.get("/api/v1/inventory", headers=bearer(reader)).json()
    }
    assert items[malicious.id]["severity"] == "malicious"
    assert items["openai-chatgpt"]["severity"] == "normal"
    detail = client.get(f"/api/v1/inventory/{items[malicious.id]['id']}", headers=bearer(reader))
    assert malicious.malicious is not None
    assert detail.json()["malicious_report"]["report"] == malicious.malicious.report
    normal = client.get(
        f"/api/v1/inventory/{items['openai-chatgpt']['id']}", headers=bearer(reader)
    )
    assert normal.json()["malicious_report"] is None


def test_a_malicious_item_stands_out_in_the_queue_item_page_and_dashboard(
    client: TestClient, app: FastAPI, malicious: Service
) -> None:
    _send(client, app, "laptop-1", finding("openai-chatgpt"))  # older, so first by age
    _send(client, app, "laptop-2", _extension_finding(malicious, Severity.MALICIOUS))
    _send(client, app, "laptop-3", _extension_finding(malicious, Severity.MALICIOUS))
    sign_in(client, "viewer")

    queue = client.get("/triage").text
    assert queue.index(malicious.name) < queue.index("ChatGPT")  # malicious first
    assert 'class="row-malicious"' in queue and "Malicious</strong>" in queue
    only = client.get("/triage", params={"severity": "malicious", "status": "all"}).text
    assert malicious.name in only and "ChatGPT" not in only
    rest = client.get("/triage", params={"severity": "normal"}).text
    assert malicious.name not in rest and "ChatGPT" in rest
    # A severity that is not one of the choices: the page, unfiltered, says so (never raw JSON).
    evil = client.get("/triage", params={"severity": "evil"})
    assert evil.status_code == 200 and "is not one of the choices" in evil.text
    assert malicious.name in evil.text and "ChatGPT" in evil.text

    item_id = next(
        item["id"]
        for item in client.get("/api/v1/inventory").json()
        if item["service_id"] == malicious.id
    )
    page = client.get(f"/inventory/{item_id}").text
    assert malicious.malicious is not None
    assert 'role="alert"' in page and f'href="{malicious.malicious.report}"' in page
    assert "laptop-2" in page and "laptop-3" in page

    dashboard = client.get("/dashboard").text
    assert "1 malicious AI extension seen on 2 hosts" in dashboard
    assert f'href="/inventory/{item_id}"' in dashboard
    assert "laptop-2" in dashboard and "laptop-3" in dashboard
    assert "laptop-1" not in dashboard


def test_the_dashboard_says_nothing_when_nothing_malicious_was_seen(
    client: TestClient, app: FastAPI
) -> None:
    _send(client, app, "laptop-1", finding("openai-chatgpt"))
    sign_in(client, "viewer")
    assert "malicious" not in client.get("/dashboard").text.lower()


def test_webhooks_announce_a_malicious_item_with_its_hosts(
    client: TestClient, app: FastAPI, malicious: Service, receiver: Receiver
) -> None:
    state = app.state.shadowmap
    admin = make_token(app, ["webhooks:admin"])
    body = {
        "name": "soc",
        "url": receiver.url,
        "event_types": ["inventory.item.malicious_detected"],
    }
    assert client.post("/api/v1/webhooks", json=body, headers=bearer(admin)).status_code == 201
    deliver_due(state.settings, state.sessions)  # the first round starts the feed from now

    _send(client, app, "laptop-1", finding("openai-chatgpt"))
    _send(client, app, "laptop-9", _extension_finding(malicious, Severity.NORMAL))
    deliver_due(state.settings, state.sessions)

    events = [json.loads(raw) for _headers, raw in receiver.requests]
    assert [event["type"] for event in events] == ["inventory.item.malicious_detected"]
    data = events[0]["data"]
    assert data["item"]["service_id"] == malicious.id
    assert data["item"]["severity"] == "malicious"
    assert data["hosts"] == ["laptop-9"]


def test_a_widespread_item_is_named_by_sample_and_counted_whole_and_its_sightings_page(
    client: TestClient, app: FastAPI, malicious: Service
) -> None:
    """25 hosts, two users each (50 sightings): the item page names 20 hosts and says how many
    more, counts every user, and pages the sightings with a true total; the dashboard names
    10 hosts and links to the rest. Nothing is cut silently."""
    for number in range(25):
        hostname = f"desktop-{number:02d}"
        extension = _extension_finding(malicious, Severity.MALICIOUS)
        _send(
            client,
            app,
            hostname,
            dataclasses.replace(extension, user=f"user{number}a"),  # type: ignore[type-var]
            dataclasses.replace(extension, user=f"user{number}b"),  # type: ignore[type-var]
            finding("openai-chatgpt", user=f"user{number}a"),
        )
    sign_in(client, "viewer")
    item_id = next(
        item["id"]
        for item in client.get("/api/v1/inventory").json()
        if item["service_id"] == malicious.id
    )
    page = client.get(f"/inventory/{item_id}").text
    assert "Seen on 25 hosts" in page and "and 5 more (in the sightings below)" in page
    assert "Users <small>(50)</small>" in page and "and 30 more users" in page
    assert "Hosts <small>(25)</small>" in page and "and 5 more hosts" in page
    assert "1\N{EN DASH}50 of 50, newest first" in page and "Pages of sightings" not in page

    for number in range(25, 30):  # ten more sightings: a second page
        extension = _extension_finding(malicious, Severity.MALICIOUS)
        _send(
            client,
            app,
            f"desktop-{number:02d}",
            dataclasses.replace(extension, user=f"user{number}a"),  # type: ignore[type-var]
            dataclasses.replace(extension, user=f"user{number}b"),  # type: ignore[type-var]
        )
    first = client.get(f"/inventory/{item_id}").text
    second = client.get(f"/inventory/{item_id}", params={"page": "2"}).text
    assert "1\N{EN DASH}50 of 60" in first and "Page 1 of 2" in first
    assert "?page=2#sightings" in first
    assert "51\N{EN DASH}60 of 60" in second and "Page 2 of 2" in second
    rows = re.compile(r'<td><a href="/hosts/\d+">(desktop-\d+)</a></td>\s*<td>([^<]+)</td>')
    shown = rows.findall(first) + rows.findall(second)
    assert len(shown) == 60 and len(set(shown)) == 60  # every sighting once, none twice
    # A page number that is not one: the first page, never an error.
    assert "1\N{EN DASH}50 of 60" in client.get(f"/inventory/{item_id}", params={"page": "x"}).text

    dashboard = client.get("/dashboard").text
    assert "1 malicious AI extension seen on 30 hosts" in dashboard
    assert "and 20 more hosts" in dashboard
    assert len(re.findall(r'href="/hosts/\d+">desktop-', dashboard)) == 10
