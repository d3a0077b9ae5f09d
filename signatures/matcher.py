"""Match observed values against the catalogue through compiled indexes.

Domains use a suffix map (a host is looked up once per label boundary, most specific first);
every other exact indicator is a dict lookup. An indicator claimed by two services is
ambiguous and attributed to neither.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from signatures.loader import normalise_process_name
from signatures.model import Catalogue, IndicatorKind

# How much a single match of each kind says on its own.
_CONFIDENCE: Mapping[IndicatorKind, str] = {
    IndicatorKind.BROWSER_EXTENSION: "high",
    IndicatorKind.IDE_EXTENSION: "high",
    IndicatorKind.BUNDLE_ID: "high",
    IndicatorKind.CMDLINE: "high",
    IndicatorKind.EXE_PATH: "high",
    IndicatorKind.PYPI: "high",
    IndicatorKind.NPM: "high",
    IndicatorKind.HOST: "high",
    IndicatorKind.DOMAIN: "medium",
    IndicatorKind.PROCESS: "medium",
    IndicatorKind.DESKTOP_ENTRY: "high",
    IndicatorKind.SNAP: "high",
    IndicatorKind.FLATPAK: "high",
    IndicatorKind.WINDOWS_APP: "high",
    IndicatorKind.INSTALL_PATH: "medium",
    IndicatorKind.ENV_VAR: "low",
    IndicatorKind.PORT: "low",
    IndicatorKind.IP_RANGE: "low",
}


@dataclass(frozen=True, slots=True)
class Match:
    """A catalogue hit: which service, through which indicator."""

    service_id: str
    kind: IndicatorKind
    indicator: str
    confidence: str


class Matcher:
    """Compiled indexes over one catalogue."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        owners: dict[IndicatorKind, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._cmdline: list[tuple[str, str]] = []
        self._paths: dict[IndicatorKind, list[tuple[str, str]]] = defaultdict(list)
        networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = []
        for service in catalogue.services:
            for kind, values in service.indicators.items():
                for value in values:
                    if kind is IndicatorKind.CMDLINE:
                        self._cmdline.append((value.lower(), service.id))
                    elif kind in (IndicatorKind.EXE_PATH, IndicatorKind.INSTALL_PATH):
                        self._paths[kind].append((value.lower().replace("\\", "/"), service.id))
                    elif kind is IndicatorKind.IP_RANGE:
                        networks.append((ipaddress.ip_network(value, strict=False), service.id))
                    else:
                        owners[kind][_fold(kind, value)].add(service.id)
        # Exact indexes: value -> the one owning service (None when ambiguous).
        self._exact: dict[IndicatorKind, dict[str, str | None]] = {
            kind: {value: min(ids) if len(ids) == 1 else None for value, ids in index.items()}
            for kind, index in owners.items()
        }
        self._networks = networks
        self._domains = self._exact.get(IndicatorKind.DOMAIN, {})
        self._hosts = self._exact.get(IndicatorKind.HOST, {})

    def match_domain(self, name: str) -> Match | None:
        """Return the service a DNS name belongs to, the most specific entry winning."""
        host = name.lower().rstrip(".")
        if not host:
            return None
        owner = self._hosts.get(host)
        if owner is not None:
            return Match(owner, IndicatorKind.HOST, host, "high")
        domains = self._domains
        suffix = host
        while True:
            if suffix in domains:
                owner = domains[suffix]
                if owner is None:
                    return None  # ambiguous at the most specific level: attribute to nobody
                return Match(owner, IndicatorKind.DOMAIN, suffix, "medium")
            dot = suffix.find(".")
            if dot < 0:
                return None
            suffix = suffix[dot + 1 :]

    def match_exact(self, kind: IndicatorKind, value: str) -> Match | None:
        """Return the service owning an exact indicator (extension id, package, bundle id...)."""
        folded = _fold(kind, value)
        owner = self._exact.get(kind, {}).get(folded)
        if owner is None:
            return None
        return Match(owner, kind, folded, _CONFIDENCE[kind])

    def match_process(
        self, *, name: str, exe: str | None = None, cmdline: Sequence[str] = ()
    ) -> Match | None:
        """Match a running process by command-line marker, executable path, then name."""
        if cmdline:
            joined = " ".join(cmdline).lower().replace("\\", "/")
            for marker, service_id in self._cmdline:
                if marker in joined:
                    return Match(service_id, IndicatorKind.CMDLINE, marker, "high")
        if exe:
            hit = self.match_path(IndicatorKind.EXE_PATH, exe)
            if hit is not None:
                return hit
        return self.match_exact(IndicatorKind.PROCESS, name)

    def match_path(self, kind: IndicatorKind, path: str) -> Match | None:
        """Match a file path against path-fragment indicators."""
        folded = path.lower().replace("\\", "/")
        for fragment, service_id in self._paths.get(kind, ()):
            if fragment in folded:
                return Match(service_id, kind, fragment, _CONFIDENCE[kind])
        return None

    def match_ip(self, address: str) -> Match | None:
        """Match an address against vendor-published ranges."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        for network, service_id in self._networks:
            if ip.version == network.version and ip in network:
                return Match(service_id, IndicatorKind.IP_RANGE, str(network), "low")
        return None

    def values(self, kind: IndicatorKind) -> Iterable[str]:
        """Return every indexed value of one exact kind."""
        return self._exact.get(kind, {}).keys()


def _fold(kind: IndicatorKind, value: str) -> str:
    if kind is IndicatorKind.PROCESS:
        return normalise_process_name(value)
    if kind is IndicatorKind.ENV_VAR:
        return value.upper()
    if kind is IndicatorKind.PYPI:
        # PEP 503 normalisation: runs of -, _ and . are one separator.
        return re.sub(r"[-_.]+", "-", value.lower())
    if kind in (IndicatorKind.DOMAIN, IndicatorKind.HOST, IndicatorKind.IDE_EXTENSION,
                IndicatorKind.BUNDLE_ID, IndicatorKind.NPM):
        return value.lower()
    return value
