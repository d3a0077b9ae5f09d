"""Which AI host name an IP address belongs to, for as long as DNS says so.

Two sources fill one :class:`AddressBook`: the catalogue's exact host names, which the book
resolves itself (dnspython, or an injected resolver) and keeps for each answer's TTL, so that
repeated scans do not repeat lookups; and DNS answers that network capture sees on the wire,
each with the service its name matched. The connections and processes scanners ask it to name
the remote end of an open connection; the capture's observer fills it as answers pass by.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from signatures import Catalogue, IndicatorKind

# Resolve one name to (addresses, ttl seconds); raise LookupError when it cannot.
Resolve = Callable[[str], tuple[list[str], int]]
MIN_TTL = 60
MAX_TTL = 86_400
NEGATIVE_TTL = 300  # failures and empty answers are asked again after this long


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
    ttl = MAX_TTL
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
    return addresses, ttl if addresses else NEGATIVE_TTL


def catalogue_hosts(catalogue: Catalogue) -> list[str]:
    """Return the catalogue's exact API host names (wildcard hosts cannot be resolved)."""
    return sorted(
        {
            host
            for service in catalogue.services
            for host in service.indicators.get(IndicatorKind.HOST, ())
            if "*" not in host
        }
    )


class AddressBook:
    """Map addresses to the AI host names (and services) they served, each until its TTL ends.

    ``names`` are resolved by :meth:`refresh`; :meth:`add` records an answer seen elsewhere.
    An answer seen on the wire names its service and wins over a resolved name; among resolved
    names the first in order wins. Answers seen on the wire are bounded to ``max_entries``,
    the oldest evicted first.
    """

    def __init__(
        self,
        names: Iterable[str] = (),
        *,
        resolve: Resolve = dns_resolve,
        clock: Callable[[], float] = time.time,
        max_entries: int = 4096,
        min_ttl: int = MIN_TTL,
        max_ttl: int = MAX_TTL,
    ) -> None:
        self.names = tuple(sorted(set(names)))
        self.resolve = resolve
        self.clock = clock
        self._max = max_entries
        self._min_ttl = min_ttl
        self._max_ttl = max_ttl
        # name -> (expiry, addresses) for the names this book resolves itself
        self._resolved: dict[str, tuple[float, list[str]]] = {}
        # address -> (service id, name, expiry) for answers seen on the wire
        self._seen: OrderedDict[str, tuple[str | None, str, float]] = OrderedDict()

    def _expiry(self, now: float, ttl: int) -> float:
        return now + min(max(ttl, self._min_ttl), self._max_ttl)

    def refresh(self) -> list[str]:
        """Resolve every name whose cached answer expired; return the names that failed.

        A failed name keeps its last addresses, and is not asked again for NEGATIVE_TTL.
        """
        now = self.clock()
        failed: list[str] = []
        for name in self.names:
            cached = self._resolved.get(name)
            if cached is not None and cached[0] > now:
                continue
            try:
                addresses, ttl = self.resolve(name)
            except LookupError:
                failed.append(name)
                self._resolved[name] = (now + NEGATIVE_TTL, cached[1] if cached else [])
                continue
            self._resolved[name] = (self._expiry(now, ttl), addresses)
        return failed

    def add(self, address: str, service_id: str | None, name: str, ttl: int, now: float) -> None:
        """Remember that ``address`` served ``name`` (of ``service_id``) until the TTL ends."""
        self._seen.pop(address, None)
        self._seen[address] = (service_id, name, self._expiry(now, ttl))
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)

    def lookup(self, address: str, now: float | None = None) -> tuple[str | None, str] | None:
        """Return (service id or None, host name) for an address still within its TTL."""
        moment = self.clock() if now is None else now
        seen = self._seen.get(address)
        if seen is not None:
            if seen[2] >= moment:
                return seen[0], seen[1]
            del self._seen[address]
        for name in self.names:
            cached = self._resolved.get(name)
            if cached is not None and address in cached[1]:
                return None, name
        return None

    def index(self, now: float | None = None) -> dict[str, str]:
        """Return address -> host name for every answer still valid."""
        moment = self.clock() if now is None else now
        by_address: dict[str, str] = {}
        for name in self.names:
            for address in self._resolved.get(name, (0.0, []))[1]:
                by_address.setdefault(address, name)
        for address, (_service, name, expiry) in self._seen.items():
            if expiry >= moment:
                by_address[address] = name
        return by_address

    def __len__(self) -> int:
        return len(self._seen) + sum(
            len(addresses) for _expiry, addresses in self._resolved.values()
        )
