"""Running processes: name, executable, command-line markers, user, parent and start time,
and the installed package each interpreter or packaged binary runs.

One ``psutil.process_iter`` pass with the attributes it needs (psutil reads them under
``oneshot``), shared with the package scanner; a process that vanishes or denies a field loses
that field, never the scan. The command line goes to matching as a hint; evidence keeps only a
redacted copy. For ``node``/``python``/``bun``/``deno``/``uvx``/``npx``/``pipx run`` processes
and binaries inside ``node_modules`` or a virtualenv, :mod:`agent.scanners.owners` resolves the
program to the package that owns it; the candidates (innermost first) go to matching as the
``packages`` hint, and a problem resolving one process is that process's scanner error.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from agent.addressbook import AddressBook
from agent.evidence import EvidenceField
from agent.privacy import redact_args
from agent.scanners.base import Observation, ScanContext, ScanItem
from agent.scanners.connections import ACTIVE_STATES, is_public, sockets
from agent.scanners.owners import owners_for
from signatures import EvidenceValue, FindingKind, IndicatorKind, ScannerError

# On Linux the owner comes from /proc/<pid>'s uid (a stat) rather than psutil's username,
# which parses /proc/<pid>/status for every process and costs more than everything else.
_ATTRS = ["pid", "name", "exe", "cmdline", "ppid", "create_time"]
_PROC = Path("/proc")


def _started_at(seconds: object) -> str | None:
    if not isinstance(seconds, int | float) or seconds <= 0:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Owners:
    """Map a process to its owner's name through the uid of /proc/<pid>, cached per uid."""

    def __init__(self, *, use_proc: bool) -> None:
        self.use_proc = use_proc
        self._names: dict[int, str | None] = {}

    def of(self, pid: int) -> str | None:
        try:
            uid = os.stat(_PROC / str(pid)).st_uid
        except OSError:
            return None  # gone already
        if uid not in self._names:
            self._names[uid] = _user_name(uid)
        return self._names[uid]


def _user_name(uid: int) -> str | None:
    try:
        import pwd
    except ImportError:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)  # no name in the user database: the uid is what there is


def _remote_peers(ctx: ScanContext, book: AddressBook | None) -> dict[int, list[str]]:
    """Return pid -> public peers it talks to (host names where the book knows them)."""
    try:
        connections = ctx.shared("sockets", sockets)
    except (psutil.AccessDenied, OSError):
        return {}  # the connections scanner reports this; here the hints are a bonus
    names = book.index() if book is not None else {}
    peers: dict[int, list[str]] = {}
    for conn in connections:
        if conn.pid is None or not conn.raddr or conn.status not in ACTIVE_STATES:
            continue
        address = conn.raddr.ip
        if not is_public(address):
            continue
        known = peers.setdefault(conn.pid, [])
        peer = names.get(address, address)
        if peer not in known and len(known) < 64:
            known.append(peer)
    return peers


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


class ProcessScanner:
    """Yield one observation per running process."""

    name = "processes"
    platforms = frozenset({"linux", "darwin", "windows"})
    live = True
    evidence: tuple[EvidenceField, ...] = (
        EvidenceField("process", "text", "Process name."),
        EvidenceField("pid", "integer", "Process id (new at every start).", volatile=True),
        EvidenceField("ppid", "integer", "Parent process id.", volatile=True),
        EvidenceField("parent", "text", "Parent process name."),
        EvidenceField("exe", "text", "Executable path."),
        EvidenceField(
            "started_at",
            "timestamp",
            "When the process started (new at every start).",
            volatile=True,
        ),
        EvidenceField("args", "text list", "Arguments after the program, redacted."),
    )

    def __init__(self, book: AddressBook | None = None) -> None:
        # The connections scanner's address book, when shared, names the remote hosts.
        self.book = book

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        remotes = _remote_peers(ctx, self.book)
        table = process_table(ctx)
        names = table.names
        owners = owners_for(ctx)
        for info in table.infos:
            name = info.get("name")
            if not isinstance(name, str) or not name:
                continue
            raw_cmdline = info.get("cmdline")
            cmdline = (
                tuple(str(part) for part in raw_cmdline)
                if isinstance(raw_cmdline, list | tuple)
                else ()
            )
            exe = _str(info.get("exe"))
            ppid = _int(info.get("ppid"))
            username = _str(info.get("username"))
            pid = _int(info.get("pid"))
            evidence: dict[str, EvidenceValue] = {
                "process": name,
                "pid": pid,
                "ppid": ppid,
                "parent": names.get(ppid) if ppid is not None else None,
                "exe": exe,
                "started_at": _started_at(info.get("create_time")),
            }
            if len(cmdline) > 1:
                evidence["args"] = redact_args(cmdline[1:])
            packages: list[tuple[str, str, str | None, str | None]] = []
            if owners.wants(name=name, exe=exe, cmdline=cmdline):
                owned = owners.of_process(pid=pid, name=name, exe=exe, cmdline=cmdline)
                packages = [
                    (package.ecosystem, package.name, package.version, package.path)
                    for package in owned.packages
                ]
                for problem in owned.problems:
                    error = problem.to_error(self.name)
                    yield ScannerError(
                        scanner=error.scanner,
                        message=f"process {pid} ({name}): {error.message}"[:500],
                        path=error.path,
                    )
            yield Observation(
                kind=FindingKind.PROCESS,
                indicator_kind=IndicatorKind.PROCESS,
                indicator=name,
                user=username,
                evidence=evidence,
                hints={
                    "exe": exe,
                    "cmdline": cmdline,
                    "remote_hosts": remotes.get(pid, []) if pid is not None else [],
                    "packages": packages,
                },
            )


@dataclass(frozen=True, slots=True)
class ProcessTable:
    """One reading of the running processes (this agent's own left out)."""

    infos: list[dict[str, object]]
    names: dict[int, str]  # pid -> name, the agent included (for parent names)


def process_table(ctx: ScanContext) -> ProcessTable:
    """Return the scan's one reading of the process table (shared by every scanner asking)."""
    return ctx.shared("process_table", lambda: _read_process_table(ctx))


def _read_process_table(ctx: ScanContext) -> ProcessTable:
    own = os.getpid()
    names: dict[int, str] = {}
    infos: list[dict[str, object]] = []
    owners = _Owners(use_proc=ctx.platform == "linux" and _PROC.is_dir())
    attrs = _ATTRS if owners.use_proc else [*_ATTRS, "username"]
    # process_iter with attrs reads each field once (under oneshot) and turns AccessDenied
    # into None; a process that exits mid-iteration is skipped by psutil itself.
    for proc in psutil.process_iter(attrs, ad_value=None):
        info = proc.info
        if owners.use_proc:
            info["username"] = owners.of(proc.pid)
        pid = info.get("pid")
        name = info.get("name")
        if isinstance(pid, int) and isinstance(name, str):
            names[pid] = name
        if pid != own:
            infos.append(info)
    return ProcessTable(infos=infos, names=names)
