"""Scanners and settings the agent service tests share: deterministic, catalogue-matching."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config import AgentSettings, load_settings
from agent.evidence import EvidenceField
from agent.scanners import ScanContext
from agent.scanners.base import Observation, ScanItem
from signatures import FindingKind, IndicatorKind


@dataclass
class GrowingScanner:
    """Each scan sees one more user of api.openai.com: one new finding per cycle."""

    name: str = "growing"
    platforms: frozenset[str] = frozenset({"linux", "darwin", "windows", "other"})
    live: bool = False
    evidence: tuple[EvidenceField, ...] = (EvidenceField("queries", "integer", "Lookups."),)
    scans: int = 0
    produced: set[tuple[str, str]] = field(default_factory=set)

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        self.scans += 1
        for index in range(self.scans):
            user = f"user-{index:04d}"
            self.produced.add(("api.openai.com", user))
            yield Observation(
                kind=FindingKind.DNS,
                indicator_kind=IndicatorKind.DOMAIN,
                indicator="api.openai.com",
                user=user,
                evidence={"queries": 1},
            )


@dataclass
class ExpensiveScanner:
    """Burns CPU for ``seconds`` on every scan, then reports one finding."""

    seconds: float = 0.3
    name: str = "expensive"
    platforms: frozenset[str] = frozenset({"linux", "darwin", "windows", "other"})
    live: bool = False
    evidence: tuple[EvidenceField, ...] = (EvidenceField("work", "integer", "Busy work."),)

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        deadline = time.process_time() + self.seconds
        total = 0
        while time.process_time() < deadline:
            total += sum(range(1000))
        yield Observation(
            kind=FindingKind.DNS,
            indicator_kind=IndicatorKind.DOMAIN,
            indicator="api.openai.com",
            user="busy",
            evidence={"work": total % 7},
        )


@dataclass
class FleetingScanner:
    """Each scan sees ``per_scan`` lookups by users never seen before, and none seen earlier.

    DNS-like evidence: what one scan sees, the next no longer does.
    """

    per_scan: int = 2
    padding: int = 200
    name: str = "fleeting"
    platforms: frozenset[str] = frozenset({"linux", "darwin", "windows", "other"})
    live: bool = False
    evidence: tuple[EvidenceField, ...] = (
        EvidenceField("queries", "integer", "Lookups."),
        EvidenceField("resolver", "text", "The resolver asked."),
    )
    scans: int = 0
    produced: set[tuple[str, str]] = field(default_factory=set)

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        self.scans += 1
        for index in range(self.per_scan):
            user = f"scan-{self.scans:04d}-user-{index}"
            self.produced.add(("api.openai.com", user))
            yield Observation(
                kind=FindingKind.DNS,
                indicator_kind=IndicatorKind.DOMAIN,
                indicator="api.openai.com",
                user=user,
                evidence={"queries": 1, "resolver": "r" * self.padding},
            )


@dataclass
class HangingScanner:
    """Sees one DNS lookup; from scan ``hang_from`` on, blocks until ``release`` is set.

    A scanner stuck on a dead network mount or a hung device, as far as the service can tell.
    """

    hang_from: int = 2
    name: str = "hanging"
    platforms: frozenset[str] = frozenset({"linux", "darwin", "windows", "other"})
    live: bool = False
    evidence: tuple[EvidenceField, ...] = (EvidenceField("queries", "integer", "Lookups."),)
    scans: int = 0
    release: threading.Event = field(default_factory=threading.Event)

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        self.scans += 1
        if self.scans >= self.hang_from:
            self.release.wait(120)
        yield Observation(
            kind=FindingKind.DNS,
            indicator_kind=IndicatorKind.DOMAIN,
            indicator="api.openai.com",
            user="stuck",
            evidence={"queries": 1},
        )


def settings(state_dir: Path, server_url: str = "", **values: Any) -> AgentSettings:
    overrides: dict[str, Any] = {
        "state_dir": str(state_dir),
        "server_url": server_url or None,
        "retry_initial_seconds": 0.01,
        "retry_max_seconds": 0.05,
        # The test process (pytest, SQLAlchemy...) is bigger than an agent; the watchdog
        # has its own tests.
        "memory_budget_mb": 4096.0,
        "cpu_budget_percent": 400.0,
        **values,
    }
    return load_settings(None, environ={}, overrides=overrides)


# `run` scans the users of the live user database. A test gives it users of its own by running
# it in a private mount namespace whose /etc/passwd is the test's file (needs root, as CI is).
NEEDS_MOUNT_NAMESPACE = "a private mount namespace needs root and unshare(1)"


def can_use_mount_namespace() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("unshare") is not None


def with_users(passwd: Path, argv: Sequence[str]) -> list[str]:
    """Return ``argv`` run in a private mount namespace where /etc/passwd is ``passwd``."""
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        'mount --bind "$0" /etc/passwd && exec "$@"',
        str(passwd),
        *argv,
    ]


def home_with_models(root: Path, name: str, file_names: Iterable[bytes]) -> Path:
    """Create ``name``'s home with LM Studio model files (sparse, 2 MB each); returns passwd.

    File names are bytes: a test may give names that are not valid UTF-8.
    """
    home = root / "home" / name
    models = home / ".lmstudio" / "models" / "acme"
    models.mkdir(parents=True)
    for file_name in file_names:
        with open(os.fsencode(models) + b"/" + file_name, "wb") as handle:
            handle.truncate(2 * 1024 * 1024)
    passwd = root / "passwd"
    passwd.write_text(f"{name}:x:1000:1000::{home}:/bin/sh\n")
    return passwd


# A Chromium extension the shipped catalogue knows (Claude's).
AI_EXTENSION_ID = "fcoeoabgfenejglbffodgkkbkcdhcgfn"


def _put(path: bytes, content: bytes = b"", size: int | None = None) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(content)
        if size is not None:
            handle.truncate(size)


def home_with_undecodable_names(home: bytes) -> None:
    """Lay out AI software in ``home`` under names that are not valid UTF-8 (byte 0xFF).

    A model file ``l\\xff.gguf`` (2 MB), a Chrome extension whose version folder is
    ``1.0\\xff_0``, the openai Python package in a virtual environment in ``proj\\xff`` and
    the @openai/codex npm package in a project in ``src\\xff``.
    """
    _put(home + b"/.lmstudio/models/acme/l\xff.gguf", size=2 * 1024 * 1024)
    chrome = home + b"/.config/google-chrome/Default"
    _put(chrome + b"/Preferences", b"{}")
    manifest = b'{"name": "Claude", "version": "1.0", "manifest_version": 3}'
    _put(
        chrome + b"/Extensions/" + AI_EXTENSION_ID.encode() + b"/1.0\xff_0/manifest.json", manifest
    )
    site = home + b"/proj\xff/.venv/lib/python3.12/site-packages"
    _put(site + b"/openai-1.40.0.dist-info/METADATA", b"Name: openai\nVersion: 1.40.0\n")
    codex = b'{"name": "@openai/codex", "version": "0.1.0"}'
    _put(home + b"/src\xff/node_modules/@openai/codex/package.json", codex)
