"""AI tools that leave a folder or a file in the home, however they were installed.

Coding agents and AI CLIs (Claude Code, Codex CLI, Gemini CLI, aider, Goose, opencode...) keep
a configuration folder in the home and are often installed by a native installer rather than a
package manager. Their presence, and when they were last written to, says they are used. Which
paths to look for is catalogue data (each service's ``footprints``), so a new tool is a
catalogue change. Only names, types and modification times are read: never the files'
contents (which hold conversation histories and credentials).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator

from agent.evidence import EvidenceField
from agent.scanners.base import Observation, ScanContext, ScanItem
from agent.scanners.files import Unreadable, unix_time, usable_home
from signatures import Catalogue, FindingKind, IndicatorKind


def catalogue_footprints(catalogue: Catalogue) -> tuple[str, ...]:
    """Return every home-relative path the catalogue's services name as footprints."""
    return tuple(
        sorted(
            {
                footprint
                for service in catalogue.services
                for footprint in service.indicators.get(IndicatorKind.FOOTPRINT, ())
            }
        )
    )


class FootprintScanner:
    """Yield one observation per catalogued AI tool folder or file found in a home."""

    name = "ai_tool_footprints"
    platforms = frozenset({"linux", "darwin", "windows"})
    live = False
    evidence: tuple[EvidenceField, ...] = (
        EvidenceField("path", "text", "Where the footprint was found."),
        EvidenceField("is_directory", "boolean", "A folder (else a file)."),
        EvidenceField(
            "modified_at",
            "timestamp",
            "Last modification time (changes whenever the tool is used).",
            volatile=True,
        ),
    )

    def __init__(self, footprints: Iterable[str]) -> None:
        self.footprints = tuple(footprints)

    @classmethod
    def for_catalogue(cls, catalogue: Catalogue) -> FootprintScanner:
        """Look for the footprints one catalogue names."""
        return cls(catalogue_footprints(catalogue))

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        for user in ctx.users:
            try:
                if not usable_home(user.home):
                    continue
            except Unreadable as problem:
                yield problem.to_error(self.name)
                continue
            for footprint in self.footprints:
                path = os.path.join(user.home, *footprint.split("/"))
                try:
                    info = os.stat(path, follow_symlinks=False)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                except OSError as exc:
                    yield Unreadable(path, f"unreadable: {exc.strerror}").to_error(self.name)
                    continue
                yield Observation(
                    kind=FindingKind.APP,
                    indicator_kind=IndicatorKind.FOOTPRINT,
                    indicator=footprint,
                    user=user.name,
                    evidence={
                        "path": path,
                        "is_directory": stat.S_ISDIR(info.st_mode),
                        "modified_at": unix_time(info.st_mtime),
                    },
                )
