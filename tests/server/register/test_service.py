"""Triage and register services on SQLite and PostgreSQL: guards, suppression, reviews, users."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.errors import Conflict
from collector.ingest import ingest_report
from collector.store import audit, hosts, register, triage, users
from collector.store.audit import AuditEvent
from collector.store.hosts import Host
from collector.store.inventory import InventoryItem
from server.register import service
from server.register.errors import GuardFailed, InvalidTransition, StaleVersion
from server.register.reviews import reassessment_triggers, review_rows, supplier_rows
from server.register.schemas import EntryInput
from signatures import FindingKind, load_catalogue
from tests.factories import enrolled_agent, finding, report

CATALOGUE = load_catalogue()


def _items(
    db: Session, *findings: object, host: str = "laptop-1", uid: str = "agent-1"
) -> dict[str, int]:
    agent, _ = enrolled_agent(db, agent_uid=uid, hostname=host)
    ingest_report(
        db,
        agent=agent,
        catalogue=CATALOGUE,
        report=report(list(findings), agent_id=uid, hostname=host),
    )  # type: ignore[arg-type]
    return {item.name: item.id for item in db.scalars(select(InventoryItem))}


def _reviewer(db: Session, name: str = "rita", role: str = "reviewer") -> str:
    users.create_user(db, username=name, password_hash="x", role=role)
    return name


def _ready_entry(db: Session, **overrides: object) -> str:
    fields = {
        "title": "ChatGPT drafting",
        "ai_system": "ChatGPT",
        "business_owner": "Dana",
        "purpose": "Drafting",
        "risk_level": "low",
        **overrides,
    }
    return service.create_entry(db, actor="rita", fields=EntryInput(**fields)).register_id  # type: ignore[arg-type]


def _actions(db: Session) -> list[str]:
    return [e.action for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_assigning_a_new_item_starts_triage_and_is_audited(db: Session) -> None:
    items = _items(db, finding("openai-chatgpt"))
    _reviewer(db)
    item = service.assign_item(db, actor="rita", item_id=items["ChatGPT"], assignee="rita")
    assert item.state == "triaging"
    with pytest.raises(GuardFailed) as raised:
        service.assign_item(db, actor="rita", item_id=items["ChatGPT"], assignee="nobody")
    assert raised.value.field == "assignee"
    assert _actions(db) == ["item.assign"]


def test_false_positive_suppresses_the_key_and_reopening_lifts_it(db: Session) -> None:
    items = _items(db, finding(None, indicator="weird.ext", heuristic="name"))
    item_id = next(iter(items.values()))
    key = db.get(InventoryItem, item_id).key  # type: ignore[union-attr]
    with pytest.raises(GuardFailed):
        service.transition_item(db, actor="rita", item_id=item_id, target="false_positive")
    service.transition_item(
        db, actor="rita", item_id=item_id, target="false_positive", reason="an internal tool"
    )
    assert [rule.item_key for rule in triage.list_suppression_rules(db)] == [key]
    assert triage.list_triage_queue(db, states=["new", "triaging"]) == []
    with pytest.raises(InvalidTransition):
        service.transition_item(db, actor="rita", item_id=item_id, target="needs_info", reason="x")
    service.transition_item(db, actor="rita", item_id=item_id, target="triaging")
    assert list(triage.list_suppression_rules(db)) == []
    assert _actions(db) == [
        "suppression.create",
        "item.false_positive",
        "suppression.delete",
        "item.triaging",
    ]


def test_merge_and_promote(db: Session) -> None:
    items = _items(db, finding("openai-chatgpt"), finding("openai-api", indicator="openai"))
    chatgpt, api = items["ChatGPT"], next(i for n, i in items.items() if n != "ChatGPT")
    with pytest.raises(InvalidTransition):  # a new item is triaged before it is promoted
        service.promote_item(db, actor="rita", item_id=chatgpt)
    service.transition_item(db, actor="rita", item_id=chatgpt, target="triaging")
    entry = service.promote_item(db, actor="rita", item_id=chatgpt, business_unit="Finance")
    assert entry.status == "under_review" and entry.business_unit == "Finance"
    assert entry.supplier == "OpenAI" and entry.register_id.endswith("-0001")
    with pytest.raises(GuardFailed):
        service.merge_item(db, actor="rita", item_id=api, into_item_id=api)
    service.merge_item(db, actor="rita", item_id=api, into_item_id=chatgpt)
    assert [i.id for i in triage.list_items_of_entry(db, entry_id=entry.id)] == sorted(
        [chatgpt, api],
        key=lambda i: db.get(InventoryItem, i).name,  # type: ignore[union-attr]
    )


def test_bulk_checks_the_action_and_applies_each_item_once(db: Session) -> None:
    items = _items(db, finding("openai-chatgpt"), finding("anthropic-claude", indicator="claude"))
    with pytest.raises(GuardFailed):
        service.bulk_triage(db, actor="rita", item_ids=list(items.values()), action="delete")
    with pytest.raises(GuardFailed):
        service.bulk_triage(db, actor="rita", item_ids=[], action="triaging")
    assert (
        service.bulk_triage(db, actor="rita", item_ids=list(items.values()) * 2, action="triaging")
        == 2
    )


@pytest.mark.parametrize(
    ("overrides", "decision", "field"),
    [
        ({"business_owner": ""}, "approved", "business_owner"),
        ({"purpose": ""}, "approved", "purpose"),
        ({"risk_level": "unrated"}, "approved", "risk_level"),
        ({"data_classes": ["customer_data"]}, "approved", "dpia_screening"),
        (
            {"personal_data": True, "dpia_screening": "dpia_required"},
            "restricted",
            "dpia_screening",
        ),
        ({"eu_ai_act_class": "prohibited_art5"}, "approved", "eu_ai_act_class"),
        ({"scope_status": "out_of_scope"}, "approved", "scope_status"),
        ({"business_owner": "rita"}, "approved", "business_owner"),  # no self-approval
        ({}, "restricted", "conditions"),
    ],
)
def test_decision_guards(
    db: Session, overrides: dict[str, object], decision: str, field: str
) -> None:
    register_id = _ready_entry(db, **overrides)
    with pytest.raises(GuardFailed) as raised:
        service.decide_entry(
            db,
            actor="rita",
            register_id=register_id,
            expected_version=1,
            decision=decision,
            rationale="because",
        )
    assert raised.value.field == field
    entry = register.get_register_entry(db, register_id=register_id)
    assert entry.status == "under_review" and entry.decision is None


def test_approval_sets_the_review_date_and_prohibited_stays_prohibited(db: Session) -> None:
    register_id = _ready_entry(db, review_cadence_months=6)
    with pytest.raises(GuardFailed):
        service.decide_entry(
            db,
            actor="rita",
            register_id=register_id,
            expected_version=1,
            decision="approved",
            rationale=" ",
        )
    entry = service.decide_entry(
        db,
        actor="rita",
        register_id=register_id,
        expected_version=1,
        decision="approved",
        rationale="ok",
        today=dt.date(2026, 8, 31),
    )
    assert entry.next_review_on == dt.date(2027, 2, 28) and entry.version == 2
    with pytest.raises(StaleVersion):
        service.move_entry(
            db,
            actor="rita",
            register_id=register_id,
            expected_version=1,
            target="suspended",
            reason="incident",
        )
    # An approved entry cannot lose the fields its approval rests on.
    with pytest.raises(GuardFailed):
        service.update_entry(
            db,
            actor="rita",
            register_id=register_id,
            expected_version=2,
            fields=EntryInput(title="t", ai_system="ChatGPT", purpose="Drafting", risk_level="low"),
        )
    banned = _ready_entry(db, title="DeepSeek")
    service.decide_entry(
        db,
        actor="rita",
        register_id=banned,
        expected_version=1,
        decision="prohibited",
        rationale="no DPA",
    )
    for decision in ("approved", "restricted"):
        with pytest.raises(InvalidTransition):
            service.decide_entry(
                db,
                actor="rita",
                register_id=banned,
                expected_version=2,
                decision=decision,
                rationale="appeal",
                conditions="c",
            )
    service.move_entry(
        db,
        actor="rita",
        register_id=banned,
        expected_version=2,
        target="under_review",
        reason="new facts",
    )


def test_reviews_due_triggers_and_suppliers(db: Session) -> None:
    items = _items(db, finding("openai-chatgpt", seen=dt.datetime(2026, 1, 5, tzinfo=dt.UTC)))
    service.transition_item(db, actor="rita", item_id=items["ChatGPT"], target="triaging")
    entry = service.promote_item(db, actor="rita", item_id=items["ChatGPT"])
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
        _items(db, finding("openai-chatgpt", seen=later), host=f"new-{n}", uid=f"agent-n{n}")
    for host in db.scalars(select(Host).where(Host.hostname.like("new-%"))):
        hosts.update_host(db, host_id=host.id, department="Finance")
    _items(
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


def test_user_management_keeps_an_admin_and_never_audits_secrets(db: Session) -> None:
    admin = users.create_user(db, username="boss", password_hash="x", role="admin")
    user, password = service.create_user(
        db, actor="boss", username="ann", role="viewer", password=None
    )
    assert len(password) >= 12 and user.password_hash.startswith("$argon2")
    with pytest.raises(GuardFailed):
        service.create_user(db, actor="boss", username="bad name!", role="viewer", password=None)
    with pytest.raises(GuardFailed):
        service.create_user(db, actor="boss", username="x", role="root", password=None)
    with pytest.raises(Conflict):
        service.create_user(db, actor="boss", username="ann", role="viewer", password=None)
    with pytest.raises(Conflict):
        service.update_user(db, actor="ann", user_id=admin.id, role="viewer")
    with pytest.raises(GuardFailed):
        service.update_user(db, actor="boss", user_id=admin.id, disabled=True)
    service.update_user(db, actor="boss", user_id=user.id, role="reviewer", disabled=True)
    new = service.reset_password(db, actor="boss", user_id=user.id)
    assert new != password
    events = db.scalars(select(AuditEvent).where(AuditEvent.object_type == "user")).all()
    assert [e.action for e in events] == ["user.create", "user.update", "user.reset_password"]
    assert events[1].before == {"disabled": False, "role": "viewer"}
    dumped = " ".join(str(e.after) for e in events)
    assert "argon2" not in dumped and new not in dumped and password not in dumped
    assert audit.verify_audit_chain(db).ok


def test_register_ids_count_up_past_four_digits(db: Session) -> None:
    assert register.next_register_id(db, year=2031) == "AIR-2031-0001"
    register.create_register_entry(db, register_id="AIR-2031-9999", title="t", ai_system="s")
    assert register.next_register_id(db, year=2031) == "AIR-2031-10000"
    register.create_register_entry(db, register_id="AIR-2031-10000", title="t", ai_system="s")
    assert register.next_register_id(db, year=2031) == "AIR-2031-10001"
