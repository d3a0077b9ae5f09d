"""Cloned machines: one state directory copied onto two machines must not merge into one host."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from agent.service import AgentService
from tests.agent.helpers import GrowingScanner, settings
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.slow

MACHINE_A = "a" * 32
MACHINE_B = "b" * 32


def _service(
    state: Path, server: LiveServer, token_file: Path | None, machine: str
) -> AgentService:
    return AgentService(
        settings(
            state,
            server.url,
            enrollment_token_file=str(token_file) if token_file else "",
        ),
        scanners=[GrowingScanner()],
        machine=machine,
    )


def _agents(server: LiveServer) -> list[str]:
    with sqlite3.connect(server.data_dir / "shadowmap.db") as db:
        return sorted(row[0] for row in db.execute("SELECT agent_uid FROM agents"))


@pytest.fixture
def original(live_server: LiveServer, tmp_path: Path) -> tuple[Path, Path, str]:
    token_file = tmp_path / "enroll-token"
    token_file.write_text(live_server.enrollment_token())
    state = tmp_path / "original"
    service = _service(state, live_server, token_file, MACHINE_A)
    try:
        cycle = service.run_cycle()
        assert cycle.delivered == [cycle.report_id]
        return state, token_file, service.identity
    finally:
        service.close()


def test_a_copied_state_dir_notices_the_other_machine_and_takes_a_new_identity(
    live_server: LiveServer, original: tuple[Path, Path, str], tmp_path: Path
) -> None:
    state, token_file, first_id = original
    clone_state = tmp_path / "clone"
    shutil.copytree(state, clone_state)
    clone = _service(clone_state, live_server, token_file, MACHINE_B)
    try:
        assert clone.identity != first_id
        cycle = clone.run_cycle()
        assert cycle.delivered == [cycle.report_id]
    finally:
        clone.close()
    assert (clone_state / "identity.previous").exists()
    assert _agents(live_server) == sorted([first_id, clone.identity])


def test_the_collector_answers_409_and_the_clone_rekeys_and_re_enrolls(
    live_server: LiveServer, original: tuple[Path, Path, str], tmp_path: Path
) -> None:
    state, token_file, first_id = original
    clone_state = tmp_path / "clone"
    shutil.copytree(state, clone_state)
    # An identity written before fingerprints were recorded: the clone cannot tell locally.
    (clone_state / "identity.json").write_text(json.dumps({"agent_id": first_id}))
    clone = _service(clone_state, live_server, token_file, MACHINE_B)
    try:
        assert clone.identity == first_id
        refused = clone.run_cycle()
        assert refused.delivered == []
        assert clone.identity != first_id, "the 409 did not make the clone rekey"
        again = clone.run_cycle()
        assert again.delivered == [again.report_id]
        assert clone.spool.stats().reports == 0
    finally:
        clone.close()
    assert _agents(live_server) == sorted([first_id, clone.identity])
    # The original keeps its identity and keeps reporting.
    service = _service(state, live_server, token_file, MACHINE_A)
    try:
        assert service.identity == first_id
        cycle = service.run_cycle()
        assert cycle.delivered == [cycle.report_id]
    finally:
        service.close()


def test_a_clone_without_a_token_says_it_needs_one(
    live_server: LiveServer, original: tuple[Path, Path, str], tmp_path: Path
) -> None:
    state, _, first_id = original
    clone_state = tmp_path / "clone"
    shutil.copytree(state, clone_state)
    (clone_state / "identity.json").write_text(json.dumps({"agent_id": first_id}))
    clone = _service(clone_state, live_server, None, MACHINE_B)
    try:
        clone.run_cycle()
        assert clone.identity != first_id
        clone.run_cycle()
        health = clone.health()
        assert health["enrollment"] == "needs-enrollment-token"
        assert "not enrolled" in str(health["last_delivery_error"])
        assert clone.spool.stats().reports >= 1  # kept until it can enroll
    finally:
        clone.close()
