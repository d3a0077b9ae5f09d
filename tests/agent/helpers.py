"""Scanners and settings the agent service tests share: deterministic, catalogue-matching."""

from __future__ import annotations

import time
from collections.abc import Iterator
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
