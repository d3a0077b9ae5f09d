"""SIEM output into a real rsyslog over TLS: every event kind arrives (CEF, JSON and ECS
payloads), and an hour-long outage (simulated with a controllable clock) loses nothing that the
bounded backlog kept, doubles nothing, and counts what it dropped."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.ingest import ingest_report
from collector.store import siem
from collector.store.base import utcnow
from collector.store.inventory import InventoryItem
from server.accounts import service as accounts
from server.config import ServerSettings
from server.register import service as register_service
from server.register.schemas import EntryInput
from server.siem.events import EVENT_KINDS
from server.siem.service import run_round
from signatures import FindingKind, IndicatorKind, load_catalogue
from tests.factories import enrolled_agent, finding, report
from tests.server.siem.rsyslog import RSYSLOGD, Rsyslog
from tests.server.webhooks.test_webhooks import prohibit_item

pytestmark = pytest.mark.slow

# <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG, as rsyslog received it.
RFC5424 = re.compile(r"^<(\d+)>1 (\S+) (\S+) shadowmap - (\S+) (\[origin [^\]]*\]) (.*)$")


class Clock:
    """A clock the test moves: backoff and staleness are judged by it, not by real time."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[Rsyslog]:
    if not Path(RSYSLOGD).exists():
        pytest.fail("rsyslogd is missing: run scripts/system-deps.sh (rsyslog, rsyslog-openssl)")
    folder = tmp_path / "rsyslog"
    folder.mkdir()
    receiver = Rsyslog(folder)
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'shadowmap.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def sessions_of(url: str) -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(url))


def settings_for(tmp_path: Path, rsyslog: Rsyslog, fmt: str, **more: Any) -> ServerSettings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "siem_syslog_address": f"127.0.0.1:{rsyslog.port}",
        "siem_syslog_ca_file": rsyslog.ca,
        "siem_syslog_server_name": "localhost",
        "siem_syslog_format": fmt,
        "siem_ecs_file": tmp_path / "events.jsonl",
        **more,
    }
    return ServerSettings(**values)


def parse(line: str, fmt: str) -> tuple[str, str]:
    """Return (kind, event id) of one received message, checking its shape on the way."""
    found = RFC5424.match(line)
    assert found, line
    pri, _timestamp, _host, msgid, _sd, body = found.groups()
    assert int(pri) // 8 == 16  # local0
    if fmt == "cef":
        assert body.startswith("CEF:0|Shadowmap|Shadowmap|")
        event_id = re.search(r"externalId=(\S+)", body)
        assert event_id
        return msgid, event_id.group(1)
    document = json.loads(body)
    if fmt == "ecs":
        assert document["event"]["dataset"] == f"shadowmap.{msgid}"
        assert document["ecs"]["version"] and document["@timestamp"]
        return msgid, str(document["event"]["id"])
    assert document["kind"] == msgid
    return msgid, str(document["id"])


@pytest.mark.parametrize("fmt", ["cef", "json", "ecs"])
def test_every_event_kind_reaches_rsyslog_over_tls(
    fmt: str,
    tmp_path: Path,
    rsyslog: Rsyslog,
    database: str,
) -> None:
    settings = settings_for(tmp_path, rsyslog, fmt)
    sessions = sessions_of(database)
    clock = Clock()
    assert run_round(settings, sessions, clock=clock).collected == []  # starts from now

    with transaction(sessions) as session:
        accounts.create_user(session, actor="admin", username="alice", role="viewer", password=None)
        entry = register_service.create_entry(
            session,
            actor="rita",
            fields=EntryInput(
                title="ChatGPT",
                ai_system="ChatGPT",
                business_owner="Dana",
                purpose="Drafting",
                risk_level="low",
            ),
        )
        register_service.decide_entry(
            session,
            actor="rita",
            register_id=entry.register_id,
            expected_version=1,
            decision="approved",
            rationale="fits the policy",
        )
        agent, _ = enrolled_agent(session, agent_uid="agent-1", hostname="laptop-1")
        catalogue = load_catalogue()
        # A published malicious extension, found as the agent reports it: the collector judges
        # its severity from its own catalogue.
        malicious = next(
            service
            for service in catalogue.malicious_services()
            if service.indicators.get(IndicatorKind.BROWSER_EXTENSION)
        )
        extension = finding(
            malicious.id,
            kind=FindingKind.BROWSER_EXTENSION,
            indicator=malicious.indicators[IndicatorKind.BROWSER_EXTENSION][0],
            indicator_kind="browser_extension",
        )
        deepseek = finding("deepseek", indicator="deepseek", user="bob")
        ingest_report(
            session,
            agent=agent,
            catalogue=catalogue,
            report=report(
                [finding(), extension, deepseek], agent_id="agent-1", hostname="laptop-1"
            ),
        )
        # DeepSeek is prohibited, then reported again: a violation of the register.
        item_id = session.scalars(
            select(InventoryItem.id).where(InventoryItem.service_id == "deepseek")
        ).one()
        prohibit_item(session, item_id)
        ingest_report(
            session,
            agent=agent,
            catalogue=catalogue,
            report=report([deepseek], agent_id="agent-1", hostname="laptop-1"),
        )
    clock.advance(dt.timedelta(hours=4))  # the agent has been silent for longer than 3 h

    done = run_round(settings, sessions, clock=clock)

    sent = {event["id"]: event["kind"] for event in done.collected}
    assert set(sent.values()) == set(EVENT_KINDS)
    by_kind = {event["kind"]: event for event in done.collected}
    assert by_kind["violation.new"]["host"] == "laptop-1"
    assert by_kind["violation.new"]["details"]["user"] == "bob"
    assert by_kind["violation.new"]["details"]["reason"] == "prohibited"
    assert by_kind["extension.malicious"]["details"]["service_id"] == malicious.id
    assert done.sent("syslog") == len(sent) == done.sent("ecs_file")
    received = [parse(line, fmt) for line in rsyslog.lines(expect=len(sent))]
    assert sorted(event_id for _, event_id in received) == sorted(sent)
    assert {kind for kind, _ in received} == set(EVENT_KINDS)
    assert all(sent[event_id] == kind for kind, event_id in received)
    ecs_lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert sorted(document["event"]["id"] for document in ecs_lines) == sorted(sent)

    # Nothing new, nothing sent again; the silent agent is not reported twice.
    clock.advance(dt.timedelta(hours=1))
    again = run_round(settings, sessions, clock=clock)
    assert again.collected == [] and again.sent("syslog") == 0
    assert len(rsyslog.lines()) == len(sent)


def test_an_hour_long_outage_loses_nothing_kept_doubles_nothing_and_counts_drops(
    tmp_path: Path, rsyslog: Rsyslog, database: str
) -> None:
    settings = settings_for(
        tmp_path, rsyslog, "json", siem_max_backlog=40, siem_batch_size=25, siem_ecs_file=None
    )
    sessions = sessions_of(database)
    clock = Clock()
    run_round(settings, sessions, clock=clock)

    rsyslog.stop()
    emitted: list[str] = []
    attempts: list[dt.datetime] = []
    for minute in range(60):  # an hour, a round a minute, one register change a minute
        with transaction(sessions) as session:
            register_service.create_entry(
                session, actor="rita", fields=EntryInput(title=f"Tool {minute}", ai_system="X")
            )
        done = run_round(settings, sessions, clock=clock)
        emitted += [event["id"] for event in done.collected]
        if any(item.error for item in done.deliveries):
            attempts.append(clock())
        clock.advance(dt.timedelta(minutes=1))

    assert len(emitted) == 60 and rsyslog.lines(timeout=0) == []
    # It backed off: fewer attempts than rounds, never more than 5 minutes apart.
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert 6 <= len(attempts) < 30
    assert max(gaps) <= dt.timedelta(minutes=5, seconds=60)
    with transaction(sessions) as session:
        assert siem.backlog_size(session, destination="syslog") == 40
        state = siem.destination_state(session, destination="syslog")
        assert state.dropped == 20 and state.delivered == 0
        assert state.failures == len(attempts) and "Connection refused" in (state.last_error or "")

    # Shadowmap restarts (a new engine on the same database) and the receiver comes back.
    sessions.kw["bind"].dispose()
    sessions = sessions_of(database)
    rsyslog.start()
    clock.advance(dt.timedelta(minutes=5))
    done = run_round(settings, sessions, clock=clock)

    assert done.sent("syslog") == 40  # in two batches of at most 25
    received = [parse(line, "json")[1] for line in rsyslog.lines(expect=40)]
    assert received == emitted[20:]  # the 40 newest, in order, each once
    with transaction(sessions) as session:
        assert siem.backlog_size(session, destination="syslog") == 0
        state = siem.destination_state(session, destination="syslog")
        assert (state.delivered, state.dropped, state.failures) == (40, 20, 0)
    assert run_round(settings, sessions, clock=clock).sent("syslog") == 0
    assert len(rsyslog.lines()) == 40


def test_a_receiver_whose_certificate_is_not_trusted_gets_nothing(
    tmp_path: Path, rsyslog: Rsyslog, database: str
) -> None:
    other_ca = tmp_path / "other"
    other_ca.mkdir()
    stranger = Rsyslog(other_ca)  # only for its certificate authority; never started
    settings = settings_for(tmp_path, rsyslog, "cef", siem_ecs_file=None).model_copy(
        update={"siem_syslog_ca_file": stranger.ca}
    )
    sessions = sessions_of(database)
    clock = Clock()
    run_round(settings, sessions, clock=clock)
    with transaction(sessions) as session:
        accounts.create_user(session, actor="admin", username="bob", role="viewer", password=None)

    done = run_round(settings, sessions, clock=clock)

    [failure] = [item for item in done.deliveries if item.error]
    assert "CERTIFICATE_VERIFY_FAILED" in failure.error
    assert rsyslog.lines(timeout=0.5) == []
    with transaction(sessions) as session:
        assert siem.backlog_size(session, destination="syslog") == 1
