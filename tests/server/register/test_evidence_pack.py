"""The ISO/IEC 42001 evidence pack: built over the API and the command line from a real
database, verified, and refused with the tampered file or audit line named."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import itertools
import json
import zipfile
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from collector.db import transaction
from collector.store import audit
from server.cli import main
from server.register import service
from server.register.evidence_pack import AUDIT_TRAIL, MANIFEST, verify_evidence_pack
from server.register.schemas import EntryInput
from tests.server.api.conftest import bearer, make_token


def seed(app: FastAPI) -> str:
    """An approved entry (created, edited, decided) and one under review; return the first."""
    with transaction(app.state.shadowmap.sessions) as session:
        entry = service.create_entry(
            session,
            actor="alice",
            fields=EntryInput(title="Drafting", ai_system="ChatGPT", supplier="OpenAI"),
        )
        service.update_entry(
            session,
            actor="alice",
            register_id=entry.register_id,
            expected_version=1,
            fields=EntryInput(
                title="Drafting",
                ai_system="ChatGPT",
                supplier="OpenAI",
                business_owner="Bob",
                purpose="Letters — naïve drafts",
                risk_level="low",
            ),
        )
        service.decide_entry(
            session,
            actor="carol",
            register_id=entry.register_id,
            expected_version=2,
            decision="restricted",
            rationale="=cmd|' /c calc'!A1",
            conditions="No customer data",
            today=dt.date(2026, 1, 10),
        )
        service.create_entry(
            session, actor="dave", fields=EntryInput(title="Coding", ai_system="Copilot")
        )
        return entry.register_id


def rewritten(pack: bytes, changes: dict[str, bytes | None]) -> bytes:
    """Return a copy of a pack with some members replaced (or removed, for None)."""
    with zipfile.ZipFile(io.BytesIO(pack)) as source:
        members = {name: source.read(name) for name in source.namelist()}
    for name, body in changes.items():
        if body is None:
            members.pop(name)
        else:
            members[name] = body
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name, body in members.items():
            target.writestr(name, body)
    return out.getvalue()


def member(pack: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(pack)) as archive:
        return archive.read(name)


def test_pack_over_the_api_holds_the_register_decisions_reviews_and_audit_trail(
    client: TestClient, app: FastAPI
) -> None:
    register_id = seed(app)
    token = make_token(app, ["register:read"])
    answer = client.get("/api/v1/exports/evidence-pack.zip", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert "attachment" in answer.headers["Content-Disposition"]
    pack = answer.content

    verdict = verify_evidence_pack(pack)
    assert verdict.ok, verdict.problems
    with transaction(app.state.shadowmap.sessions) as session:
        live = audit.verify_audit_chain(session)
    assert verdict.head == live.head and verdict.events_checked == live.checked == 4

    manifest = json.loads(member(pack, MANIFEST))
    with zipfile.ZipFile(io.BytesIO(pack)) as archive:
        names = set(archive.namelist())
    assert names == {MANIFEST} | {item["path"] for item in manifest["files"]}
    assert {
        "README.txt",
        "register/register.json",
        "register/register.csv",
        "register/register.cdx.json",
        "decisions.csv",
        "reviews.csv",
        AUDIT_TRAIL,
    } <= names
    for item in manifest["files"]:
        assert hashlib.sha256(member(pack, item["path"])).hexdigest() == item["sha256"]
    assert manifest["audit"]["head_hash"] == live.head and manifest["register_entries"] == 2
    assert live.head in member(pack, "README.txt").decode()

    entries = json.loads(member(pack, "register/register.json"))["entries"]
    assert len(entries) == 2 and register_id in {entry["register_id"] for entry in entries}
    decisions = list(csv.DictReader(io.StringIO(member(pack, "decisions.csv").decode())))
    assert [(d["register_id"], d["decision"], d["decided_by"]) for d in decisions] == [
        (register_id, "restricted", "carol")
    ]
    # Replayed from the audit trail; spreadsheet formulas are neutralised.
    assert decisions[0]["rationale"] == "'=cmd|' /c calc'!A1"
    assert decisions[0]["conditions"] == "No customer data"
    assert decisions[0]["next_review_on"] == "2027-01-10"
    reviews = list(csv.DictReader(io.StringIO(member(pack, "reviews.csv").decode())))
    assert [(r["register_id"], r["next_review_on"]) for r in reviews] == [
        (register_id, "2027-01-10")
    ]
    lines = [json.loads(line) for line in member(pack, AUDIT_TRAIL).decode().splitlines()]
    assert lines[0]["prev_hash"] == "0" * 64
    assert all(a["hash"] == b["prev_hash"] for a, b in itertools.pairwise(lines))
    assert "naïve" in member(pack, AUDIT_TRAIL).decode("utf-8")

    inventory_only = make_token(app, ["inventory:read"])
    refused = client.get("/api/v1/exports/evidence-pack.zip", headers=bearer(inventory_only))
    assert refused.status_code == 403


def test_verify_names_a_changed_file_a_changed_audit_line_and_a_removed_one(
    client: TestClient, app: FastAPI
) -> None:
    seed(app)
    token = make_token(app, ["register:read"])
    pack = client.get("/api/v1/exports/evidence-pack.zip", headers=bearer(token)).content

    csv_text = member(pack, "register/register.csv").replace(b"restricted", b"approved")
    changed_file = verify_evidence_pack(rewritten(pack, {"register/register.csv": csv_text}))
    assert not changed_file.ok
    assert changed_file.problems == [
        "register/register.csv: SHA-256 does not match the manifest (the file was changed)"
    ]

    # Alter one audit event and re-hash the file in the manifest: only the chain catches it.
    lines = member(pack, AUDIT_TRAIL).decode().splitlines(keepends=True)
    event = json.loads(lines[2])
    event["actor"] = "mallory"
    lines[2] = json.dumps(event) + "\n"
    trail = "".join(lines).encode()
    manifest = json.loads(member(pack, MANIFEST))
    for item in manifest["files"]:
        if item["path"] == AUDIT_TRAIL:
            item["sha256"] = hashlib.sha256(trail).hexdigest()
    forged = rewritten(pack, {AUDIT_TRAIL: trail, MANIFEST: json.dumps(manifest).encode()})
    altered = verify_evidence_pack(forged)
    assert altered.problems == [
        f"{AUDIT_TRAIL} line 3 (event #{event['id']}): hash does not match the event's "
        "contents (the event was altered)"
    ]

    removed = verify_evidence_pack(
        rewritten(pack, {AUDIT_TRAIL: "".join(lines[:1] + lines[2:]).encode()})
    )
    assert f"{AUDIT_TRAIL}: SHA-256 does not match the manifest (the file was changed)" in (
        removed.problems
    )
    assert any(
        problem.startswith(f"{AUDIT_TRAIL} line 2 ") and "prev_hash" in problem
        for problem in removed.problems
    )

    extra = verify_evidence_pack(rewritten(pack, {"notes.txt": b"hi", "reviews.csv": None}))
    assert extra.problems == [
        "reviews.csv: listed in the manifest but missing",
        "notes.txt: present but not listed in the manifest",
    ]
    assert verify_evidence_pack(b"not a zip").problems[0].startswith("not a readable zip")


def test_cli_writes_and_verifies_a_pack(
    client: TestClient, app: FastAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(app)
    data_dir = str(app.state.shadowmap.settings.data_dir)
    out = tmp_path / "pack.zip"
    assert main(["evidence-pack", "--out", str(out), "--data-dir", data_dir]) == 0
    assert main(["evidence-pack", "verify", str(out)]) == 0
    assert "4 audit events verified" in capsys.readouterr().out

    pack = out.read_bytes()
    out.write_bytes(rewritten(pack, {"decisions.csv": b"register_id\n"}))
    assert main(["evidence-pack", "verify", str(out)]) == 1
    error = capsys.readouterr().err
    assert "FAILED" in error and "decisions.csv: SHA-256 does not match" in error
