"""Builders for the fixture trees the scanner tests scan: homes laid out as on each OS."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agent.scanners.base import LocalUser, Observation, ScanContext, ScanItem, Scanner
from signatures import ScannerError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

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
    items: list[ScanItem] = list(scanner.scan(ctx))
    observations = [item for item in items if isinstance(item, Observation)]
    errors = [item for item in items if isinstance(item, ScannerError)]
    assert len(observations) + len(errors) == len(items)
    return observations, errors


def by_indicator(observations: Iterable[Observation]) -> dict[str, Observation]:
    return {observation.indicator: observation for observation in observations}
