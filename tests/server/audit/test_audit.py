"""The audit trail's hash chain on SQLite and PostgreSQL: links, tampering, concurrent writers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from collector.db import make_sessionmaker, transaction
from collector.store.audit import (
    GENESIS_HASH,
    AuditEvent,
    append_audit_event,
    canonical_json,
    event_hash,
    verify_audit_chain,
)
from tests.e2e.conftest import run_cli


def _append(session: Session, n: int, actor: str = "alice") -> list[AuditEvent]:
    return [
        append_audit_event(
            session,
            actor=actor,
            action="entry.update",
            object_type="entry",
            object_id=f"AIR-2026-{i:04d}",
            before={"risk_level": "low"},
            after={"risk_level": "high", "note": "naïve <b>"},
        )
        for i in range(n)
    ]


def test_events_chain_from_the_genesis(db: Session) -> None:
    events = _append(db, 3)
    assert events[0].prev_hash == GENESIS_HASH  # the rolled-back test database starts empty
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash
    payload = {
        "at": events[1].at.isoformat(),
        "actor": "alice",
        "action": "entry.update",
        "object_type": "entry",
        "object_id": "AIR-2026-0001",
        "before": {"risk_level": "low"},
        "after": {"note": "naïve <b>", "risk_level": "high"},
    }
    assert events[1].hash == event_hash(events[0].hash, payload)
    assert canonical_json({"b": 1, "a": [1, "é"]}) == '{"a":[1,"é"],"b":1}'
    verdict = verify_audit_chain(db)
    assert verdict.ok and verdict.checked >= 3


def test_a_changed_event_is_reported_as_the_first_broken_link(db: Session) -> None:
    events = _append(db, 4)
    db.execute(update(AuditEvent).where(AuditEvent.id == events[2].id).values(actor="mallory"))
    db.expire_all()
    verdict = verify_audit_chain(db)
    assert not verdict.ok and verdict.broken_at == events[2].id
    assert "hash does not match" in verdict.reason


def test_a_deleted_event_breaks_the_next_link(db: Session) -> None:
    events = _append(db, 4)
    db.execute(delete(AuditEvent).where(AuditEvent.id == events[1].id))
    db.expire_all()
    verdict = verify_audit_chain(db)
    assert not verdict.ok and verdict.broken_at == events[2].id
    assert "prev_hash" in verdict.reason


def test_concurrent_writers_do_not_fork_the_chain(migrated_engine: Engine) -> None:
    sessions = make_sessionmaker(migrated_engine)
    with transaction(sessions) as session:
        start = session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) or 0
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for _ in range(10):
                with transaction(sessions) as session:
                    _append(session, 1, actor=name)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with transaction(sessions) as session:
        new = session.scalars(select(AuditEvent).where(AuditEvent.id > start)).all()
        assert len(new) == 40
        prevs = [event.prev_hash for event in new]
        assert len(set(prevs)) == len(prevs)  # no two events extend the same head
        assert verify_audit_chain(session).ok
        # Leave the shared database as we found it for the other storage tests.
        session.execute(delete(AuditEvent).where(AuditEvent.id > start))


@pytest.mark.slow
def test_cli_verify_reports_the_broken_event(tmp_path: Path) -> None:
    run_cli("server", "db", "upgrade", "--data-dir", str(tmp_path))
    from collector.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'shadowmap.db'}")
    with transaction(make_sessionmaker(engine)) as session:
        events = _append(session, 3)
        second = events[1].id
    run_cli(
        "server",
        "user",
        "create",
        "--username",
        "ops",
        "--role",
        "admin",
        "--password",
        "a long enough password",
        "--data-dir",
        str(tmp_path),
    )
    ok = run_cli("server", "audit", "verify", "--data-dir", str(tmp_path))
    assert "4 events verified" in ok.stdout  # the account made on the command line is audited
    with transaction(make_sessionmaker(engine)) as session:
        session.execute(
            update(AuditEvent).where(AuditEvent.id == second).values(after={"risk_level": "low"})
        )
    engine.dispose()
    import subprocess
    import sys

    from tests.e2e.conftest import REPO

    broken = subprocess.run(
        [sys.executable, "-m", "server", "audit", "verify", "--data-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert broken.returncode == 1
    assert f"BROKEN at event #{second}" in broken.stderr


@pytest.mark.parametrize("value", [None, {}, {"k": [1, 2]}])
def test_canonical_json_round_trips(value: object) -> None:
    import json

    assert json.loads(canonical_json(value)) == value
