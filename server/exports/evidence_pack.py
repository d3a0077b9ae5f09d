"""The ISO/IEC 42001 evidence pack: one zip of the register, its decisions, its review
schedule and the hash-chained audit trail, with a manifest of SHA-256 hashes; and the
verifier that recomputes those hashes and the chain and names whatever was changed.

Layout of a pack::

    README.txt                  for the auditor: what is inside and how to verify it
    manifest.json               every other file with its SHA-256, and the audit chain head
    register/register.json      the register (GET /api/v1/exports/register.json)
    register/register.csv       the same, flat
    register/register.cdx.json  the same, as a CycloneDX 1.6 BOM
    decisions.csv               every decision recorded, replayed from the audit trail
    reviews.csv                 the review schedule of governed entries
    audit/audit-trail.jsonl     every audit event with its hash and previous hash
    aims/...                    the AI management system around the register (exports/aims.py)
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from collector.store import audit as audit_store
from collector.store.audit import AuditEvent
from collector.store.register import RegisterEntry
from server import __version__
from server.exports.aims import AIMS_FILES, aims_files
from server.exports.service import (
    all_register_entries,
    csv_cell,
    register_csv,
    register_cyclonedx,
    register_json,
)
from server.register import states
from server.reviews.service import reassessment_triggers
from signatures import Catalogue

PACK_FORMAT = "shadowmap.evidence-pack"
PACK_VERSION = 2  # 2: the AI management system files under aims/
MANIFEST = "manifest.json"
README = "README.txt"
AUDIT_TRAIL = "audit/audit-trail.jsonl"
# The fields of an audit event its hash covers (collector.store.audit.event_payload).
_HASHED = ("at", "actor", "action", "object_type", "object_id", "before", "after")

DECISION_COLUMNS = (
    "audit_event_id", "at", "register_id", "title", "decision", "decided_by", "rationale",
    "conditions", "risk_level", "next_review_on", "audit_hash",
)  # fmt: skip
REVIEW_COLUMNS = (
    "register_id", "title", "status", "business_owner", "review_cadence_months",
    "last_reviewed_on", "next_review_on", "days_until_review", "overdue",
    "reassessment_triggers",
)  # fmt: skip

README_TEXT = """\
Shadowmap evidence pack (ISO/IEC 42001 AI management system)
============================================================

Generated at {generated_at} by Shadowmap {version}.
Register entries: {entries}. Audit events: {events}.
Audit chain head (hash of the last event): {head}

What is inside
--------------
register/register.json      The AI register: every entry with its purpose, owners, data
register/register.csv       classes, risk level, decision, controls, review dates, supplier,
register/register.cdx.json  EU AI Act class and evidence links (JSON, CSV, CycloneDX 1.6).
decisions.csv               Every decision recorded (approved, restricted, prohibited): who,
                            when, why, under which conditions, and the audit event behind it.
reviews.csv                 The review schedule of governed entries: last and next review,
                            days until the review (negative: overdue), and what discovery
                            suggests should trigger a reassessment.
audit/audit-trail.jsonl     The complete audit trail, one event per line, oldest first,
                            each with its hash and the hash of the event before it.
{aims_listing}
manifest.json               The SHA-256 of every file above and the audit chain head.

The register is commonly used as evidence of the resource documentation controls of
ISO/IEC 42001 Annex A (A.4), of the AIMS scope (clause 4.3), of responsible and intended use
(A.9) and of supplier relationships (A.10); the decisions and reviews evidence risk treatment
and monitoring (clauses 6.1, 8 and 9.1). These mappings are indicative; your Statement of
Applicability is authoritative.

How to verify this pack
-----------------------
1. With Shadowmap:   shadowmap evidence-pack verify <this file>
   It recomputes every hash below and names each file or audit line that does not match.

2. By hand, file hashes: compute the SHA-256 of each file (e.g. `sha256sum FILE`) and
   compare it with the "sha256" listed for that path in manifest.json. Any difference means
   the file was changed after the pack was made. A file present but not listed, or listed
   but absent, is also a failure.

3. By hand, the audit hash chain: read audit/audit-trail.jsonl line by line. For each event,
   take the object with exactly the keys at, actor, action, object_type, object_id, before
   and after; serialise it as canonical JSON (keys sorted, separators "," and ":" with no
   spaces, non-ASCII characters written as UTF-8, not escaped); then
       hash = SHA-256( prev_hash + canonical_json )     (hex, lower case)
   The first event's prev_hash is 64 zeros; every later event's prev_hash must equal the
   hash of the line before it; and the last hash must equal audit.head_hash in
   manifest.json. In Python:
       import hashlib, json
       prev = "0" * 64
       for line in open("audit/audit-trail.jsonl", encoding="utf-8"):
           event = json.loads(line)
           payload = {{k: event[k] for k in ("at", "actor", "action", "object_type",
                                            "object_id", "before", "after")}}
           body = json.dumps(payload, sort_keys=True, separators=(",", ":"),
                             ensure_ascii=False)
           assert event["prev_hash"] == prev
           assert hashlib.sha256((prev + body).encode("utf-8")).hexdigest() == event["hash"]
           prev = event["hash"]

What verification does not prove
---------------------------------
The manifest is not signed: someone who rewrites every file, every hash and the whole chain
consistently produces a pack that verifies. Anchor the chain head: compare the head above
with the one the live system reports (`shadowmap audit verify` prints it), or with the head
of an earlier pack, which must appear, at the same position, in this pack's audit trail.
"""


# Building ------------------------------------------------------------------------------------


def _audit_line(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        **audit_store.event_payload(event),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def _csv(columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(column)) for column in columns])
    return out.getvalue().encode()


def _decision_rows(events: Iterable[AuditEvent]) -> list[dict[str, Any]]:
    """Replay the entry events (a creation holds the whole entry, later events what changed)
    and return one row per decision with the entry as it stood right after it."""
    entries: dict[str, dict[str, Any]] = {}
    rows = []
    for event in events:
        if event.object_type != "entry":
            continue
        entry = entries.setdefault(event.object_id, {})
        entry.update(event.after or {})
        decision = event.action.removeprefix("entry.")
        if decision in states.DECISIONS:
            rows.append(
                {
                    "audit_event_id": event.id,
                    "at": event.at.astimezone(dt.UTC).isoformat(),
                    "register_id": event.object_id,
                    "title": entry.get("title"),
                    "decision": decision,
                    "decided_by": event.actor,
                    "rationale": entry.get("decision_rationale"),
                    "conditions": entry.get("decision_conditions"),
                    "risk_level": entry.get("risk_level"),
                    "next_review_on": entry.get("next_review_on"),
                    "audit_hash": event.hash,
                }
            )
    return rows


def _review_rows(session: Session, entries: Iterable[RegisterEntry], today: dt.date) -> list[Any]:
    rows = []
    for entry in entries:
        if entry.status not in (states.APPROVED, states.RESTRICTED, states.REVIEW_DUE):
            continue
        days = (entry.next_review_on - today).days if entry.next_review_on else None
        rows.append(
            {
                "register_id": entry.register_id,
                "title": entry.title,
                "status": entry.status,
                "business_owner": entry.business_owner,
                "review_cadence_months": entry.review_cadence_months,
                "last_reviewed_on": entry.last_reviewed_on,
                "next_review_on": entry.next_review_on,
                "days_until_review": days,
                "overdue": "yes" if days is not None and days < 0 else "no",
                "reassessment_triggers": "; ".join(reassessment_triggers(session, entry=entry)),
            }
        )
    return rows


def build_evidence_pack(
    session: Session, *, catalogue: Catalogue, now: dt.datetime | None = None
) -> bytes:
    """Return the evidence pack as zip bytes.

    Takes the audit-chain lock first, which every register write also takes, so the register,
    decisions and audit trail in the pack are one consistent snapshot.
    """
    audit_store.lock_audit_chain(session)
    now = now or dt.datetime.now(dt.UTC)
    entries = all_register_entries(session)
    events = list(audit_store.iter_audit_events(session))
    head = events[-1].hash if events else audit_store.GENESIS_HASH
    trail = "".join(
        audit_store.canonical_json(_audit_line(event)) + "\n" for event in events
    ).encode("utf-8")
    files = {
        "register/register.json": register_json(entries, catalogue),
        "register/register.csv": register_csv(entries, catalogue),
        "register/register.cdx.json": register_cyclonedx(entries, catalogue),
        "decisions.csv": _csv(DECISION_COLUMNS, _decision_rows(events)),
        "reviews.csv": _csv(REVIEW_COLUMNS, _review_rows(session, entries, now.date())),
        AUDIT_TRAIL: trail,
        **aims_files(session, now=now),
    }
    files[README] = README_TEXT.format(
        aims_listing="\n".join(f"{path:<27} {what}" for path, what in AIMS_FILES.items()),
        generated_at=now.isoformat(),
        version=__version__,
        entries=len(entries),
        events=len(events),
        head=head,
    ).encode()
    manifest = {
        "format": PACK_FORMAT,
        "version": PACK_VERSION,
        "generated_at": now.isoformat(),
        "shadowmap_version": __version__,
        "register_entries": len(entries),
        "audit": {
            "events": len(events),
            "genesis_hash": audit_store.GENESIS_HASH,
            "head_hash": head,
            "file": AUDIT_TRAIL,
        },
        "files": [
            {"path": path, "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}
            for path, body in sorted(files.items())
        ],
    }
    files[MANIFEST] = json.dumps(manifest, indent=2).encode()
    out = io.BytesIO()
    stamp = now.astimezone(dt.UTC).timetuple()[:6]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in (MANIFEST, README, *sorted(set(files) - {MANIFEST, README})):
            archive.writestr(zipfile.ZipInfo(path, date_time=stamp), files[path])
    return out.getvalue()


# Verifying -----------------------------------------------------------------------------------


@dataclass(slots=True)
class PackVerdict:
    """What verifying a pack found; ``problems`` name each file or audit line that failed."""

    problems: list[str] = field(default_factory=list)
    files_checked: int = 0
    events_checked: int = 0
    head: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_chain(trail: bytes, verdict: PackVerdict) -> bool:
    """Walk the audit trail's hash chain, setting the verdict's head; record the first broken
    link and return whether the chain holds."""
    prev = audit_store.GENESIS_HASH
    for number, line in enumerate(trail.decode("utf-8", errors="replace").splitlines(), 1):
        where = f"{AUDIT_TRAIL} line {number}"
        try:
            event = json.loads(line)
            payload = {key: event[key] for key in _HASHED}
            event_id, prev_hash, stated = event["id"], event["prev_hash"], event["hash"]
        except (ValueError, KeyError, TypeError):
            verdict.problems.append(f"{where}: not an audit event (malformed JSON or fields)")
            return False
        if prev_hash != prev:
            verdict.problems.append(
                f"{where} (event #{event_id}): prev_hash does not match the previous event's "
                "hash (an event was removed, inserted or reordered)"
            )
            return False
        if audit_store.event_hash(prev, payload) != stated:
            verdict.problems.append(
                f"{where} (event #{event_id}): hash does not match the event's contents "
                "(the event was altered)"
            )
            return False
        prev = verdict.head = stated
        verdict.events_checked += 1
    return True


def verify_evidence_pack(pack: bytes | Path) -> PackVerdict:
    """Recompute every file hash in the manifest and the audit hash chain; never raises for
    a damaged pack: each failure becomes a problem naming the file or line."""
    verdict = PackVerdict()
    try:
        archive = zipfile.ZipFile(io.BytesIO(pack) if isinstance(pack, bytes) else pack)
    except (zipfile.BadZipFile, OSError) as exc:
        verdict.problems.append(f"not a readable zip file: {exc}")
        return verdict
    with archive:
        names = set(archive.namelist())
        try:
            manifest = json.loads(archive.read(MANIFEST))
            listed = {item["path"]: item["sha256"] for item in manifest["files"]}
            audit = manifest["audit"]
        except (KeyError, ValueError, TypeError):
            verdict.problems.append(f"{MANIFEST}: missing or malformed")
            return verdict
        if manifest.get("format") != PACK_FORMAT:
            verdict.problems.append(f"{MANIFEST}: not a Shadowmap evidence pack manifest")
        if manifest.get("version", 1) >= 2:
            for path in AIMS_FILES:
                if path not in listed:
                    verdict.problems.append(
                        f"{path}: missing from the manifest (a version 2 pack holds the AI "
                        "management system)"
                    )
        for path, expected in sorted(listed.items()):
            if path not in names:
                verdict.problems.append(f"{path}: listed in the manifest but missing")
                continue
            if hashlib.sha256(archive.read(path)).hexdigest() != expected:
                verdict.problems.append(
                    f"{path}: SHA-256 does not match the manifest (the file was changed)"
                )
            verdict.files_checked += 1
        for path in sorted(names - set(listed) - {MANIFEST}):
            verdict.problems.append(f"{path}: present but not listed in the manifest")
        if AUDIT_TRAIL not in names:
            return verdict
        verdict.head = audit_store.GENESIS_HASH
        if not _check_chain(archive.read(AUDIT_TRAIL), verdict):
            return verdict
        if verdict.head != audit.get("head_hash"):
            verdict.problems.append(
                f"{MANIFEST}: audit head_hash does not match the last event of {AUDIT_TRAIL}"
            )
        if verdict.events_checked != audit.get("events"):
            verdict.problems.append(f"{MANIFEST}: audit event count does not match {AUDIT_TRAIL}")
    return verdict
