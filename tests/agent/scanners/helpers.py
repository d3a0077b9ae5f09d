"""Builders for the fixture trees the scanner tests scan: homes laid out as on each OS."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agent.evidence import undeclared_evidence
from agent.scanners.base import LocalUser, Observation, ScanContext, ScanItem, Scanner
from signatures import ScannerError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

# What the fake Claude Code process carries on its command line, and must never be reported.
SECRET = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789"
PROMPT = "summarise the board minutes about the merger"

HOME_OF = {"linux": "home/{name}", "darwin": "Users/{name}", "windows": "Users/{name}"}


def write(path: Path, content: str | bytes | dict[str, Any] | list[Any]) -> Path:
    """Write a fixture file, creating its directories; dicts and lists become JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, dict | list):
        path.write_text(json.dumps(content))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def make_user(root: Path, name: str = "alice", layout: str = "linux") -> LocalUser:
    home = root / HOME_OF[layout].format(name=name)
    home.mkdir(parents=True, exist_ok=True)
    return LocalUser(name=name, home=home, uid=1000)


def context(root: Path, *users: LocalUser, platform: str = "linux") -> ScanContext:
    return ScanContext(root=root, users=users, platform=platform)


def run(scanner: Scanner, ctx: ScanContext) -> tuple[list[Observation], list[ScannerError]]:
    """Run one scanner; fail on any evidence field its declaration does not allow."""
    items: list[ScanItem] = list(scanner.scan(ctx))
    observations = [item for item in items if isinstance(item, Observation)]
    errors = [item for item in items if isinstance(item, ScannerError)]
    assert len(observations) + len(errors) == len(items)
    for observation in observations:
        undeclared = undeclared_evidence(scanner.evidence, observation.evidence)
        assert undeclared == [], f"{scanner.name} emits undeclared evidence {undeclared}"
    return observations, errors


def by_indicator(observations: Iterable[Observation]) -> dict[str, Observation]:
    return {observation.indicator: observation for observation in observations}
