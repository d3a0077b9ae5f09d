"""The reporter maps transport failures and refusals to agent errors."""

from __future__ import annotations

import httpx
import pytest

from agent.errors import CollectorRefused, CollectorUnreachable
from agent.identity import Credential
from agent.reporter import Reporter
from tests.factories import finding, report

CREDENTIAL = Credential(server_url="http://collector", agent_id="a", secret="smag_x")


def test_send_posts_the_report_with_the_agent_credential() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "stored"})

    sent = report([finding()])
    with Reporter("http://collector", transport=httpx.MockTransport(handler)) as reporter:
        assert reporter.send(sent, CREDENTIAL) == {"status": "stored"}
    assert seen[0].url.path == "/api/v1/agents/reports"
    assert seen[0].headers["authorization"] == "Bearer smag_x"
    assert seen[0].content == sent.to_json()


def test_a_vanished_collector_is_unreachable_not_a_crash() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with Reporter("http://collector", transport=httpx.MockTransport(handler)) as reporter:
        with pytest.raises(CollectorUnreachable, match="cannot reach"):
            reporter.send(report([]), CREDENTIAL)


@pytest.mark.parametrize(
    ("status", "retryable"), [(401, False), (422, False), (429, True), (503, True)]
)
def test_refusals_carry_status_and_detail(status: int, retryable: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"detail": "nope"})

    with Reporter("http://collector", transport=httpx.MockTransport(handler)) as reporter:
        with pytest.raises(CollectorRefused) as caught:
            reporter.send(report([]), CREDENTIAL)
    assert caught.value.status == status and caught.value.detail == "nope"
    assert caught.value.retryable is retryable
