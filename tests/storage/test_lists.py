"""Paged, sorted, filtered lists on SQLite and PostgreSQL: true totals, no overlap between
pages, and the risk score SQL sorts on equals the one the item page explains."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.ingest import ingest_report
from collector.paging import PageRequest
from collector.store import triage
from collector.store.triage import ItemFilters
from server.inventory import risk
from server.inventory import service as inventory_service
from signatures import Catalogue, FindingKind, load_catalogue
from tests.factories import enrolled_agent, finding, report

CATALOGUE = load_catalogue()
# Services and on how many of the hosts each is seen: the most widespread is neither the
# first nor the last inserted.
SPREAD = {
    "openai-chatgpt": 2,
    "anthropic-claude": 6,
    "github-copilot": 1,
    "deepseek-chat": 4,
    "alibaba-qwen": 3,
}
HOSTS = 6


def _seed(db: Session, catalogue: Catalogue = CATALOGUE) -> None:
    """Six hosts report through ingest: the services above, and one unknown candidate each."""
    for number in range(HOSTS):
        agent, _ = enrolled_agent(db, agent_uid=f"agent-{number:04d}", hostname=f"host-{number}")
        findings = [
            finding(service_id, indicator=f"{service_id}-proc", user=f"user{number}")
            for service_id, spread in SPREAD.items()
            if number < spread
        ]
        findings.append(
            finding(
                None,
                kind=FindingKind.BROWSER_EXTENSION,
                indicator=f"candidate_{number}%x",
                indicator_kind="browser_extension",
                heuristic="host permission on an AI domain",
            )
        )
        ingest_report(
            db,
            agent=agent,
            report=report(findings, agent_id=agent.agent_uid, hostname=f"host-{number}"),
            catalogue=catalogue,
        )


def _page(db: Session, filters: ItemFilters, **wanted: object) -> triage.PageRows:
    return triage.page_items(
        db,
        filters=filters,
        page=PageRequest(**wanted),  # type: ignore[arg-type]
        risk=risk.risk_table(CATALOGUE),
    )


def test_sorting_by_hosts_puts_the_most_widespread_first_and_pages_add_up(db: Session) -> None:
    _seed(db)
    everything = ItemFilters()
    first = _page(db, everything, sort="hosts", descending=True, limit=4, offset=0)
    second = _page(db, everything, sort="hosts", descending=True, limit=4, offset=4)
    third = _page(db, everything, sort="hosts", descending=True, limit=4, offset=8)
    assert first.total == second.total == third.total == len(SPREAD) + HOSTS
    assert first.rows[0].item.service_id == "anthropic-claude"
    assert [row.host_count for row in first.rows][:3] == [6, 4, 3]
    seen = [row.item.id for page in (first, second, third) for row in page.rows]
    assert len(seen) == len(set(seen)) == first.total  # no row twice, none left out
    ascending = _page(db, everything, sort="hosts", limit=100)
    assert [r.host_count for r in ascending.rows] == sorted(r.host_count for r in ascending.rows)


def test_filters_combine_and_the_total_counts_the_filtered_list(db: Session) -> None:
    _seed(db)
    candidates = _page(db, ItemFilters(candidates=True), sort="name", limit=2)
    assert candidates.total == HOSTS and len(candidates.rows) == 2
    # "%" and "_" typed in the search box match themselves, not any text.
    literal = _page(db, ItemFilters(search="_3%x"), sort="name", limit=50)
    assert [row.item.name for row in literal.rows] == ["candidate_3%x"]
    assert _page(db, ItemFilters(search="3_x"), sort="name", limit=50).total == 0
    widespread = _page(db, ItemFilters(min_hosts=3, evidence_kind="process"), sort="name", limit=2)
    assert widespread.total == 3  # Claude (6 hosts), DeepSeek (4), Qwen (3); two on the page
    assert len(widespread.rows) == 2
    combined = ItemFilters(min_hosts=3, evidence_kind="process", search="deepseek")
    assert [row.item.service_id for row in _page(db, combined, sort="name").rows] == [
        "deepseek-chat"
    ]
    assert _page(db, ItemFilters(min_hosts=5, search="deepseek"), sort="name").total == 0
    assert _page(db, ItemFilters(evidence_kind="dns"), sort="name").total == 0


def test_the_sql_risk_score_is_the_explained_one_and_sorts(db: Session) -> None:
    _seed(db)
    claude = _page(db, ItemFilters(search="claude"), sort="name", limit=1).rows[0]
    inventory_service.transition_item(
        db, actor="alice", item_id=claude.item.id, target="out_of_scope", reason="lab only"
    )
    rows = _page(db, ItemFilters(), sort="risk", descending=True, limit=100).rows
    for row in rows:
        service = CATALOGUE.get(row.item.service_id) if row.item.service_id else None
        explained = risk.score_item(
            service, state=row.item.state, malicious=row.item.severity == "malicious"
        )
        assert row.risk == explained.score, row.item.name
    assert [row.risk for row in rows] == sorted((row.risk for row in rows), reverse=True)
    out_of_scope = next(row for row in rows if row.item.id == claude.item.id)
    assert out_of_scope.risk == claude.risk - 1  # untriaged 2 points, out of scope 1


def _decide(db: Session, service_id: str, decision: str) -> int:
    """Promote the item of ``service_id`` into an entry of its own and decide it (through the
    triage and register services, as a reviewer would); return the item's id."""
    from server.register import service as register_service
    from server.register.schemas import EntryInput

    item = _page(db, ItemFilters(search=service_id), sort="name", limit=1).rows[0].item
    entry = register_service.create_entry(
        db,
        actor="rita",
        fields=EntryInput(
            title=f"{item.name} use",
            ai_system=item.name,
            business_owner="Dana",
            purpose="General use",
            risk_level="high",
        ),
    )
    inventory_service.transition_item(db, actor="rita", item_id=item.id, target="triaging")
    inventory_service.promote_item(
        db, actor="rita", item_id=item.id, existing_register_id=entry.register_id
    )
    register_service.decide_entry(
        db,
        actor="carol",
        register_id=entry.register_id,
        expected_version=entry.version,
        decision=decision,
        rationale="decided in a test",
    )
    return item.id


def test_items_filter_and_sort_on_the_register_status(db: Session) -> None:
    _seed(db)
    prohibited = _decide(db, "deepseek-chat", "prohibited")
    approved = _decide(db, "anthropic-claude", "approved")
    found = _page(db, ItemFilters(governed_status="prohibited"), sort="name")
    assert [row.item.id for row in found.rows] == [prohibited] and found.total == 1
    assert _page(db, ItemFilters(governed_status="restricted"), sort="name").total == 0
    ungoverned = _page(db, ItemFilters(governed_status=""), sort="name", limit=100)
    assert ungoverned.total == len(SPREAD) + HOSTS - 2
    assert {prohibited, approved}.isdisjoint(row.item.id for row in ungoverned.rows)
    # The register's display order: approved before prohibited, items not in it last.
    ordered = _page(db, ItemFilters(), sort="governed", limit=100).rows
    assert [row.item.id for row in ordered[:2]] == [approved, prohibited]
    assert all(row.item.governed_status == "" for row in ordered[2:])
    backwards = _page(db, ItemFilters(), sort="governed", descending=True, limit=100).rows
    assert [row.item.id for row in backwards[-2:]] == [prohibited, approved]


@pytest.mark.parametrize("state", ["new", "triaging", "promoted", "out_of_scope", "merged"])
def test_no_service_and_state_leaves_the_bounds(state: str) -> None:
    for service in (*CATALOGUE.services, None):
        points = risk.LOWEST + sum(f.points for f in risk.service_factors(service))
        points += risk.STATE_POINTS.get(state, 0)
        assert risk.LOWEST <= points <= risk.HIGHEST


def test_hosts_sort_on_their_item_count_and_filters_combine(db: Session) -> None:
    import datetime as dt

    from collector.store import hosts

    _seed(db)
    week = dt.timedelta(days=7)
    wanted = PageRequest(sort="items", descending=True, limit=4)
    first = hosts.page_hosts(db, filters=hosts.HostFilters(), page=wanted, stale_after=week)
    assert first.total == HOSTS and len(first.rows) == 4
    counts = [row.item_count for row in first.rows]
    assert counts == sorted(counts, reverse=True) and counts[0] == len(SPREAD) + 1
    assert first.rows[0].host.hostname == "host-0"
    by_name = PageRequest(sort="hostname", limit=50)
    found = hosts.page_hosts(
        db, filters=hosts.HostFilters(search="HOST-", os="linux"), page=by_name, stale_after=week
    )
    assert [row.item_count for row in found.rows] == [
        1 + sum(1 for spread in SPREAD.values() if n < spread) for n in range(HOSTS)
    ]
    assert (
        hosts.page_hosts(
            db, filters=hosts.HostFilters(has_violations=True), page=by_name, stale_after=week
        ).total
        == 0
    )


def test_a_bulk_action_appends_a_chain_that_verifies_and_another_change_extends_it(
    db: Session,
) -> None:
    from collector.store import audit, users

    _seed(db)
    users.create_user(db, username="rita", password_hash="x", role="reviewer")
    rows = _page(db, ItemFilters(), sort="name", limit=100).rows
    ids = [row.item.id for row in rows]
    changed = inventory_service.bulk_triage(
        db, actor="rita", item_ids=ids, action="out_of_scope", reason="lab machines"
    )
    assert changed == len(ids)
    inventory_service.transition_item(db, actor="rita", item_id=ids[0], target="triaging")
    verdict = audit.verify_audit_chain(db)
    assert verdict.ok, verdict.reason
    assert verdict.checked >= len(ids) + 1


def test_a_host_carries_the_highest_risk_of_its_items_and_sorts_on_it(db: Session) -> None:
    import datetime as dt

    from collector.store import hosts, inventory

    _seed(db)
    table = risk.risk_table(CATALOGUE)
    items = _page(db, ItemFilters(), sort="name", limit=100).rows
    scores = {row.item.id: row.risk for row in items}
    found = hosts.page_hosts(
        db,
        filters=hosts.HostFilters(),
        page=PageRequest(sort="risk", descending=True, limit=50),
        stale_after=dt.timedelta(days=7),
        risk=inventory.host_risk(db, table),
    )
    assert found.total == HOSTS
    for row in found.rows:
        shown = [
            scores[item_id]
            for item_id in db.scalars(
                select(hosts.ItemHost.item_id).where(hosts.ItemHost.host_id == row.host.id)
            )
        ]
        assert row.risk == max(shown)
    assert [row.risk for row in found.rows] == sorted(
        (row.risk for row in found.rows), key=lambda value: -(value or 0)
    )
    by_name = hosts.page_hosts(
        db,
        filters=hosts.HostFilters(),
        page=PageRequest(sort="hostname", limit=2, offset=1),
        stale_after=dt.timedelta(days=7),
        risk=inventory.host_risk(db, table),
    )
    scored = {row.host.id: row.risk for row in found.rows}
    assert [row.risk for row in by_name.rows] == [scored[row.host.id] for row in by_name.rows]


def _govern(
    db: Session, name: str, *, then: tuple[str, ...] = (), cadence: int = 12, **decision: object
) -> int:
    """Promote the item named ``name`` into an entry of its own and, when ``decision`` names
    one, decide it, then move the entry through ``then`` (all through the triage and register
    services, as a reviewer would); return the item's id."""
    from server.register import service as register_service
    from server.register.schemas import EntryInput

    item = _page(db, ItemFilters(search=name), sort="name", limit=1).rows[0].item
    inventory_service.transition_item(db, actor="rita", item_id=item.id, target="triaging")
    entry = inventory_service.promote_item(
        db, actor="rita", item_id=item.id, title=f"{item.name} use", purpose="General use"
    )
    if decision:
        entry = register_service.update_entry(
            db,
            actor="rita",
            register_id=entry.register_id,
            expected_version=entry.version,
            fields=EntryInput(
                title=f"{item.name} use",
                ai_system=item.name,
                business_owner="Dana",
                purpose="General use",
                risk_level="high",
                review_cadence_months=cadence,
            ),
        )
        entry = register_service.decide_entry(
            db,
            actor="carol",
            register_id=entry.register_id,
            expected_version=entry.version,
            rationale="decided in a test",
            **decision,  # type: ignore[arg-type]
        )
    for target in then:
        entry = register_service.move_entry(
            db,
            actor="carol",
            register_id=entry.register_id,
            expected_version=entry.version,
            target=target,
            reason="moved in a test",
        )
    return item.id


def test_the_register_decision_moves_the_score_in_sql_as_on_the_item_page(db: Session) -> None:
    import datetime as dt

    from collector.store import hosts, inventory
    from collector.store.agents import Agent
    from collector.store.base import utcnow
    from server.register import service as register_service

    _seed(db)
    restricted = {"decision": "restricted", "conditions": "Research only"}
    governed = {
        # Seen again after the decision (below): violations.
        "openai-chatgpt": _govern(db, "openai-chatgpt", decision="prohibited"),
        "github-copilot": _govern(
            db, "github-copilot", **restricted, allowed_departments=["Research"]
        ),
        # Not seen again.
        "deepseek-chat": _govern(db, "deepseek-chat", decision="prohibited"),
        "anthropic-claude": _govern(db, "anthropic-claude", decision="approved"),
        "alibaba-qwen": _govern(db, "alibaba-qwen", decision="approved", then=("suspended",)),
        "candidate_0%x": _govern(db, "candidate_0%x"),  # under review
        "candidate_1%x": _govern(db, "candidate_1%x", decision="approved", then=("retired",)),
        "candidate_2%x": _govern(db, "candidate_2%x", decision="approved", cadence=1),
        "candidate_3%x": _govern(db, "candidate_3%x", **restricted),
    }
    # Only the entry reviewed every month falls due in two.
    register_service.mark_reviews_due(db, today=utcnow().date() + dt.timedelta(days=62))
    # host-0 (in Finance) reports ChatGPT and Copilot again.
    agent = db.scalars(select(Agent).where(Agent.agent_uid == "agent-0000")).one()
    hosts.update_host(db, host_id=agent.host_id, department="Finance")
    ingest_report(
        db,
        agent=agent,
        report=report(
            [finding(s, indicator=f"{s}-proc") for s in ("openai-chatgpt", "github-copilot")],
            agent_id="agent-0000",
            hostname="host-0",
        ),
        catalogue=CATALOGUE,
    )

    rows = _page(db, ItemFilters(), sort="risk", descending=True, limit=100).rows
    by_id = {row.item.id: row for row in rows}
    explained = {}
    for row in rows:
        service = CATALOGUE.get(row.item.service_id) if row.item.service_id else None
        explained[row.item.id] = risk.score_item(
            service,
            state=row.item.state,
            malicious=row.item.severity == "malicious",
            governed_status=row.item.governed_status,
            violated=row.item.last_violation_at is not None,
        )
        assert row.risk == explained[row.item.id].score, row.item.name
    assert [row.risk for row in rows] == sorted((row.risk for row in rows), reverse=True)
    statuses = {name: by_id[item_id].item.governed_status for name, item_id in governed.items()}
    assert statuses == {
        "openai-chatgpt": "prohibited",
        "github-copilot": "restricted",
        "deepseek-chat": "prohibited",
        "anthropic-claude": "approved",
        "alibaba-qwen": "suspended",
        "candidate_0%x": "under_review",
        "candidate_1%x": "retired",
        "candidate_2%x": "review_due",
        "candidate_3%x": "restricted",
    }

    def factor(name: str) -> risk.RiskFactor:
        return explained[governed[name]].factors[-1]

    # A prohibited service still seen is a violation, among the high scores, and says so.
    chatgpt = explained[governed["openai-chatgpt"]]
    assert (
        chatgpt.level == "high"
        and "still seen on hosts: a violation" in factor("openai-chatgpt").reason
    )
    assert factor("openai-chatgpt").points == risk.VIOLATION_POINTS["prohibited"]
    # Its factors add up past 10: SQL keeps it at 10 as the page does, and so does the host
    # that reported it (the highest of its items, kept within bounds once per host).
    assert chatgpt.added_up > risk.HIGHEST and by_id[governed["openai-chatgpt"]].risk == 10
    (host_zero,) = hosts.page_hosts(
        db,
        filters=hosts.HostFilters(search="host-0"),
        page=PageRequest(sort="risk", descending=True),
        stale_after=dt.timedelta(days=7),
        risk=inventory.host_risk(db, risk.risk_table(CATALOGUE)),
    ).rows
    assert host_zero.risk == 10
    assert factor("github-copilot").points == risk.VIOLATION_POINTS["restricted"]
    # Not seen since: the prohibition adds nothing; a restriction with controls lowers it.
    assert factor("deepseek-chat") == risk.RiskFactor(
        "prohibited in the register; no violation recorded", 0
    )
    assert factor("candidate_3%x").points == factor("anthropic-claude").points == -1
    claude = explained[governed["anthropic-claude"]]
    alone = risk.score_item(CATALOGUE.get("anthropic-claude"), state="promoted", malicious=False)
    assert claude.score == alone.score - 1
    assert factor("candidate_0%x").points == 1  # under review
    assert factor("alibaba-qwen").points == 2  # suspended
    assert factor("candidate_1%x").points == 1  # retired
    assert factor("candidate_2%x").points == 1  # review due
    # Compared with an item nobody has looked at, a candidate under review has its triage
    # points (2) replaced by the register's (1).
    untouched = next(row for row in rows if row.item.name == "candidate_5%x")
    assert by_id[governed["candidate_0%x"]].risk == untouched.risk - 1


@pytest.mark.parametrize("status", [*risk.GOVERNED_POINTS, ""])
def test_every_governed_status_keeps_every_score_within_the_bounds(status: str) -> None:
    for service in (*CATALOGUE.services, None):
        for state in ("promoted", "merged"):
            for violated in (False, True):
                score = risk.score_item(
                    service, state=state, malicious=False, governed_status=status, violated=violated
                )
                assert risk.LOWEST <= score.score <= risk.HIGHEST
                assert score.score == max(risk.LOWEST, min(risk.HIGHEST, score.added_up))
