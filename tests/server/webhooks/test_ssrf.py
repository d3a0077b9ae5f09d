"""Issue 20 #4: webhooks cannot be pointed at the server's own network (SSRF), whatever form
the address takes, and the delivery log is no port scanner. Real receivers on loopback; the
allow-list (outbound_allow) is what lets the other webhook tests reach them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.app import create_app
from server.config import ServerSettings
from server.webhooks.service import deliver_due
from tests.server.conftest import bearer, enroll, make_token
from tests.server.receivers import Receiver
from tests.server.seed import post_report, unknowns


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    """No allow-list: only public destinations."""
    return ServerSettings(data_dir=tmp_path, scheduler_enabled=False)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def internal_urls(port: int) -> list[str]:
    """The same loopback receiver, and other internal destinations, in every spelling."""
    return [
        f"http://localhost:{port}/hook",
        f"http://LocalHost.:{port}/hook",
        f"http://127.0.0.1:{port}/hook",
        f"http://2130706433:{port}/hook",  # decimal
        f"http://0177.0.0.1:{port}/hook",  # octal
        f"http://0x7f.0.0.1:{port}/hook",  # hexadecimal
        f"http://0x7f000001:{port}/hook",
        f"http://127.1:{port}/hook",
        f"http://[::1]:{port}/hook",
        f"http://[::ffff:127.0.0.1]:{port}/hook",  # IPv4-mapped
        f"http://[::ffff:7f00:1]:{port}/hook",
        f"http://[64:ff9b::7f00:1]:{port}/hook",  # NAT64
        f"http://[2002:7f00:1::]:{port}/hook",  # 6to4
        f"http://0.0.0.0:{port}/hook",
        "http://10.1.2.3/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.1.1/hook",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://[fc00::1]/hook",
        "http://224.0.0.1/hook",
        "http://[ff02::1]/hook",
        "http://240.0.0.1/hook",
        "http://255.255.255.255/hook",
        "http://192.0.2.1/hook",
        "https://metadata.google.internal/computeMetadata/v1/",  # does not resolve here
    ]


def test_webhook_urls_to_internal_addresses_are_refused(
    client: TestClient, app: FastAPI, receiver: Receiver
) -> None:
    admin = make_token(app, ["webhooks:admin"])
    accepted, unclear = [], []
    for index, url in enumerate(internal_urls(receiver.port)):
        body = {"name": f"probe-{index}", "url": url, "event_types": ["*"]}
        answer = client.post("/api/v1/webhooks", json=body, headers=bearer(admin))
        if answer.status_code != 422:
            accepted.append((url, answer.status_code))
        elif "does not resolve to a public address" not in answer.text or any(
            # The refusal names no address and no address class: nothing to map the network by.
            leak in answer.text.replace(url, "").replace(str(urlsplit(url).hostname), "")
            for leak in ("127.0.0.1", "loopback", "private", "metadata")
        ):
            unclear.append((url, answer.text))
    assert accepted == []
    assert unclear == []
    assert client.get("/api/v1/webhooks", headers=bearer(admin)).json() == []
    assert receiver.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "http://user:secret@example.com/hook",
        "http:///hook",
        "http://exa mple.com/",
        "http://example.com:99999/",
        "javascript:alert(1)",
    ],
)
def test_malformed_webhook_urls_get_a_clear_422(client: TestClient, app: FastAPI, url: str) -> None:
    admin = make_token(app, ["webhooks:admin"])
    answer = client.post(
        "/api/v1/webhooks",
        json={"name": "bad", "url": url, "event_types": ["*"]},
        headers=bearer(admin),
    )
    assert answer.status_code == 422, answer.text
    assert "url" in answer.text


def test_a_destination_no_longer_allowed_is_not_posted_to_and_the_log_reveals_nothing(
    client: TestClient, app: FastAPI, receiver: Receiver
) -> None:
    """Endpoints created while loopback was allowed: once the allow-list no longer names it,
    nothing is sent, and an open port and a closed port read the same in the delivery log
    (before the fix: 200 from the open port, "ConnectError: [Errno 111] ..." from the other)."""
    state = app.state.shadowmap
    admin = make_token(app, ["webhooks:admin"])
    closed = Receiver()
    closed_url = closed.url
    closed.close()
    # The same database served with loopback allowed, as an admin might have had it.
    allowing = create_app(state.settings.model_copy(update={"outbound_allow": "127.0.0.1/32"}))
    with TestClient(allowing) as earlier:
        for name, url in (("open", receiver.url), ("closed", closed_url)):
            body = {"name": name, "url": url, "event_types": ["inventory.*"]}
            answer = earlier.post("/api/v1/webhooks", json=body, headers=bearer(admin))
            assert answer.status_code == 201, answer.text
    deliver_due(state.settings, state.sessions)  # the first round starts the feed from now
    post_report(client, enroll(client, app), unknowns("probe-a"))
    assert deliver_due(state.settings, state.sessions) == 0
    assert receiver.requests == []
    log = client.get("/api/v1/webhooks/deliveries", headers=bearer(admin)).json()
    assert len(log) == 2
    seen = {(entry["status"], entry["last_status_code"], entry["last_error"]) for entry in log}
    assert seen == {("pending", None, "destination refused: not a public address")}


def test_a_redirect_is_not_followed(client: TestClient, app: FastAPI, receiver: Receiver) -> None:
    """Even to an allowed destination: a redirect could lead anywhere."""
    state = app.state.shadowmap
    allowed = state.settings.model_copy(update={"outbound_allow": "127.0.0.1/32"})
    admin = make_token(app, ["webhooks:admin"])
    target = Receiver()
    try:
        receiver.status = 307
        receiver.location = target.url
        body = {"name": "redirecting", "url": receiver.url, "event_types": ["inventory.*"]}
        with TestClient(create_app(allowed)) as allowing:
            created = allowing.post("/api/v1/webhooks", json=body, headers=bearer(admin))
            assert created.status_code == 201, created.text
        deliver_due(allowed, state.sessions)
        post_report(client, enroll(client, app), unknowns("probe-b"))
        assert deliver_due(allowed, state.sessions) == 0
        assert len(receiver.requests) == 1 and target.requests == []
        entry = client.get("/api/v1/webhooks/deliveries", headers=bearer(admin)).json()[0]
        assert entry["last_status_code"] == 307
        assert entry["last_error"] == "receiver answered 307 (redirects are not followed)"
    finally:
        target.close()
