"""The evidence pack holds the AI management system: built over the API after setting the
AIMS up through its own API (scoped tokens, signed-in approvers), verified, and refused when an
aims/ file is changed or left out."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile

from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.exports.aims import AIMS_FILES
from server.exports.evidence_pack import MANIFEST, verify_evidence_pack
from tests.server.conftest import bearer, make_token, sign_in

HOSTILE = "<script>window.__pwned=1</script>"


def _ok(answer: object) -> dict:  # type: ignore[type-arg]
    status = answer.status_code  # type: ignore[attr-defined]
    assert status in (200, 201, 204), answer.text  # type: ignore[attr-defined]
    return answer.json() if status != 204 else {}  # type: ignore[attr-defined,no-any-return]


def set_up_aims(app: FastAPI, client: TestClient) -> str:
    """Scope, directory, a published policy acknowledged by two, a DPIA route, an entry
    approved through it, training and an incident; return the entry's id."""
    admin = bearer(make_token(app, ["aims:admin", "aims:write", "aims:read", "register:write"]))
    _ok(client.post("/api/v1/scope", headers=admin, json={
        "owner": "Olga (COO)", "business_units": ["Sales", "Support"], "locations": ["Berlin"],
        "ai_use_kinds": ["used"], "exclusions": "R&D lab", "rationale": "first year"}))  # fmt: skip
    _ok(client.post("/api/v1/people/import", headers={**admin, "Content-Type": "text/csv"},
        content=b"username,department,name\nreviewer,Support,Rhea\nadmin,Sales,Ada\n"))  # fmt: skip
    policy = _ok(client.post("/api/v1/policies", headers=admin, json={
        "policy_key": "ai-use", "title": "AI acceptable use", "approver_role": "CISO",
        "body_markdown": f"# Rules\n\n{HOSTILE}\n\nNo customer data in public AI."}))  # fmt: skip
    _ok(client.post(f"/api/v1/policies/{policy['id']}/publish", headers=admin, json={}))
    route = _ok(client.post("/api/v1/approval-routes", headers=admin, json={
        "name": "Personal data needs a DPIA", "personal_data": True,
        "assessments": ["dpia"], "approvers": ["role:reviewer", "role:admin"]}))  # fmt: skip
    entry = _ok(client.post("/api/v1/register", headers=admin, json={
        "title": "Support replies", "ai_system": "ChatGPT", "business_owner": "Sam",
        "purpose": "Draft replies", "risk_level": "medium",
        "data_classes": ["customer_data"]}))  # fmt: skip
    register_id = entry["register_id"]
    _ok(client.post("/api/v1/assessments", headers=admin, json={
        "register_id": register_id, "kind": "dpia",
        "answers": ["replies", "needed", "leaks", "redaction", "agreed"]}))  # fmt: skip
    for role, step in (("reviewer", 1), ("admin", 2)):
        with TestClient(app) as person:
            csrf = sign_in(person, role)
            _ok(person.post(f"/api/v1/policies/{policy['id']}/acknowledge",
                            headers={"X-CSRF-Token": csrf}))  # fmt: skip
            _ok(person.post(f"/api/v1/register/{register_id}/signoffs",
                headers={"X-CSRF-Token": csrf},
                json={"route_id": route["id"], "step": step, "outcome": "approved"}))  # fmt: skip
            if role == "admin":
                page = person.get(f"/register/{register_id}")
                version = int(page.text.split('name="version" value="')[1].split('"')[0])
                answer = person.post(
                    f"/register/{register_id}/decision",
                    data={"csrf": csrf, "version": version, "decision": "approved",
                          "rationale": "route complete"},
                    follow_redirects=False,
                )  # fmt: skip
                assert answer.status_code == 303, answer.text
    _ok(client.post("/api/v1/training", headers=admin, json={
        "username": "reviewer", "course": "AI literacy",
        "completed_on": dt.date.today().isoformat()}))  # fmt: skip
    _ok(client.post("/api/v1/incidents", headers=admin, json={
        "title": "Customer name pasted", "severity": "medium", "register_id": register_id,
        "occurred_on": dt.date.today().isoformat(), "people_affected": 1}))  # fmt: skip
    return str(register_id)


def test_the_pack_holds_the_management_system_and_verifies(
    app: FastAPI, client: TestClient
) -> None:
    register_id = set_up_aims(app, client)
    reader = bearer(make_token(app, ["register:read", "aims:read"]))
    assert client.get(f"/api/v1/register/{register_id}", headers=reader).json()["status"] == (
        "under_review"  # the incident sent it back
    )
    pack = client.get("/api/v1/exports/evidence-pack.zip", headers=reader).content
    verdict = verify_evidence_pack(pack)
    assert verdict.ok, verdict.problems
    with zipfile.ZipFile(io.BytesIO(pack)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    assert set(AIMS_FILES) <= set(files)
    acks = list(csv.DictReader(io.StringIO(files["aims/acknowledgements.csv"].decode())))
    assert sorted(row["username"] for row in acks) == ["admin", "reviewer"]
    signoffs = list(csv.DictReader(io.StringIO(files["aims/signoffs.csv"].decode())))
    assert [(s["signed_by"], s["current"]) for s in signoffs] == [
        ("reviewer", "no (review round ended)"),
        ("admin", "no (review round ended)"),
    ]
    soa = {
        row["control_id"]: row
        for row in csv.DictReader(io.StringIO(files["aims/soa.csv"].decode()))
    }
    assert len(soa) == 38 and soa["A.2.2"]["status"] == "implemented"
    assert json.loads(files["aims/scope.json"])[0]["owner"] == "Olga (COO)"
    review = files["aims/management-review.html"].decode()
    assert "AIMS scope v1 (owner Olga (COO))" in review and "Customer name pasted" in review
    assert HOSTILE not in review
    trail = files["audit/audit-trail.jsonl"].decode()
    for action in (
        "scope.publish",
        "policy.publish",
        "policy.acknowledge",
        "signoff.approved",
        "entry.approved",
        "training.record",
        "incident.report",
        "signoff.retire",
    ):
        assert f'"action":"{action}"' in trail, action  # fmt: skip

    # A changed aims/ file is named; so is one left out of a version 2 manifest.
    changed = _rewrite(pack, {"aims/soa.csv": files["aims/soa.csv"] + b"A.2.2,forged\n"})
    assert verify_evidence_pack(changed).problems == [
        "aims/soa.csv: SHA-256 does not match the manifest (the file was changed)"
    ]
    manifest = json.loads(files[MANIFEST])
    manifest["files"] = [f for f in manifest["files"] if f["path"] != "aims/incidents.csv"]
    dropped = _rewrite(pack, {MANIFEST: json.dumps(manifest).encode()}, drop="aims/incidents.csv")
    assert any(
        p.startswith("aims/incidents.csv: missing from the manifest")
        for p in verify_evidence_pack(dropped).problems
    )


def _rewrite(pack: bytes, replace: dict[str, bytes], drop: str = "") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(pack)) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            if name != drop:
                target.writestr(name, replace.get(name, source.read(name)))
    return out.getvalue()


def test_the_management_review_pack_over_the_api(app: FastAPI, client: TestClient) -> None:
    set_up_aims(app, client)
    reader = bearer(make_token(app, ["aims:read"]))
    html = client.get("/api/v1/management-review.html", headers=reader)
    assert html.status_code == 200 and "Olga (COO)" in html.text
    pdf = client.get("/api/v1/management-review.pdf", headers=reader)
    assert pdf.content.startswith(b"%PDF")
    objectives = {o["measure"]: o for o in client.get("/api/v1/objectives", headers=reader).json()}
    assert (
        objectives["open_incidents"]["value"] == 1 and objectives["open_incidents"]["met"] is False
    )
    # A read-only token cannot change the management system.
    assert client.post("/api/v1/scope", headers=reader, json={}).status_code == 403


def test_the_register_feed_carries_each_entrys_governance(app: FastAPI, client: TestClient) -> None:
    register_id = set_up_aims(app, client)
    reader = bearer(make_token(app, ["register:read"]))
    feed = client.get("/api/v1/sync/register", headers=reader).json()
    (change,) = [c for c in feed["changes"] if c["entry"]["register_id"] == register_id]
    governance = change["governance"]
    assert governance["approval_routes"] == [
        {
            "route": "Personal data needs a DPIA",
            "complete": False,  # the incident started a new review round
            "missing_assessments": [],
            "signed_by": [],
            "waiting_for": ["role:reviewer", "role:admin"],
        }
    ]
    assert [(a["kind"], a["status"]) for a in governance["assessments"]] == [("dpia", "completed")]
    assert [(i["severity"], i["status"]) for i in governance["incidents"]] == [("medium", "open")]
