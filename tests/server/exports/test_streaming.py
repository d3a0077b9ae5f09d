"""Issue 20 #13, the export side: inventory and register exports are streamed from the
database in batches, so the memory an export takes does not grow with the inventory (before:
one CycloneDX export of 20,042 items took 724 MB and 212 s), and the streamed documents stay
valid (CycloneDX 1.6 schema). Items come from agent reports over HTTP."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.config import ServerSettings
from server.exports import service
from tests.factories import finding
from tests.server.conftest import bearer, enroll, make_token
from tests.server.seed import post_report, unknowns


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    return ServerSettings(
        data_dir=tmp_path, scheduler_enabled=False, ingest_max_new_items_per_agent_hour=10_000
    )


def grow(client: TestClient, credential: str, start: int, stop: int) -> None:
    """Report unknown tools start..stop-1 (500 per report, the per-report limit)."""
    for first in range(start, stop, 500):
        names = (f"tool-{n:05d}" for n in range(first, min(first + 500, stop)))
        assert post_report(client, credential, unknowns(*names))["limited"] == []


def export_peak(client: TestClient, token: str, fmt: str) -> tuple[int, bytes, bool]:
    """Download one export; return the peak of memory allocated meanwhile, the body, and
    whether it was streamed (sent in chunks as it was written, without a Content-Length)."""
    tracemalloc.start()
    try:
        chunks = []
        with client.stream(
            "GET", f"/api/v1/exports/inventory.{fmt}", headers=bearer(token)
        ) as answer:
            assert answer.status_code == 200
            chunks = list(answer.iter_raw())
            streamed = "content-length" not in answer.headers and len(chunks) > 1
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, b"".join(chunks), streamed


@pytest.mark.slow
def test_exports_are_streamed_in_bounded_memory_and_stay_valid(
    client: TestClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of 100 keep the test small; the shape is the same with the default 500.
    monkeypatch.setattr(service, "BATCH", 100, raising=False)
    credential = enroll(client, app)
    post_report(client, credential, [finding("openai-chatgpt")])
    token = make_token(app, ["inventory:read"])
    grow(client, credential, 0, 299)
    small, first = {}, {}
    for fmt in ("cyclonedx", "json", "csv"):
        small[fmt], first[fmt], _chunks = export_peak(client, token, fmt)
    # (The schema's uniqueItems check is quadratic: the smaller document is the one validated.)
    bom = first["cyclonedx"].decode()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(bom) is None
    assert len(json.loads(bom)["services"]) == 300
    grow(client, credential, 299, 1499)
    large, body, streamed = export_peak(client, token, "cyclonedx")
    # Five times the items, about the same memory: it does not grow with the inventory.
    assert large < 2 * small["cyclonedx"], (small, large)
    assert streamed

    bom = json.loads(body)
    assert bom["specVersion"] == "1.6" and bom["metadata"]["lifecycles"] == [{"phase": "discovery"}]
    refs = [service["bom-ref"] for service in bom["services"]]
    assert len(refs) == len(set(refs)) == 1500
    chatgpt = next(s for s in bom["services"] if s["name"] == "ChatGPT")
    assert chatgpt["provider"] == {"name": "OpenAI"} and chatgpt["endpoints"]

    for fmt in ("json", "csv"):
        peak, body, streamed = export_peak(client, token, fmt)
        assert peak < 2 * small[fmt] and streamed, (fmt, peak, small)
        if fmt == "json":
            items = json.loads(body)["items"]
        else:
            items = list(csv.DictReader(io.StringIO(body.decode())))
        assert len(items) == 1500 and len({item["id"] for item in items}) == 1500
