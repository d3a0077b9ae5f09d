"""The scanner protocol: a scanner only reads the OS and yields observations.

Matching against the catalogue, deduplication, scheduling and reporting live in the runner.
Each scanner declares the evidence fields it emits (:class:`agent.evidence.EvidenceField`).
"""

from __future__ import annotations

import datetime as dt
import platform as _platform
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar, cast

from agent.evidence import EvidenceField
from signatures import EvidenceValue, FindingKind, IndicatorKind, ScannerError

_T = TypeVar("_T")


def current_platform() -> str:
    """Return "linux", "darwin", "windows" or "other"."""
    name = str(sys.platform)  # str(): keep mypy from pruning the other platforms' branches
    if name.startswith("linux"):
        return "linux"
    if name == "darwin":
        return "darwin"
    if name == "win32":
        return "windows"
    return "other"


@dataclass(frozen=True, slots=True)
class LocalUser:
    """A local account whose home a file-based scanner looks into."""

    name: str
    home: Path
    uid: int | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """Something a scanner saw that may reveal an AI service.

    ``hints`` are extra inputs for matching (a command line, host permissions...). They never
    leave the host; only ``evidence`` is reported, and only when the observation matches.
    """

    kind: FindingKind
    indicator_kind: IndicatorKind
    indicator: str
    user: str | None = None
    evidence: Mapping[str, EvidenceValue] = field(default_factory=dict)
    hints: Mapping[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class ScanContext:
    """What every scanner may read: the filesystem root, the users, the platform, the time."""

    root: Path = Path("/")
    platform: str = field(default_factory=current_platform)
    users: tuple[LocalUser, ...] = ()
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))
    hostname: str = field(default_factory=_platform.node)
    # The organisation's own mail domains, as the collector pushed them (agent.pushed): a
    # browser profile signed in with one of them is a corporate profile.
    organisation_domains: frozenset[str] = frozenset()
    # Live readings several scanners need (the socket table), taken once per scan.
    _shared: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    def shared(self, key: str, read: Callable[[], _T]) -> _T:
        """Return ``read()``, taken once per scan and shared by every scanner asking ``key``.

        An exception from ``read`` is not remembered: the next scanner asking tries again.
        """
        if key not in self._shared:
            self._shared[key] = read()
        return cast(_T, self._shared[key])

    def path(self, *parts: str | Path) -> Path:
        """Return a path under the scan root (for --root scans of mounted images)."""
        path = Path(*parts)
        if path.is_absolute():
            path = path.relative_to(path.anchor)
        return self.root / path


ScanItem = Observation | ScannerError


class Scanner(Protocol):
    """One evidence source. Built-ins and third-party scanners implement the same protocol."""

    name: str
    platforms: frozenset[str]
    live: bool  # reads the running system (processes, sockets), not files under ctx.root
    evidence: tuple[EvidenceField, ...]  # every field its observations' evidence may hold

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        """Yield observations, and ScannerError for anything that could not be read."""
        ...
