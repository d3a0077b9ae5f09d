"""External links on SQLite and PostgreSQL: one row per (system, object type, local id)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector.store import external_links
from collector.store.external_links import ExternalLink


def test_upsert_records_then_replaces_a_link(db: Session) -> None:
    first = external_links.upsert_external_link(
        db,
        system="ciso_assistant",
        object_type="asset",
        local_id="AIR-2026-0001",
        register_id="AIR-2026-0001",
        remote_id="a" * 36,
        remote_hash="1" * 64,
    )
    again = external_links.upsert_external_link(
        db,
        system="ciso_assistant",
        object_type="asset",
        local_id="AIR-2026-0001",
        register_id="AIR-2026-0001",
        remote_id="b" * 36,
        remote_hash="2" * 64,
        state="withdrawn",
    )
    assert again.id == first.id
    assert (again.remote_id, again.remote_hash, again.state) == ("b" * 36, "2" * 64, "withdrawn")
    external_links.upsert_external_link(
        db,
        system="ciso_assistant",
        object_type="applied_control",
        local_id="AIR-2026-0001/control/1",
        register_id="AIR-2026-0001",
        remote_id="c" * 36,
        remote_hash="3" * 64,
    )
    listed = external_links.list_external_links(
        db, system="ciso_assistant", register_id="AIR-2026-0001"
    )
    assert [link.local_id for link in listed] == ["AIR-2026-0001", "AIR-2026-0001/control/1"]
    assert external_links.list_external_links(db, system="other") == []
    with pytest.raises(ValueError, match="state"):
        external_links.upsert_external_link(
            db,
            system="ciso_assistant",
            object_type="asset",
            local_id="AIR-2026-0002",
            register_id="AIR-2026-0002",
            remote_id="d",
            remote_hash="4" * 64,
            state="gone",
        )


def test_the_database_refuses_a_second_row_for_one_local_record(db: Session) -> None:
    for remote_id in ("x", "y"):
        db.add(
            ExternalLink(
                system="ciso_assistant",
                object_type="asset",
                local_id="AIR-2026-0001",
                register_id="AIR-2026-0001",
                remote_id=remote_id,
                remote_hash="0" * 64,
            )
        )
    with pytest.raises(IntegrityError):
        db.flush()
