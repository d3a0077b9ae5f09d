"""The hosts list sorted by risk, read band by band (collector.store.hosts._page_by_risk),
gives the order a grouped highest score over item_hosts would: every page, both directions,
with filters, after triage moves scores, on SQLite and PostgreSQL, through both ways a band is
read (from its items' rows when they are on few hosts, host by host otherwise)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.ingest import ingest_report
from collector.paging import PageRequest
from collector.store import hosts, inventory, triage
from collector.store.triage import ItemFilters
from server.inventory import risk
from server.inventory import service as inventory_service
from signatures import FindingKind, load_catalogue
from tests.factories import enrolled_agent, finding, report, sent_statements

CATALOGUE = load_catalogue()
TABLE = risk.risk_table(CATALOGUE)
HOSTS = 90
SILENT = range(80, 90)  # hosts whose reports name no AI at all: no risk, listed last
STALE_AFTER = dt.timedelta(days=3650)


def _services() -> tuple[list[str], str]:
    harmless = [s.id for s in CATALOGUE.services if s.malicious is None][:12]
    malicious = next(s.id for s in CATALOGUE.services if s.malicious is not None)
    return harmless, malicious


def _seed(db: Session) -> None:
    """Each host reports through ingest: catalogue service r on hosts whose number (r+1)
    divides, a known-malicious service on three hosts, an unknown extension on every fifth;
    the silent hosts report nothing."""
    harmless, malicious = _services()
    for number in range(HOSTS):
        name = f"host-{number:03d}"
        os_name = ("linux", "windows", "macos")[number % 3]
        agent, _ = enrolled_agent(db, agent_uid=f"agent-{number:04d}", hostname=name, os=os_name)
        findings = []
        if number not in SILENT:
            findings = [
                finding(service_id, indicator=f"{service_id}-proc", user=f"user{number}")
                for rank, service_id in enumerate(harmless)
                if number % (rank + 1) == 0 or rank == 0
            ]
            if number in (17, 41, 66):
                findings.append(finding(malicious, indicator=f"{malicious}-proc"))
            if number % 5 == 0:
                findings.append(
                    finding(
                        None,
                        kind=FindingKind.BROWSER_EXTENSION,
                        indicator=f"candidate_{number}",
                        indicator_kind="browser_extension",
                        heuristic="host permission on an AI domain",
                    )
                )
        ingest_report(
            db,
            agent=agent,
            report=report(findings, agent_id=agent.agent_uid, hostname=name, os=os_name),
            catalogue=CATALOGUE,
        )


def _expected(
    db: Session, *, descending: bool, os: str | None = None
) -> list[tuple[str, int | None]]:
    """Every host's risk as the highest score of its items (each item's score as the triage
    list computes it), in the list's order: by risk, hosts with none last, ties by id."""
    scores = {
        row.item.id: row.risk
        for row in triage.page_items(
            db,
            filters=ItemFilters(),
            page=PageRequest(sort="name", limit=500),
            risk=TABLE,
        ).rows
    }
    rows = []
    for host in db.scalars(select(hosts.Host).order_by(hosts.Host.id)):
        if os is not None and host.os != os:
            continue
        shown = [
            scores[item_id]
            for item_id in db.scalars(
                select(hosts.ItemHost.item_id).where(hosts.ItemHost.host_id == host.id)
            )
        ]
        rows.append((host.id, host.hostname, max(shown) if shown else None))
    ranked = sorted(
        rows,
        key=lambda row: (
            row[2] is None,
            -(row[2] or 0) if descending else (row[2] or 0),
            row[0],
        ),
    )
    return [(name, score) for _, name, score in ranked]


def _listed(
    db: Session, *, descending: bool, limit: int, os: str | None = None
) -> list[tuple[str, int | None]]:
    """Every page of the hosts list sorted by risk, one after the other."""
    listed: list[tuple[str, int | None]] = []
    offset = 0
    while True:
        found = hosts.page_hosts(
            db,
            filters=hosts.HostFilters(os=os),
            page=PageRequest(sort="risk", descending=descending, limit=limit, offset=offset),
            stale_after=STALE_AFTER,
            risk=inventory.host_risk(db, TABLE),
        )
        assert found.total == (HOSTS if os is None else HOSTS // 3)
        listed.extend((row.host.hostname, row.risk) for row in found.rows)
        offset += limit
        if offset >= found.total:
            assert len(found.rows) == found.total - (offset - limit)
            return listed
        assert len(found.rows) == limit


@pytest.mark.parametrize("few_left", [hosts.FEW_LEFT, 0], ids=["ids-read-once", "anti-join"])
def test_hosts_sorted_by_risk_page_for_page_as_a_grouped_score_would(
    db: Session, few_left: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways of leaving out the hosts that show the widest higher item: their ids read once
    per page (when few remain) or an anti-join in each band's query."""
    monkeypatch.setattr(hosts, "FEW_LEFT", few_left)
    _seed(db)
    bands = inventory.host_risk(db, TABLE).bands()
    assert max(band.score for band in bands) == TABLE.malicious  # the malicious service
    assert len(bands) >= 3
    for descending in (True, False):
        expected = _expected(db, descending=descending)
        assert expected[-len(SILENT) :] == [(f"host-{n:03d}", None) for n in SILENT]
        for limit in (1, 7, 50):
            assert _listed(db, descending=descending, limit=limit) == expected, (descending, limit)
        assert _listed(db, descending=descending, limit=4, os="windows") == _expected(
            db, descending=descending, os="windows"
        )
    # The three hosts with the malicious service come first.
    top = _listed(db, descending=True, limit=3)[:3]
    assert [score for _, score in top] == [TABLE.malicious] * 3


def test_a_triage_decision_moves_hosts_at_once(db: Session) -> None:
    """Scores are read when the list is: nothing to bring up to date after triage."""
    _seed(db)
    _, malicious = _services()
    item = next(
        row.item
        for row in triage.page_items(
            db, filters=ItemFilters(search=malicious), page=PageRequest(sort="name"), risk=TABLE
        ).rows
    )
    before = _listed(db, descending=True, limit=10)
    inventory_service.transition_item(db, actor="rita", item_id=item.id, target="triaging")
    inventory_service.transition_item(
        db, actor="rita", item_id=item.id, target="false_positive", reason="a lab sample"
    )
    after = _listed(db, descending=True, limit=10)
    assert after == _expected(db, descending=True)
    assert after[0][1] == before[0][1]  # still the malicious service's score: severity rules
    # The widest service marked a false positive: its hosts drop, in SQL and in the list alike.
    widest = triage.page_items(
        db, filters=ItemFilters(), page=PageRequest(sort="hosts", descending=True), risk=TABLE
    ).rows[0]
    inventory_service.transition_item(db, actor="rita", item_id=widest.item.id, target="triaging")
    inventory_service.transition_item(
        db, actor="rita", item_id=widest.item.id, target="false_positive", reason="a test"
    )
    assert _listed(db, descending=True, limit=10) == _expected(db, descending=True)
    assert _listed(db, descending=False, limit=10) == _expected(db, descending=False)


def test_both_ways_of_reading_a_band_are_used(db: Session) -> None:
    """The malicious band (three hosts) is read from its items' rows; the widest band, on
    nearly every host, host by host."""
    _seed(db)
    with sent_statements(db) as seen:
        _listed(db, descending=True, limit=50)
    band_reads = [sql for sql in seen if "ORDER BY hosts.id" in sql]
    from_items = [sql for sql in band_reads if "IN (SELECT item_hosts.host_id" in sql]
    host_by_host = [sql for sql in band_reads if "IN (SELECT item_hosts.host_id" not in sql]
    assert from_items and host_by_host
