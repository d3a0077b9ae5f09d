"""Record changes in the hash-chained audit trail and export it (JSON lines or CSV)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from collector.store import audit
from collector.store.audit import AuditEvent

AUDIT_COLUMNS = (
    "id",
    "at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "prev_hash",
    "hash",
)
EXPORT_FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv"}


def record_change(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Append one audit event; when both snapshots are given, keep only what changed."""
    if before is not None and after is not None:
        changed = {key for key in after if before.get(key) != after.get(key)}
        changed |= {key for key in before if key not in after}
        before = {key: before.get(key) for key in sorted(changed)}
        after = {key: after.get(key) for key in sorted(changed)}
    audit.append_audit_event(
        session,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=before,
        after=after,
    )


def event_row(event: AuditEvent) -> dict[str, Any]:
    """Return one event as the export writes it, hash-chain link included."""
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "before": event.before,
        "after": event.after,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def export_lines(session: Session, *, fmt: str) -> Iterator[str]:
    """Return the whole trail, oldest first, as JSON lines (canonical JSON) or one CSV text.

    The events are read now, in the caller's transaction; the text is produced as it is read.
    """
    rows = [event_row(event) for event in audit.iter_audit_events(session)]

    def jsonl() -> Iterator[str]:
        for row in rows:
            yield audit.canonical_json(row) + "\n"

    def as_csv() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(AUDIT_COLUMNS)
        for row in rows:
            writer.writerow(
                [
                    json.dumps(row[c], sort_keys=True) if c in ("before", "after") else row[c]
                    for c in AUDIT_COLUMNS
                ]
            )
        yield buffer.getvalue()

    return jsonl() if fmt == "jsonl" else as_csv()
