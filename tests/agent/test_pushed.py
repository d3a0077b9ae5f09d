"""What the collector pushes (the organisation's domains): fetched, cached, used by both paths."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import cli
from agent.config import AgentSettings
from agent.identity import Credential, save_credential
from agent.pushed import CACHE_FILE, PushedConfig, load_pushed, refresh_pushed, save_pushed
from agent.reporter import Reporter
from agent.scanners.browsers import BrowserExtensionScanner
from agent.service import AgentService
from tests.agent.scanners.helpers import write
from tests.agent.scanners.test_accounts import chrome_profile, signed_in
from tests.e2e.conftest import ADMIN_PASSWORD, LiveServer, run_cli, start_server


def laptop(root: Path) -> Path:
    write(root / "etc/passwd", "ana:x:1000:1000::/home/ana:/bin/bash\n")
    write(root / "etc/hostname", "fin-laptop-12\n")
    chrome_profile(root / "home/ana/.config/google-chrome", "Default", signed_in("ana@example.com"))
    return root


def test_the_cache_round_trips_privately_and_bad_caches_count_as_none(tmp_path: Path) -> None:
    state = tmp_path / "state"
    save_pushed(state, PushedConfig(frozenset({"example.com", "example.org"})))
    assert stat.S_IMODE((state / CACHE_FILE).stat().st_mode) == 0o600
    assert load_pushed(state) == PushedConfig(frozenset({"example.com", "example.org"}))
    assert load_pushed(tmp_path / "nowhere") == PushedConfig()
    for bad in (b"{not json", b"[" * 100_000, json.dumps({"organisation_domains": "x"}).encode()):
        write(state / CACHE_FILE, bad)
        assert load_pushed(state) == PushedConfig()
    with open(state / CACHE_FILE, "wb") as handle:
        handle.truncate(64 * 1024 * 1024)
    assert load_pushed(state) == PushedConfig()
    hostile = {"organisation_domains": ["Example.COM", "../etc", "a" * 300, 7, "x.y.z.example.net"]}
    assert PushedConfig.from_json(hostile).organisation_domains == {
        "example.com",
        "x.y.z.example.net",
    }


def test_scan_once_json_uses_the_cached_domains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = laptop(tmp_path / "image")
    state = tmp_path / "state"
    args = ["scan", "--once", "--json", "--root", str(image), "--only", "browser_extensions"]

    assert cli.main([*args, "--state-dir", str(state)]) == 0
    before = json.loads(capsys.readouterr().out)["findings"][0]["evidence"]
    save_pushed(state, PushedConfig(frozenset({"example.com"})))
    assert cli.main([*args, "--state-dir", str(state)]) == 0
    after = json.loads(capsys.readouterr().out)["findings"][0]["evidence"]

    assert before["profile_account"] == "other"  # unknown to the agent: another organisation
    assert (after["profile_account"], after["profile_account_domain"]) == (
        "corporate",
        "example.com",
    )


def test_an_unreachable_collector_keeps_the_cache(tmp_path: Path) -> None:
    state = tmp_path / "state"
    save_pushed(state, PushedConfig(frozenset({"example.com"})))
    credential = Credential(server_url="http://127.0.0.1:9", agent_id="a", secret="s")
    with Reporter("http://127.0.0.1:9", timeout=2) as reporter:  # nothing listens on port 9
        assert refresh_pushed(reporter, credential, state).organisation_domains == {"example.com"}


@pytest.fixture
def org_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    data_dir = tmp_path / "server"
    run_cli("server", "db", "upgrade", "--data-dir", str(data_dir))
    run_cli(
        "server", "user", "create", "--username", "admin", "--role", "admin",
        "--password", ADMIN_PASSWORD, "--data-dir", str(data_dir),
    )  # fmt: skip
    monkeypatch.setenv("SHADOWMAP_ORGANISATION_DOMAINS", "example.com")
    server = start_server(data_dir)
    monkeypatch.delenv("SHADOWMAP_ORGANISATION_DOMAINS")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_run_fetches_the_domains_before_its_full_report(
    org_server: LiveServer, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    with Reporter(org_server.url) as reporter:
        credential = reporter.enroll(
            token=org_server.enrollment_token(), agent_id="agent-pushed-1", host=cli.this_host()
        )
    save_credential(state, credential)
    settings = AgentSettings(server_url=org_server.url, state_dir=str(state), network_capture=False)
    service = AgentService(
        settings, scanners=[BrowserExtensionScanner()], scan_root=laptop(tmp_path / "image")
    )
    try:
        assert service.pushed == PushedConfig()
        cycle = service.run_cycle()
    finally:
        service.close()
    assert cycle.delivered == [cycle.report_id]
    assert service.pushed.organisation_domains == {"example.com"}
    assert load_pushed(state).organisation_domains == {"example.com"}
    client = org_server.signed_in_client()
    try:
        corporate = client.get("/triage", params={"account": "corporate"}).text
    finally:
        client.close()
    assert "Monica" in corporate
