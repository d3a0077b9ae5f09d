"""Governance under bad input, on PostgreSQL with real concurrent transactions: a service
prohibited while its agents keep reporting it (no deadlock, no lost or double count: every
report that commits after the decision records its violation, none before), an entry linked
to many items (all follow in one transaction), and a decision on an entry with no linked item
(allowed; nothing follows)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.ingest import ingest_report
from collector.store.agents import Agent
from collector.store.inventory import InventoryItem, Violation
from server.inventory import service as triage
from server.register import service as register_service
from server.register.schemas import EntryInput
from signatures import FindingKind, load_catalogue
from tests.factories import enrolled_agent, finding, report

pytestmark = pytest.mark.postgres
CATALOGUE = load_catalogue()


@pytest.fixture
def sessions(fresh_postgres_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(fresh_postgres_url)
    upgrade(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


def _entry(session: Session, title: str) -> tuple[str, int]:
    fields = EntryInput(title=title, ai_system=title)
    entry = register_service.create_entry(session, actor="rita", fields=fields)
    return entry.register_id, entry.version


def _promote(session: Session, item_id: int, register_id: str) -> None:
    triage.transition_item(session, actor="rita", item_id=item_id, target="triaging")
    triage.promote_item(session, actor="rita", item_id=item_id, existing_register_id=register_id)


def _prohibit(session: Session, register_id: str, version: int) -> None:
    register_service.decide_entry(
        session, actor="carol", register_id=register_id, expected_version=version,
        decision="prohibited", rationale="data leaves the company",
    )  # fmt: skip


def test_a_service_prohibited_while_agents_report_it(sessions: sessionmaker[Session]) -> None:
    agents: list[Agent] = []
    with transaction(sessions) as session:
        for number in range(4):
            agent, _ = enrolled_agent(
                session, agent_uid=f"agent-{number}", hostname=f"host-{number}"
            )
            agents.append(agent)
        ingest_report(
            session, agent=agents[0], report=report([finding()], agent_id="agent-0"),
            catalogue=CATALOGUE,
        )  # fmt: skip
        item_id = session.scalar(select(InventoryItem.id))
        assert item_id is not None
        register_id, version = _entry(session, "ChatGPT use")
        _promote(session, item_id, register_id)
    decided = threading.Event()
    errors: list[BaseException] = []
    after_decision: list[tuple[str, str]] = []  # (agent, user) of reports begun after it

    def report_again(agent: Agent) -> None:
        try:
            for round_ in range(15):
                user = f"u{round_}"
                began_after = decided.is_set()
                with transaction(sessions) as session:
                    ingest_report(
                        session, agent=agent, catalogue=CATALOGUE,
                        report=report(
                            [finding(user=user, seen=dt.datetime.now(dt.UTC))],
                            agent_id=agent.agent_uid,
                        ),
                    )  # fmt: skip
                if began_after:
                    after_decision.append((agent.agent_uid, user))
        except BaseException as exc:  # the test reports it below
            errors.append(exc)

    threads = [threading.Thread(target=report_again, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    with transaction(sessions) as session:
        _prohibit(session, register_id, version)
    decided.set()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with transaction(sessions) as session:
        item = session.get(InventoryItem, item_id)
        assert item is not None and item.governed_status == "prohibited"
        rows = session.execute(select(Violation.user_name, Violation.host_id)).all()
        count = session.scalar(select(func.count()).select_from(Violation))
        hosts = {agent.host_id: agent.agent_uid for agent in agents}
        recorded = {(hosts[host_id], user) for user, host_id in rows}
        # The roll-up matches the rows (no lost or double increment under the race)...
        assert item.violation_count == count == len(rows)
        # ...and every report begun after the decision committed recorded its violation.
        assert set(after_decision) <= recorded
        assert after_decision, "the race ended before the decision: make the loop longer"


def test_an_entry_linked_to_many_items_moves_them_all_and_one_with_none_is_allowed(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        agent, _ = enrolled_agent(session)
        names = [f"api.llm-vendor{number}.io" for number in range(60)]
        ingest_report(
            session, agent=agent, catalogue=CATALOGUE,
            report=report([
                finding(None, kind=FindingKind.DNS, indicator=name, indicator_kind="domain",
                        heuristic="dns-name-token:llm")
                for name in names
            ]),
        )  # fmt: skip
        register_id, version = _entry(session, "Unvetted LLM APIs")
        for item_id in session.scalars(select(InventoryItem.id)).all():
            _promote(session, item_id, register_id)
        empty_id, empty_version = _entry(session, "A use nobody was seen with")
    with transaction(sessions) as session:
        _prohibit(session, register_id, version)
        _prohibit(session, empty_id, empty_version)  # no linked item: allowed, nothing moves
    with transaction(sessions) as session:
        statuses = session.scalars(select(InventoryItem.governed_status)).all()
        assert len(statuses) == 60 and set(statuses) == {"prohibited"}
