"""Objectives and the management review pack on SQLite and PostgreSQL: measures from the data,
targets, trends, the pack's scope sentence, HTML escaping and a PDF."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.store import hosts
from collector.store.base import utcnow
from collector.store.hosts import Host
from server.incidents.service import report_incident
from server.inventory.service import promote_item, transition_item
from server.management_review import render
from server.management_review import service as review
from server.people.service import import_directory
from server.register import service as register_service
from server.register.schemas import EntryInput
from server.scope.service import publish_scope, scope_coverage
from server.training.service import record_training, training_coverage
from tests.factories import finding
from tests.server.seed import HOSTILE, ingest_items, ready_entry


def test_measures_targets_trends_and_the_pack(db: Session) -> None:
    import_directory(db, actor="admin", data=b"username,department\nann,Sales\nbob,Sales\n")
    record_training(
        db, actor="admin", username="ann", course="AI literacy",
        completed_on=dt.date(2026, 1, 5), expires_on=dt.date(2099, 1, 1),
    )  # fmt: skip
    record_training(
        db, actor="admin", username="bob", course="AI literacy",
        completed_on=dt.date(2020, 1, 5), expires_on=dt.date(2021, 1, 1),
    )  # fmt: skip
    today = utcnow().date()
    assert [(t.department, t.trained, t.people) for t in training_coverage(db, today=today)] == [
        ("Sales", 1, 2)
    ]
    register_id = ready_entry(db, title=HOSTILE)
    report_incident(
        db, actor="admin", title=HOSTILE, severity="low", occurred_on=today,
        register_id=register_id,
    )  # fmt: skip
    review.set_target(db, actor="admin", measure="training_coverage", target=0.4)
    values = review.record_measurements(db, actor="admin", now=utcnow())
    assert values["training_coverage"] == 0.5 and values["open_incidents"] == 1
    rows = {row.measure.key: row for row in review.objective_rows(db, today=today)}
    assert rows["training_coverage"].met is True and len(rows["training_coverage"].trend) == 1
    assert rows["open_incidents"].met is False
    assert rows["governed_share"].value is None and rows["governed_share"].met is None

    pack = review.build_review(db, now=utcnow())
    assert "No AIMS scope has been published" in pack.scope.sentence()
    publish_scope(
        db, actor="admin", owner="Olga", business_units=["Sales"], locations=[],
        ai_use_kinds=["used"], exclusions="R&D lab", rationale="start small",
    )  # fmt: skip
    pack = review.build_review(db, now=utcnow())
    html = render.render_html(pack)
    assert "AIMS scope v1 (owner Olga)" in html and "0 of 0 discovered AI services" in html
    assert HOSTILE not in html and "&lt;script&gt;" in html
    assert render.render_pdf(pack).startswith(b"%PDF")
    review.note_printed(db, actor="admin", review=pack)
    assert review.build_review(db, now=utcnow()).previous_review is not None


def test_training_coverage_is_set_against_departments_whose_hosts_use_ai(db: Session) -> None:
    ingest_items(db, finding("openai-chatgpt"), host="sales-laptop", uid="agent-s")
    ingest_items(db, finding("openai-chatgpt"), host="mkt-laptop", uid="agent-m")
    for host in db.scalars(select(Host)):
        hosts.update_host(
            db, host_id=host.id, department="Sales" if host.hostname == "sales-laptop" else "Mkt"
        )
    import_directory(db, actor="admin", data=b"username,department\nann,Sales\nbob,IT\n")
    record_training(
        db, actor="admin", username="ann", course="AI literacy", completed_on=dt.date(2026, 1, 5)
    )
    rows = [(t.department, t.uses_ai, t.trained, t.people) for t in
            training_coverage(db, today=utcnow().date())]  # fmt: skip
    assert rows == [("IT", False, 0, 1), ("Mkt", True, 0, 0), ("Sales", True, 1, 1)]
    # The objective counts only the departments that use AI: 1 of 1 person there is trained.
    assert review.measure_now(db, today=utcnow().date())["training_coverage"] == 1.0


def test_governed_share_and_scope_coverage_follow_triage(db: Session) -> None:
    ids = ingest_items(
        db, finding("openai-chatgpt"), finding("anthropic-claude"), finding("github-copilot")
    )
    names = sorted(ids)
    chat, claude, copilot = (ids[name] for name in names)
    for item_id in (chat, claude, copilot):
        transition_item(db, actor="rita", item_id=item_id, target="triaging")
    entry = promote_item(db, actor="rita", item_id=chat, title="Drafting")
    register_service.update_entry(
        db, actor="rita", register_id=entry.register_id, expected_version=entry.version,
        fields=EntryInput(title="Drafting", ai_system="ChatGPT", business_owner="Dana",
                          purpose="Drafting", risk_level="low"),
    )  # fmt: skip
    register_service.decide_entry(
        db, actor="rita", register_id=entry.register_id, expected_version=entry.version,
        decision="approved", rationale="fine",
    )  # fmt: skip
    transition_item(db, actor="rita", item_id=claude, target="out_of_scope", reason="R&D only")
    values = review.measure_now(db, today=utcnow().date())
    assert values["governed_share"] == 1 / 3
    coverage = scope_coverage(db)
    assert (coverage.discovered, coverage.outside_scope) == (3, 1)
