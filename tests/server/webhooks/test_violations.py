"""A prohibited service reported again over HTTP: one violation per host, user and channel,
one signed webhook event per new violation and one email per subscriber (a real SMTP server
on loopback), naming the approved alternative; a repeat announces nothing."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.testclient import TestClient

from collector.db import transaction
from server.inventory.evidence import user_display
from server.webhooks.service import deliver_due
from signatures import FindingKind
from tests.e2e.conftest import free_port
from tests.factories import finding
from tests.server.conftest import bearer, enroll, make_token
from tests.server.receivers import Receiver
from tests.server.seed import post_report
from tests.server.webhooks.test_webhooks import prohibit_item


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def test_a_violation_emits_one_webhook_event_and_one_email_per_subscriber(
    client: TestClient, app: FastAPI, receiver: Receiver, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    state = app.state.shadowmap
    settings = state.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_from": "sm@example.org"}
    )
    admin = make_token(app, ["webhooks:admin"])
    hook = {
        "name": "soc",
        "url": receiver.url,
        "event_types": ["inventory.item.violation_detected"],
    }
    assert client.post("/api/v1/webhooks", json=hook, headers=bearer(admin)).status_code == 201
    for address, types in (
        ("soc@example.org", ["inventory.item.violation_detected"]),
        ("ciso@example.org", ["inventory.*"]),
        ("grc@example.org", ["register.*"]),
    ):
        body = {"address": address, "event_types": types}
        created = client.post(
            "/api/v1/notifications/subscriptions", json=body, headers=bearer(admin)
        )
        assert created.status_code == 201, created.text
    bad = {"address": "not an address", "event_types": ["*"]}
    refused = client.post("/api/v1/notifications/subscriptions", json=bad, headers=bearer(admin))
    assert refused.status_code == 422 and "address" in refused.text

    credential = enroll(client, app, hostname="dev-7")
    post_report(
        client, credential, [finding("github-copilot", indicator="copilot")], hostname="dev-7"
    )
    with transaction(state.sessions) as session:
        item_id = next(
            row["id"]
            for row in client.get(
                "/api/v1/inventory", headers=bearer(make_token(app, ["inventory:read"]))
            ).json()
        )
        prohibit_item(session, item_id, alternative="AIR-2026-0007 Approved code assistant")
    deliver_due(settings, state.sessions)
    assert receiver.requests == [] and inbox.messages == []  # deciding is not a violation

    seen_again = [
        finding("github-copilot", indicator="copilot", user="dana"),
        finding("github-copilot", indicator="copilot", user="erik"),
        finding(
            "github-copilot",
            kind=FindingKind.DNS,
            indicator="api.githubcopilot.com",
            indicator_kind="domain",
            user="dana",
        ),
    ]
    post_report(client, credential, seen_again, hostname="dev-7")
    reader = bearer(make_token(app, ["inventory:read"]))
    item = client.get(f"/api/v1/inventory/{item_id}", headers=reader).json()
    assert item["governed_status"] == "prohibited" and item["violation_count"] == 3
    deliver_due(settings, state.sessions)

    events = [json.loads(raw) for _headers, raw in receiver.requests]
    assert {event["type"] for event in events} == {"inventory.item.violation_detected"}
    assert sorted((e["data"]["user"], e["data"]["channel"]) for e in events) == [
        ("dana", "dns"),
        ("dana", "process"),
        ("erik", "process"),
    ]
    first = events[0]["data"]
    assert first["host"]["hostname"] == "dev-7" and first["reason"] == "prohibited"
    assert first["register_entry"]["alternative"] == "AIR-2026-0007 Approved code assistant"
    recipients = sorted(message["To"] for message in inbox.messages)
    assert recipients == ["ciso@example.org"] * 3 + ["soc@example.org"] * 3
    notice = inbox.messages[0]
    assert notice["Subject"].startswith("[Shadowmap] Violation: GitHub Copilot on dev-7")
    assert "Use instead: AIR-2026-0007 Approved code assistant." in notice.get_content()

    post_report(client, credential, seen_again, hostname="dev-7")  # the same use, again
    deliver_due(settings, state.sessions)
    assert len(receiver.requests) == 3 and len(inbox.messages) == 6  # nothing new announced
    outbox = client.get("/api/v1/notifications/emails", headers=bearer(admin)).json()
    assert {row["status"] for row in outbox} == {"sent"} and len(outbox) == 6


def test_violation_notices_show_the_pseudonym_when_the_pages_do(
    client: TestClient, app: FastAPI, receiver: Receiver, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    state = app.state.shadowmap
    key = "pseudonym-key-" + "k" * 20
    settings = state.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "user_pseudonym_key": key}
    )
    admin = make_token(app, ["webhooks:admin"])
    hook = {"name": "soc", "url": receiver.url, "event_types": ["inventory.*"]}
    assert client.post("/api/v1/webhooks", json=hook, headers=bearer(admin)).status_code == 201
    body = {"address": "soc@example.org", "event_types": ["inventory.item.violation_detected"]}
    created = client.post("/api/v1/notifications/subscriptions", json=body, headers=bearer(admin))
    assert created.status_code == 201
    deliver_due(settings, state.sessions)  # the feeds start from now
    credential = enroll(client, app, hostname="dev-8")
    seen = [finding("github-copilot", indicator="copilot", user="alice.smith")]
    post_report(client, credential, seen, hostname="dev-8")
    reader = bearer(make_token(app, ["inventory:read"]))
    item_id = client.get("/api/v1/inventory", headers=reader).json()[0]["id"]
    with transaction(state.sessions) as session:
        prohibit_item(session, item_id)
    post_report(client, credential, seen, hostname="dev-8")
    deliver_due(settings, state.sessions)
    (event,) = [
        json.loads(raw)
        for headers, raw in receiver.requests
        if headers["Shadowmap-Event"] == "inventory.item.violation_detected"
    ]
    pseudonym = user_display(key)("alice.smith")
    assert event["data"]["user"] == pseudonym
    (notice,) = inbox.messages
    assert pseudonym in notice.get_content() and "alice.smith" not in notice.get_content()
