"""Open connections from local processes to AI endpoints.

Remote addresses are matched two ways: against vendor-published address ranges (by the
runner), and against the host names an :class:`~agent.addressbook.AddressBook` knows for them
(catalogue host names it resolved, each answer kept for its TTL).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psutil

from agent.addressbook import AddressBook
from agent.evidence import EvidenceField
from agent.scanners.base import Observation, ScanContext, ScanItem
from signatures import EvidenceValue, FindingKind, IndicatorKind, ScannerError

ACTIVE_STATES = frozenset({psutil.CONN_ESTABLISHED, psutil.CONN_SYN_SENT})


@dataclass(frozen=True, slots=True)
class _Owner:
    name: str | None
    exe: str | None
    user: str | None


class ConnectionScanner:
    """Yield one observation per (process, remote endpoint) of open TCP connections."""

    name = "connections"
    platforms = frozenset({"linux", "darwin", "windows"})
    live = True
    evidence: tuple[EvidenceField, ...] = (
        EvidenceField("process", "text", "Name of the process that holds the connection."),
        EvidenceField("pid", "integer", "Its process id.", volatile=True),
        EvidenceField("exe", "text", "Its executable path."),
        EvidenceField(
            "remote_address",
            "text",
            "The peer's IP address (a host's addresses rotate between scans).",
            volatile=True,
        ),
        EvidenceField("remote_port", "integer", "The peer's TCP port."),
        EvidenceField("remote_host", "text", "The AI host name the address book knows it by."),
    )

    def __init__(self, book: AddressBook | None = None, *, public_only: bool = True) -> None:
        self.book = book if book is not None else AddressBook()
        self.public_only = public_only

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        for name in self.book.refresh():
            yield ScannerError(scanner=self.name, message=f"cannot resolve {name}")
        hosts = self.book.index()
        try:
            connections = ctx.shared("sockets", sockets)
        except (psutil.AccessDenied, OSError) as exc:
            yield ScannerError(scanner=self.name, message=f"cannot list connections: {exc!r}")
            return
        owners: dict[int, _Owner] = {}
        seen: set[tuple[int | None, str, int]] = set()
        for conn in connections:
            if conn.status not in ACTIVE_STATES or not conn.raddr:
                continue
            address, port = conn.raddr.ip, conn.raddr.port
            if self.public_only and not is_public(address):
                continue
            key = (conn.pid, address, port)
            if key in seen:
                continue
            seen.add(key)
            owner = _owner(owners, conn.pid)
            host = hosts.get(address)
            evidence: dict[str, EvidenceValue] = {
                "process": owner.name,
                "pid": conn.pid,
                "exe": owner.exe,
                "remote_address": address,
                "remote_port": port,
                "remote_host": host,
            }
            yield Observation(
                kind=FindingKind.CONNECTION,
                indicator_kind=IndicatorKind.HOST if host else IndicatorKind.IP_RANGE,
                indicator=host or address,
                user=owner.user,
                evidence=evidence,
                hints={"exe": owner.exe, "remote_hosts": [host] if host else []},
            )


def sockets() -> list[Any]:
    """Read the TCP/UDP socket table once (psutil walks every process's descriptors for it)."""
    return list(psutil.net_connections(kind="inet"))


def is_public(address: str) -> bool:
    """Return True for a globally routable address (not loopback, private, link-local)."""
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_global
    except ValueError:
        return False


def _owner(cache: dict[int, _Owner], pid: int | None) -> _Owner:
    if not pid:
        return _Owner(None, None, None)
    if pid in cache:
        return cache[pid]
    name = exe = user = None
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            name = proc.name()
            try:
                exe = proc.exe() or None
            except psutil.AccessDenied:
                exe = None
            try:
                user = proc.username()
            except (psutil.AccessDenied, KeyError):
                user = None
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass
    cache[pid] = _Owner(name, exe, user)
    return cache[pid]
