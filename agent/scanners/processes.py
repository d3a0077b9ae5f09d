"""Running processes: name, executable and command-line markers (psutil)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import psutil

from agent.scanners.base import Observation, ScanContext, ScanItem
from signatures import FindingKind, IndicatorKind

_ATTRS = ["pid", "name", "exe", "cmdline", "username", "ppid", "create_time"]


class ProcessScanner:
    """Yield one observation per process; vanished or protected ones are skipped per field."""

    name = "processes"
    platforms = frozenset({"linux", "darwin", "windows"})
    live = True

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        # process_iter with attrs reads each field once and turns AccessDenied into None.
        for proc in psutil.process_iter(_ATTRS, ad_value=None):
            info = proc.info
            name = info.get("name")
            if not name:
                continue
            cmdline = tuple(info.get("cmdline") or ())
            started = info.get("create_time")
            evidence: dict[str, str | int | None] = {
                "pid": info.get("pid"),
                "ppid": info.get("ppid"),
                "exe": info.get("exe"),
            }
            if started:
                evidence["started_at"] = dt.datetime.fromtimestamp(started, dt.UTC).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                )
            yield Observation(
                kind=FindingKind.PROCESS,
                indicator_kind=IndicatorKind.PROCESS,
                indicator=name,
                user=info.get("username"),
                evidence=evidence,
                hints={"exe": info.get("exe"), "cmdline": cmdline},
            )
