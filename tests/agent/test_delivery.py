"""Delivery: in order, removed only when acknowledged, capped backoff, bad reports set aside."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from agent.delivery import Delivery, backoff_delay
from agent.identity import Credential
from agent.reporter import Reporter
from agent.spool import Spool
from tests.factories import finding, report

CREDENTIAL = Credential(server_url="http://collector", agent_id="a", secret="smag_x")


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    lows = [backoff_delay(n, initial=5, maximum=3600, rng=lambda: 0.0) for n in range(1, 14)]
    highs = [backoff_delay(n, initial=5, maximum=3600, rng=lambda: 1.0) for n in range(1, 14)]
    assert highs[:4] == [5, 10, 20, 40]
    assert lows[:4] == [2.5, 5, 10, 20]
    assert max(highs) == 3600 and highs[-1] == 3600 and lows[-1] == 1800


def _spool_with(tmp_path: Path, count: int) -> tuple[Spool, list[str]]:
    spool = Spool(tmp_path, max_bytes=10**7)
    ids = []
    for index in range(count):
        sent = report([finding(user=f"u{index}")])
        spool.enqueue(sent)
        ids.append(sent.report_id)
    return spool, ids


def test_an_outage_keeps_the_queue_and_schedules_a_later_attempt(tmp_path: Path) -> None:
    spool, ids = _spool_with(tmp_path, 3)
    up = {"value": False}
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if not up["value"]:
            raise httpx.ConnectError("refused", request=request)
        seen.append(request.read().decode())
        return httpx.Response(200, json={"status": "stored"})

    clock = {"now": 100.0}
    delivery = Delivery(spool, initial_delay=5, max_delay=60, clock=lambda: clock["now"])
    with Reporter("http://collector", transport=httpx.MockTransport(handler)) as reporter:
        outcome = delivery.deliver(reporter, CREDENTIAL)
        assert outcome.delivered == [] and outcome.retry_in is not None
        assert 2.5 <= outcome.retry_in <= 5 and not delivery.due()
        assert spool.report_ids() == ids
        clock["now"] += 5
        assert delivery.due()
        up["value"] = True
        outcome = delivery.deliver(reporter, CREDENTIAL)
    assert outcome.delivered == ids and spool.report_ids() == []
    assert [ids.index(next(i for i in ids if i in body)) for body in seen] == [0, 1, 2]
    assert delivery.failures == 0


@pytest.mark.parametrize("status", [401, 409])
def test_a_refusal_a_retry_cannot_fix_is_returned_with_the_report_kept(
    tmp_path: Path, status: int
) -> None:
    spool, ids = _spool_with(tmp_path, 2)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"detail": "no"})

    with Reporter("http://collector", transport=httpx.MockTransport(handler)) as reporter:
        outcome = Delivery(spool).deliver(reporter, CREDENTIAL)
    assert outcome.error is not None and spool.report_ids() == ids


def test_a_report_the_collector_rejects_is_set_aside_and_the_queue_moves_on(
    tmp_path: Path,
) -> None:
    spool, ids = _spool_with(tmp_path, 3)

    def handler(request: httpx.Request) -> httpx.Response:
        if ids[0] in request.read().decode():
            return httpx.Response(422, json={"detail": "findings[0].kind: bad"})
        return httpx.Response(200, json={"status": "stored"})

    with Reporter("http://collector", transport=httpx.MockTransport(handler)) as reporter:
        outcome = Delivery(spool).deliver(reporter, CREDENTIAL)
    assert outcome.delivered == ids[1:]
    assert spool.report_ids() == [] and spool.stats().rejected == 1
