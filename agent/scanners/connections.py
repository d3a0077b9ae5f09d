"""Open connections from local processes to AI endpoints.

Remote addresses are matched two ways: against vendor-published address ranges (by the
runner), and against the addresses that catalogue host names resolve to. Resolution goes
through an :class:`AddressBook` that asks DNS (dnspython, or an injected resolver) and keeps
each answer for its TTL, so repeated scans do not repeat lookups.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psutil

from agent.scanners.base import Observation, ScanContext, ScanItem
from signatures import Catalogue, EvidenceValue, FindingKind, IndicatorKind, ScannerError

# Resolve one name to (addresses, ttl seconds); raise LookupError when it cannot.
Resolve = Callable[[str], tuple[list[str], int]]
_MIN_TTL = 60
_MAX_TTL = 86_400
_NEGATIVE_TTL = 300
ACTIVE_STATES = frozenset({psutil.CONN_ESTABLISHED, psutil.CONN_SYN_SENT})


def dns_resolve(
    name: str, *, nameservers: list[str] | None = None, port: int = 53, lifetime: float = 2.0
) -> tuple[list[str], int]:
    """Resolve A and AAAA records with dnspython. Raises LookupError."""
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=nameservers is None)
    if nameservers is not None:
        resolver.nameservers = list(nameservers)
        resolver.port = port
    addresses: list[str] = []
    ttl = _MAX_TTL
    for rdtype in ("A", "AAAA"):
        try:
            answer = resolver.resolve(name, rdtype, lifetime=lifetime)
        except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
            continue
        except dns.exception.DNSException as exc:
            raise LookupError(f"{name}: {exc}") from exc
        if answer.rrset is not None:
            ttl = min(ttl, answer.rrset.ttl)
            addresses += [record.to_text() for record in answer]
    return addresses, ttl if addresses else _NEGATIVE_TTL


def catalogue_hosts(catalogue: Catalogue) -> list[str]:
    """Return the host names and domains a catalogue names, for an :class:`AddressBook`."""
    names: set[str] = set()
    for service in catalogue.services:
        for kind in (IndicatorKind.HOST, IndicatorKind.DOMAIN):
            names.update(service.indicators.get(kind, ()))
    return sorted(names)


@dataclass
class AddressBook:
    """Which catalogue host names an address belongs to, resolved lazily and cached by TTL."""

    names: tuple[str, ...] = ()
    resolve: Resolve = dns_resolve
    clock: Callable[[], float] = time.monotonic
    _cache: dict[str, tuple[float, list[str]]] = field(default_factory=dict)

    @classmethod
    def for_hosts(cls, hosts: Iterable[str], resolve: Resolve = dns_resolve) -> AddressBook:
        """Build a book for host names (a catalogue's ``hosts`` and ``domains``)."""
        return cls(names=tuple(sorted(set(hosts))), resolve=resolve)

    def refresh(self) -> list[str]:
        """Resolve every name whose cached answer expired; return the names that failed."""
        now = self.clock()
        failed: list[str] = []
        for name in self.names:
            cached = self._cache.get(name)
            if cached is not None and cached[0] > now:
                continue
            try:
                addresses, ttl = self.resolve(name)
            except LookupError:
                failed.append(name)
                self._cache[name] = (now + _NEGATIVE_TTL, cached[1] if cached else [])
                continue
            self._cache[name] = (now + max(_MIN_TTL, min(ttl, _MAX_TTL)), addresses)
        return failed

    def index(self) -> dict[str, str]:
        """Return address -> host name for the cached answers (first name wins)."""
        by_address: dict[str, str] = {}
        for name, (_expiry, addresses) in sorted(self._cache.items()):
            for address in addresses:
                by_address.setdefault(address, name)
        return by_address


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

    def __init__(self, book: AddressBook | None = None, *, public_only: bool = True) -> None:
        self.book = book or AddressBook()
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
