"""The agent-update API: an offer only to the agents in a release's rollout, the package only
to an agent it was offered to, and an agent's rollback halting the rollout and showing on its
host (API and page)."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from collector.db import transaction
from server.agents import updates
from signatures import load_public_key, verify_release_manifest, write_keypair
from tests.server.conftest import bearer, enroll, sign_in

PLATFORM = "linux-x86_64"


def _check(client: TestClient, credential: str, tags: str) -> httpx.Response:
    response: httpx.Response = client.get(
        "/api/v1/agents/update",
        params={"platform": PLATFORM, "version": "0.1.0", "tags": tags},
        headers=bearer(credential),
    )
    return response


def test_an_offer_reaches_the_rollout_only_and_a_rollback_halts_it(
    app: FastAPI, client: TestClient, tmp_path: Path
) -> None:
    private, public = write_keypair(tmp_path / "keys")
    package = tmp_path / "shadowmap-agent-0.2.0.tar.gz"
    package.write_bytes(b"not really a tarball, but signed as it is")
    with transaction(app.state.shadowmap.sessions) as session:
        updates.publish(
            session,
            releases_dir=tmp_path / "releases",
            package=package,
            version="0.2.0",
            platform=PLATFORM,
            signing_key=private.read_bytes(),
            percent=0,
            tags=["pilot"],
        )
    pilot = enroll(client, app, agent_id="agent-pilot", hostname="pilot-1")
    office = enroll(client, app, agent_id="agent-office", hostname="office-1")

    offer = _check(client, pilot, "pilot")
    assert offer.status_code == 200, offer.text
    body = offer.json()
    manifest = verify_release_manifest(
        body["manifest"].encode(), load_public_key(public.read_bytes())
    )
    assert manifest.version == "0.2.0" and manifest.size == len(package.read_bytes())
    assert _check(client, office, "office").status_code == 204

    download = client.get(body["package_url"], headers=bearer(pilot))
    assert download.content == package.read_bytes()
    assert client.get(body["package_url"], headers=bearer(office)).status_code == 404
    assert client.get(body["package_url"]).status_code == 401
    malformed = client.get(
        "/api/v1/agents/update",
        params={"platform": "Linux x86", "version": "0.1.0"},
        headers=bearer(pilot),
    )
    assert malformed.status_code == 422

    rolled = client.post(
        "/api/v1/agents/update/outcome",
        json={
            "platform": PLATFORM,
            "version": "0.2.0",
            "state": "rolled-back",
            "detail": "<b>x</b>",
        },
        headers=bearer(pilot),
    )
    assert rolled.status_code == 204
    # Halted: a new pilot host is not offered it any more.
    newcomer = enroll(client, app, agent_id="agent-pilot-2", hostname="pilot-2")
    assert _check(client, newcomer, "pilot").status_code == 204

    sign_in(client, "viewer")
    hosts = {host["hostname"]: host["id"] for host in client.get("/api/v1/hosts").json()}
    detail = client.get(f"/api/v1/hosts/{hosts['pilot-1']}").json()
    (update,) = detail["agent_updates"]
    assert update["version"] == "0.2.0" and update["state"] == "rolled-back"
    assert update["release_state"] == "halted" and update["detail"] == "<b>x</b>"
    page = client.get(f"/hosts/{hosts['pilot-1']}").text
    assert "Agent updates" in page and "rolled-back" in page and "halted" in page
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page  # escaped
    assert client.get(f"/api/v1/hosts/{hosts['office-1']}").json()["agent_updates"] == []
