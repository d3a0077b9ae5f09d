"""The registry of built-in scanners: names, live flags, documentation, and --root safety."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.config import AgentSettings
from agent.scanners.base import LocalUser, Observation, ScanContext, Scanner
from agent.scanners.registry import build_scanners, select
from signatures import Catalogue
from tests.agent.scanners.helpers import run

DOCS = Path(__file__).resolve().parents[3] / "docs" / "scanners.md"
LIVE = {"processes", "connections", "local_runtimes"}


@pytest.fixture(scope="module")
def scanners(catalogue: Catalogue) -> tuple[Scanner, ...]:
    return build_scanners(AgentSettings(), catalogue)


def test_names_are_unique_and_live_flags_are_right(scanners: tuple[Scanner, ...]) -> None:
    names = [scanner.name for scanner in scanners]
    assert len(names) == len(set(names))
    assert {scanner.name for scanner in scanners if scanner.live} == LIVE
    for scanner in scanners:
        assert scanner.platforms == frozenset({"linux", "darwin", "windows"})


def test_every_scanner_is_documented(scanners: tuple[Scanner, ...]) -> None:
    text = DOCS.read_text()
    sections = set(re.findall(r"^## `([a-z_]+)`$", text, flags=re.M))
    assert sections == {scanner.name for scanner in scanners}
    for scanner in scanners:
        assert f"| `{scanner.name}` |" in text  # and listed in the overview table


def test_select_and_the_scanners_setting(
    scanners: tuple[Scanner, ...], catalogue: Catalogue
) -> None:
    assert [s.name for s in select("packages, mcp_servers", scanners)] == [
        "packages",
        "mcp_servers",
    ]
    assert select(None, scanners) == scanners
    with pytest.raises(ValueError, match="unknown scanner"):
        select("packages,nope", scanners)
    chosen = AgentSettings(scanners="environment,packages")
    assert [s.name for s in build_scanners(chosen, catalogue)] == ["environment", "packages"]
    # --only wins over the setting
    assert [s.name for s in build_scanners(chosen, catalogue, only="apps")] == ["apps"]
    with pytest.raises(ValueError, match="unknown scanner"):
        build_scanners(AgentSettings(scanners="nope"), catalogue)


def test_file_scanners_read_nothing_outside_the_root(
    tmp_path: Path, scanners: tuple[Scanner, ...]
) -> None:
    """An empty image yields nothing, though this machine has packages, apps and users."""
    ghost = LocalUser(name="root", home=tmp_path / "root", uid=0)
    ctx = ScanContext(root=tmp_path, users=(ghost,))
    for scanner in scanners:
        if scanner.live:
            continue
        observations, errors = run(scanner, ctx)
        assert observations == [], scanner.name
        assert errors == [], scanner.name


def test_observations_fit_the_wire_format(scanners: tuple[Scanner, ...]) -> None:
    """Live process evidence (the least predictable input) fits the report schema."""
    ctx = ScanContext()
    for scanner in scanners:
        if scanner.name != "processes":
            continue
        observations, _ = run(scanner, ctx)
        for observation in observations:
            assert isinstance(observation, Observation)
            assert 0 < len(observation.indicator) <= 1024
            assert len(observation.evidence) <= 64
            for key, value in observation.evidence.items():
                assert len(key) <= 64
                if isinstance(value, str):
                    assert len(value) <= 4096
                if isinstance(value, list):
                    assert len(value) <= 256
                    assert all(isinstance(item, str) and len(item) <= 1024 for item in value)


def test_live_readings_are_shared_within_one_scan_only() -> None:
    calls: list[int] = []

    def read() -> list[int]:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("transient")
        return [len(calls)]

    ctx = ScanContext()
    with pytest.raises(OSError):
        ctx.shared("sockets", read)
    assert ctx.shared("sockets", read) == [2]
    assert ctx.shared("sockets", read) == [2]  # remembered for this scan
    assert ScanContext().shared("sockets", read) == [3]  # a new scan reads again
