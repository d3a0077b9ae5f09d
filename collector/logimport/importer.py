"""Import DNS and proxy logs: one report per client named in the log, AI lookups only.

Lines are read one at a time and each name is judged as it comes, by the same judge as the
agent's network capture (:func:`signatures.judge_name`: the catalogue, then likely-AI
heuristics); a name that passes neither is dropped at once, so importing never builds anyone's
browsing history.

Whatever the bytes, one bad line costs that line only: it is decoded with undecodable bytes
replaced, cut off past MAX_LINE_BYTES, and a line a parser cannot use is counted (``unparsed``,
or ``malformed`` when it raised MalformedLine), never fatal. What the reports carry is fitted to
the report schema's limits (:func:`signatures.fit_finding`), so the server's own schema accepts
every imported report.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from collector.logimport.errors import LogImportError, MalformedLine, UnknownLogFormat
from collector.logimport.parsers import (
    BindParser,
    DnsmasqParser,
    LineParser,
    Lookup,
    SquidParser,
    WindowsDnsParser,
    ZeekParser,
)
from signatures import (
    MAX_EVIDENCE_ITEM,
    MAX_FINDINGS,
    MAX_USER_LENGTH,
    AgentInfo,
    Finding,
    FindingKind,
    HostInfo,
    Matcher,
    NameVerdict,
    Report,
    ReportKind,
    fit_finding,
    format_time,
    judge_name,
    utcnow,
)

ProgressCallback = Callable[[int, int], None]

FORMATS: tuple[str, ...] = (
    "zeek-dns",
    "zeek-ssl",
    "bind",
    "dnsmasq",
    "pihole",
    "windows-dns",
    "squid",
)
IMPORTER_ID = "shadowmap-logimport"
IMPORTER_VERSION = "1"
MAX_CLIENTS = 100_000
# No log format has lines this long; a longer one is skipped whole (and counted malformed).
MAX_LINE_BYTES = 64 * 1024
# A log names clients by address or host name; a longer name is cut (the host schema's width).
MAX_CLIENT_LENGTH = 255
_PROGRESS_EVERY = 1 << 20  # report progress about once per MiB read


@dataclass(slots=True)
class _Aggregate:
    verdict: NameVerdict
    first: dt.datetime
    last: dt.datetime
    count: int = 0
    details: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ImportStats:
    """What an import read: lines, lookups, and what was kept."""

    lines: int = 0
    lookups: int = 0
    unparsed: int = 0
    malformed: int = 0  # lines skipped as broken: a bad header, longer than MAX_LINE_BYTES
    matched: int = 0  # lookups kept: of a catalogued service, or likely AI
    clients: int = 0


@dataclass(slots=True)
class LogImport:
    """The result of importing one log: the reports to ingest and the counters."""

    reports: list[Report]
    stats: ImportStats


def make_parser(format_name: str, now: dt.datetime) -> LineParser:
    """Return a fresh line parser for a format name; raises UnknownLogFormat."""
    if format_name == "zeek-dns":
        return ZeekParser("dns")
    if format_name == "zeek-ssl":
        return ZeekParser("ssl")
    if format_name == "bind":
        return BindParser()
    if format_name in ("dnsmasq", "pihole"):
        return DnsmasqParser(now)
    if format_name == "windows-dns":
        return WindowsDnsParser()
    if format_name == "squid":
        return SquidParser()
    raise UnknownLogFormat(format_name, FORMATS)


def import_log(
    path: str | Path,
    format_name: str,
    matcher: Matcher,
    *,
    progress: ProgressCallback | None = None,
    now: dt.datetime | None = None,
) -> list[Report]:
    """Parse a log file and return one report per client that looked up AI services.

    Raises UnknownLogFormat for an unsupported format, LogImportError when the file cannot
    be read.
    """
    return read_log(path, format_name, matcher, progress=progress, now=now).reports


def read_log(
    path: str | Path,
    format_name: str,
    matcher: Matcher,
    *,
    progress: ProgressCallback | None = None,
    now: dt.datetime | None = None,
) -> LogImport:
    """Like :func:`import_log`, and also return the import's counters."""
    reference = now or utcnow()
    parser = make_parser(format_name, reference)
    stats = ImportStats()
    clients: dict[str, dict[str, _Aggregate]] = {}
    verdicts: dict[int, NameVerdict | None] = {}  # keyed by the name's hash: no names are kept
    try:
        total = os.path.getsize(path)
        handle = open(path, "rb")
    except OSError as exc:
        raise LogImportError(str(path), exc.strerror or str(exc)) from exc
    done = 0
    next_report = _PROGRESS_EVERY
    try:
        for raw, size in _lines(handle):
            done += size
            stats.lines += 1
            if progress is not None and done >= next_report:
                progress(done, total)
                next_report = done + _PROGRESS_EVERY
            if raw is None:
                stats.malformed += 1
                continue
            line = raw.decode("utf-8", errors="replace")
            try:
                lookup = parser.parse(line)
            except MalformedLine:
                stats.malformed += 1
                continue
            if lookup is None or not lookup.client.strip() or not lookup.name.strip():
                if line.strip() and not line.startswith("#"):
                    stats.unparsed += 1
                continue
            stats.lookups += 1
            key = hash(lookup.name)
            if key in verdicts:
                verdict = verdicts[key]
            else:
                verdict = judge_name(matcher, lookup.name)
                if len(verdicts) > 65536:
                    verdicts.clear()
                verdicts[key] = verdict
            if verdict is None:
                continue
            stats.matched += 1
            _record(clients, lookup, verdict, reference)
    except OSError as exc:
        raise LogImportError(str(path), exc.strerror or str(exc)) from exc
    finally:
        handle.close()
    if progress is not None:
        progress(total, total)
    stats.clients = len(clients)
    reports = [
        _report(client, found, format_name, matcher, reference) for client, found in clients.items()
    ]
    return LogImport(reports=reports, stats=stats)


def _lines(handle: BinaryIO) -> Iterator[tuple[bytes | None, int]]:
    """Yield (line, bytes read) for each line; None for one longer than MAX_LINE_BYTES."""
    while raw := handle.readline(MAX_LINE_BYTES):
        if len(raw) < MAX_LINE_BYTES or raw.endswith(b"\n"):
            yield raw, len(raw)
            continue
        size = len(raw)
        while (rest := handle.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
            size += len(rest)
        yield None, size + len(rest)


def _record(
    clients: dict[str, dict[str, _Aggregate]],
    lookup: Lookup,
    verdict: NameVerdict,
    reference: dt.datetime,
) -> None:
    client = lookup.client[:MAX_CLIENT_LENGTH]
    found = clients.get(client)
    if found is None:
        if len(clients) >= MAX_CLIENTS:
            return
        found = clients[client] = {}
    when = lookup.time or reference
    aggregate = found.get(verdict.name)
    if aggregate is None:
        if len(found) >= MAX_FINDINGS:
            return
        aggregate = found[verdict.name] = _Aggregate(verdict, when, when)
    aggregate.count += 1
    aggregate.first = min(aggregate.first, when)
    aggregate.last = max(aggregate.last, when)
    # Cut to what a report carries before comparing, so two long values that report the
    # same are kept once.
    detail = lookup.detail[:MAX_EVIDENCE_ITEM] if lookup.detail else None
    if detail and detail not in aggregate.details and len(aggregate.details) < 16:
        aggregate.details.append(detail)
    user = lookup.user[:MAX_USER_LENGTH] if lookup.user else None
    if user and user not in aggregate.users and len(aggregate.users) < 16:
        aggregate.users.append(user)


def _report(
    client: str,
    found: dict[str, _Aggregate],
    format_name: str,
    matcher: Matcher,
    reference: dt.datetime,
) -> Report:
    findings = []
    for name, aggregate in found.items():
        verdict = aggregate.verdict
        evidence: dict[str, str | int | float | bool | list[str] | None] = {
            "format": format_name,
            "client": client,
            "domain": name,
            "count": aggregate.count,
            "first_time": format_time(aggregate.first),
            "last_time": format_time(aggregate.last),
        }
        if verdict.matched is not None:
            evidence["matched"] = verdict.matched
        if aggregate.details:
            evidence["details"] = list(aggregate.details)
        if len(aggregate.users) > 1:
            evidence["users"] = list(aggregate.users)
        findings.append(
            fit_finding(
                Finding(
                    kind=FindingKind.LOG,
                    indicator=name,
                    indicator_kind=verdict.indicator_kind.value,
                    service_id=verdict.service_id,
                    confidence=verdict.confidence,
                    heuristic=verdict.heuristic,
                    user=aggregate.users[0] if len(aggregate.users) == 1 else None,
                    evidence=evidence,
                    first_seen=aggregate.first.replace(microsecond=0),
                    last_seen=aggregate.last.replace(microsecond=0),
                )
            )
        )
    return Report(
        report_id=Report.new_id(),
        agent=AgentInfo(
            id=f"{IMPORTER_ID}:{format_name}",
            version=IMPORTER_VERSION,
            catalogue_version=matcher.catalogue.version[:64],
        ),
        host=HostInfo(hostname=client, os="other"),
        generated_at=reference,
        findings=findings,
        kind=ReportKind.FULL,
    )
