"""Reviews on SQLite and PostgreSQL: what falls due, what discovery says should trigger a
reassessment, and the suppliers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.store import hosts
from collector.store.hosts import Host
from server.inventory import service as triage
from server.register import service
from server.register.schemas import EntryInput
from server.reviews.service import reassessment_triggers, review_rows, supplier_rows
from signatures import FindingKind, load_catalogue
from tests.factories import finding
from tests.server.seed import ingest_items

CATALOGUE = load_catalogue()


def test_reviews_due_triggers_and_suppliers(db: Session) -> None:
    items = ingest_items(db, finding("openai-chatgpt", seen=dt.datetime(2026, 1, 5, tzinfo=dt.UTC)))
    triage.transition_item(db, actor="rita", item_id=items["ChatGPT"], target="triaging")
    entry = triage.promote_item(db, actor="rita", item_id=items["ChatGPT"])
    service.update_entry(
        db,
        actor="rita",
        register_id=entry.register_id,
        expected_version=1,
        fields=EntryInput(
            title="ChatGPT",
            ai_system="ChatGPT",
            purpose="p",
            business_owner="Dana",
            risk_level="low",
            supplier="OpenAI",
            supplier_review="in_progress",
        ),
    )
    service.decide_entry(
        db,
        actor="rita",
        register_id=entry.register_id,
        expected_version=2,
        decision="approved",
        rationale="ok",
        today=dt.date(2026, 2, 1),
    )
    (first_host,) = db.scalars(select(Host)).all()
    hosts.update_host(db, host_id=first_host.id, department="Sales")
    assert reassessment_triggers(db, entry=entry) == ()
    later = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    for n in range(3):
        ingest_items(db, finding("openai-chatgpt", seen=later), host=f"new-{n}", uid=f"agent-n{n}")
    for host in db.scalars(select(Host).where(Host.hostname.like("new-%"))):
        hosts.update_host(db, host_id=host.id, department="Finance")
    ingest_items(
        db,
        finding(
            "openai-chatgpt",
            kind=FindingKind.DNS,
            indicator="chatgpt.com",
            indicator_kind="domain",
            seen=later,
        ),
        host="new-0",
        uid="agent-n0",
    )
    triggers = reassessment_triggers(db, entry=entry)
    assert any("usage spike: 3 new hosts" in t for t in triggers)
    assert any("new kind of evidence: dns" in t for t in triggers)
    assert [t for t in triggers if t.startswith("new department")] == [
        "new department: Finance (ChatGPT)"
    ]
    rows = review_rows(db, today=dt.date(2027, 3, 1))
    assert [(r.entry.register_id, r.overdue) for r in rows] == [(entry.register_id, True)]
    assert service.mark_reviews_due(db, today=dt.date(2027, 3, 1)) == [entry.register_id]
    assert entry.status == "review_due"
    assert [(s.name, s.review) for s in supplier_rows(db)] == [("OpenAI", "in_progress")]
