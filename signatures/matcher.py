"""Match observed values against the catalogue through compiled indexes.

Domains use a suffix map: a host is looked up once per label boundary, most specific first, so
``evilchatgpt.com`` can never hit ``chatgpt.com``. Host indicators with one wildcard label
(``bedrock-runtime.*.amazonaws.com``) hang off the fixed part after the wildcard and are only
tried when the walk reaches it. Every other exact indicator is a dict lookup. An indicator
claimed by two services is ambiguous and attributed to neither; results never depend on the
order in which files or services were loaded.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from signatures.loader import normalise_process_name
from signatures.model import Catalogue, IndicatorKind

# How much a single match of each kind says on its own. A bare process name or an open port
# is weak: any binary may be called ``cursor`` and any web server may listen on 1234.
CONFIDENCE: Mapping[IndicatorKind, str] = {
    IndicatorKind.BROWSER_EXTENSION: "high",
    IndicatorKind.IDE_EXTENSION: "high",
    IndicatorKind.BUNDLE_ID: "high",
    IndicatorKind.CMDLINE: "high",
    IndicatorKind.EXE_PATH: "high",
    IndicatorKind.PYPI: "high",
    IndicatorKind.NPM: "high",
    IndicatorKind.HOST: "high",
    IndicatorKind.DESKTOP_ENTRY: "high",
    IndicatorKind.SNAP: "high",
    IndicatorKind.FLATPAK: "high",
    IndicatorKind.WINDOWS_APP: "high",
    IndicatorKind.DOMAIN: "medium",
    IndicatorKind.INSTALL_PATH: "medium",
    # A folder a tool writes in a home: specific, but anything could create one of that name.
    IndicatorKind.FOOTPRINT: "medium",
    IndicatorKind.PROCESS: "low",
    IndicatorKind.ENV_VAR: "low",
    IndicatorKind.PORT: "low",
    IndicatorKind.IP_RANGE: "low",
}

_SUBSTRING_KINDS = (IndicatorKind.CMDLINE, IndicatorKind.EXE_PATH, IndicatorKind.INSTALL_PATH)


@dataclass(frozen=True, slots=True)
class Match:
    """A catalogue hit: which service, through which indicator."""

    service_id: str
    kind: IndicatorKind
    indicator: str
    confidence: str


@dataclass(slots=True)
class _Anchor:
    """A DNS suffix that wildcard hosts hang off (and maybe a domain indicator too)."""

    # (text before the wildcard label, wildcard label suffix) -> match (None: ambiguous)
    patterns: dict[tuple[str, str], Match | None] = field(default_factory=dict)
    claimed: bool = False  # a domain indicator also sits at this suffix
    match: Match | None = None  # that domain indicator's match (None: ambiguous)


_MISSING = object()


class Matcher:
    """Compiled indexes over one catalogue."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        owners: dict[IndicatorKind, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        patterns: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = []
        for service in catalogue.services:
            for kind, values in service.indicators.items():
                for value in values:
                    if kind is IndicatorKind.IP_RANGE:
                        networks.append((ipaddress.ip_network(value, strict=False), service.id))
                    elif kind is IndicatorKind.HOST and "*" in value:
                        patterns[_split_pattern(value)].add(service.id)
                    else:
                        owners[kind][_fold(kind, value)].add(service.id)
        self._exact: dict[IndicatorKind, dict[str, Match]] = {}
        for kind, index in owners.items():
            if kind in _SUBSTRING_KINDS:
                continue
            self._exact[kind] = {
                value: Match(next(iter(ids)), kind, value, CONFIDENCE[kind])
                for value, ids in index.items()
                if len(ids) == 1
            }
        # Substring indicators: longest (most specific) first, then by text, so the outcome does
        # not depend on load order; ambiguous fragments are dropped.
        self._substrings: dict[IndicatorKind, tuple[Match, ...]] = {
            kind: tuple(
                Match(next(iter(ids)), kind, value, CONFIDENCE[kind])
                for value, ids in sorted(
                    owners.get(kind, {}).items(), key=lambda item: (-len(item[0]), item[0])
                )
                if len(ids) == 1
            )
            for kind in _SUBSTRING_KINDS
        }
        # Exact hosts, ambiguous ones kept as None so that no broader domain claims them.
        self._hosts: dict[str, object] = {
            value: (
                Match(next(iter(ids)), IndicatorKind.HOST, value, "high") if len(ids) == 1 else None
            )
            for value, ids in owners.get(IndicatorKind.HOST, {}).items()
        }
        # Suffix map: a suffix -> its Match (None when ambiguous), or an _Anchor when wildcard
        # hosts hang off it.
        self._suffixes: dict[str, Match | _Anchor | None] = {
            value: Match(next(iter(ids)), IndicatorKind.DOMAIN, value, "medium")
            if len(ids) == 1
            else None
            for value, ids in owners.get(IndicatorKind.DOMAIN, {}).items()
        }
        for (prefix, label_suffix, anchor), ids in patterns.items():
            node = self._suffixes.get(anchor, _MISSING)
            if not isinstance(node, _Anchor):
                claimed = node is not _MISSING
                node = _Anchor(claimed=claimed, match=node if isinstance(node, Match) else None)
                self._suffixes[anchor] = node
            text = f"{prefix}.*{label_suffix}.{anchor}" if prefix else f"*{label_suffix}.{anchor}"
            node.patterns[(prefix, label_suffix)] = (
                Match(next(iter(ids)), IndicatorKind.HOST, text, "high") if len(ids) == 1 else None
            )
        # The last two labels of every suffix key: a name whose own last two labels are not
        # here cannot match any domain or wildcard host, which settles most misses at once.
        self._bases = frozenset(".".join(key.rsplit(".", 2)[-2:]) for key in self._suffixes)
        self._networks = sorted(networks, key=lambda item: (-item[0].prefixlen, str(item[0])))

    def match_domain(self, name: str) -> Match | None:
        """Return the service a DNS name belongs to, the most specific entry winning."""
        host = name.lower()
        if host.endswith("."):
            host = host.rstrip(".")
        hit = self._hosts.get(host, _MISSING)
        if hit is not _MISSING:
            return hit  # type: ignore[return-value]  # a Match, or None: ambiguous
        last = host.rfind(".")
        if last > 0 and host[host.rfind(".", 0, last) + 1 :] not in self._bases:
            return None
        get = self._suffixes.get
        suffix = host
        start = 0
        while True:
            node = get(suffix, _MISSING)
            if node is not _MISSING:
                if node.__class__ is not _Anchor:
                    return node  # type: ignore[return-value]  # a Match, or None: ambiguous
                anchor = node
                if start:
                    hit = _match_pattern(anchor, host[: start - 1])
                    if hit is not None:
                        return hit
                if anchor.claimed:
                    return anchor.match
            dot = host.find(".", start)
            if dot < 0:
                return None
            start = dot + 1
            suffix = host[start:]

    def match_exact(self, kind: IndicatorKind, value: str) -> Match | None:
        """Return the service owning an exact indicator (extension id, package, bundle id...)."""
        if kind in (IndicatorKind.DOMAIN, IndicatorKind.HOST):
            return self.match_domain(value)
        if kind in _SUBSTRING_KINDS:
            return self._match_substring(kind, value)
        if kind is IndicatorKind.IP_RANGE:
            return self.match_ip(value)
        return self._exact.get(kind, {}).get(_fold(kind, value))

    def match_process(
        self, *, name: str, exe: str | None = None, cmdline: Sequence[str] = ()
    ) -> Match | None:
        """Match a running process by command-line marker, executable path, then name.

        A name-only match has low confidence: anything can be called ``claude``.
        """
        if cmdline:
            hit = self._match_substring(IndicatorKind.CMDLINE, " ".join(cmdline))
            if hit is not None:
                return hit
        if exe:
            hit = self._match_substring(IndicatorKind.EXE_PATH, exe)
            if hit is not None:
                return hit
        return self._exact.get(IndicatorKind.PROCESS, {}).get(normalise_process_name(name))

    def match_path(self, kind: IndicatorKind, path: str) -> Match | None:
        """Match a file path against path-fragment indicators."""
        return self._match_substring(kind, path)

    def match_ip(self, address: str) -> Match | None:
        """Match an address against vendor-published ranges, the narrowest range first."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        for network, service_id in self._networks:
            if ip.version == network.version and ip in network:
                return Match(service_id, IndicatorKind.IP_RANGE, str(network), "low")
        return None

    def values(self, kind: IndicatorKind) -> Iterable[str]:
        """Return every unambiguous indexed value of one kind."""
        if kind in _SUBSTRING_KINDS:
            return [match.indicator for match in self._substrings[kind]]
        return self._exact.get(kind, {}).keys()

    def _match_substring(self, kind: IndicatorKind, text: str) -> Match | None:
        folded = text.lower().replace("\\", "/")
        for match in self._substrings.get(kind, ()):
            if match.indicator in folded and _found_on_boundaries(folded, match.indicator):
                return match
        return None


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _found_on_boundaries(text: str, fragment: str) -> bool:
    """Tell whether a fragment occurs in text without cutting a word in two.

    Only an edge of the fragment that is itself a word character needs a boundary: the marker
    ``goose session`` does not match ``mongoose session``, while ``@modelcontextprotocol/server-``
    still matches ``@modelcontextprotocol/server-filesystem``.
    """
    check_start, check_end = _is_word(fragment[0]), _is_word(fragment[-1])
    start = text.find(fragment)
    while start >= 0:
        end = start + len(fragment)
        if (not check_start or start == 0 or not _is_word(text[start - 1])) and (
            not check_end or end == len(text) or not _is_word(text[end])
        ):
            return True
        start = text.find(fragment, start + 1)
    return False


def _match_pattern(node: _Anchor, head: str) -> Match | None:
    """Try the wildcard hosts anchored at one suffix; ``head`` is the host before it."""
    dot = head.rfind(".")
    label = head[dot + 1 :]
    prefix = head[:dot] if dot >= 0 else ""
    for (want_prefix, label_suffix), match in node.patterns.items():
        if (
            prefix == want_prefix
            and label.endswith(label_suffix)
            and len(label) > len(label_suffix)
        ):
            return match
    return None


def _split_pattern(value: str) -> tuple[str, str, str]:
    """Split ``a.b.*-x.c.d`` into (``a.b``, ``-x``, ``c.d``)."""
    labels = value.split(".")
    index = next(i for i, label in enumerate(labels) if label.startswith("*"))
    return ".".join(labels[:index]), labels[index][1:], ".".join(labels[index + 1 :])


_DISPLAY_NAME_TAIL = re.compile(r"(\s+(version\s+)?v?\d[\w.+-]*|\s*\([^)]*\))+\s*$")


def display_name_stem(display_name: str) -> str:
    """Fold a Windows DisplayName to its product stem: "LM Studio 0.3.17" -> "lm studio"."""
    return _DISPLAY_NAME_TAIL.sub("", display_name.strip()).lower()


def _fold(kind: IndicatorKind, value: str) -> str:
    if kind is IndicatorKind.WINDOWS_APP:
        return display_name_stem(value)
    if kind is IndicatorKind.PROCESS:
        return normalise_process_name(value)
    if kind is IndicatorKind.ENV_VAR:
        return value.upper()
    if kind is IndicatorKind.PYPI:
        # PEP 503 normalisation: runs of -, _ and . are one separator.
        return re.sub(r"[-_.]+", "-", value.lower())
    if kind in _SUBSTRING_KINDS:
        return value.lower().replace("\\", "/")
    if kind in (
        IndicatorKind.DOMAIN,
        IndicatorKind.HOST,
        IndicatorKind.IDE_EXTENSION,
        IndicatorKind.BUNDLE_ID,
        IndicatorKind.NPM,
        IndicatorKind.DESKTOP_ENTRY,
        IndicatorKind.FLATPAK,
    ):
        return value.lower()
    return value
