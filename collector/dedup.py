"""Pure dedup rules: which inventory item a finding belongs to, and how sightings merge.

Unknown candidates are grouped by a normalised indicator so that a reviewer sees one candidate
per registrable domain, browser or IDE extension id, or package name, not one row per host.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

import tldextract

from signatures import Catalogue, Finding, FindingKey, FindingKind

# Indicator kinds (and finding channels) whose indicator is a host name.
_DOMAIN_INDICATORS = frozenset({"domain", "host", "sni", "dns"})
_DOMAIN_CHANNELS = frozenset({FindingKind.DNS, FindingKind.SNI, FindingKind.CONNECTION})
_PYPI_SEPARATORS = re.compile(r"[-_.]+")


@dataclass(frozen=True, slots=True)
class ItemIdentity:
    """What the draft inventory item for a finding is, before it exists in the database."""

    key: str
    service_id: str | None
    name: str
    vendor: str
    category: str
    # From the collector's own catalogue, never from the agent (Catalogue.severity_of).
    severity: str = "normal"


@cache
def _public_suffixes() -> tldextract.TLDExtract:
    # The snapshot bundled with tldextract only: no fetch, no cache directory written.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=65536)
def registrable_domain(name: str) -> str:
    """Return the registrable domain of a host name (``api.openai.co.uk`` -> ``openai.co.uk``).

    IP addresses, single labels and bare public suffixes are returned normalised but whole.
    """
    host = name.strip().lower().rstrip(".")
    if host.startswith("*."):
        host = host[2:]
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return host.strip("[]")
    parts = _public_suffixes()(host)
    if parts.domain and parts.suffix:
        return f"{parts.domain}.{parts.suffix}"
    return host


def candidate_indicator(finding: Finding) -> tuple[str, str]:
    """Return the (group, value) an unknown finding is grouped by."""
    kind = finding.indicator_kind.strip().lower()
    value = finding.indicator.strip()
    if kind in _DOMAIN_INDICATORS or (not kind and finding.kind in _DOMAIN_CHANNELS):
        return "domain", registrable_domain(value)
    if kind == "pypi":
        return kind, _PYPI_SEPARATORS.sub("-", value.lower())  # PEP 503 normal form
    return kind or finding.kind.value, value.lower()


def item_identity(finding: Finding, catalogue: Catalogue) -> ItemIdentity:
    """Return the inventory item a finding rolls up into.

    Known services roll up by service id. Unknown candidates group by their normalised
    indicator (see :func:`candidate_indicator`).
    """
    if finding.service_id:
        service = catalogue.get(finding.service_id)
        if service is not None:
            return ItemIdentity(
                key=f"svc:{service.id}",
                service_id=service.id,
                name=service.name,
                vendor=service.vendor,
                category=service.category.value,
                severity=service.severity.value,
            )
        # A service the server's catalogue does not know yet (the agent's is newer).
        return ItemIdentity(
            key=f"svc:{finding.service_id}",
            service_id=finding.service_id,
            name=finding.service_id,
            vendor="",
            category="",
        )
    group, value = candidate_indicator(finding)
    return ItemIdentity(
        key=f"cand:{group[:32]}:{value[:250]}",
        service_id=None,
        name=_candidate_name(finding, group) or value[:255],
        vendor="",
        category="candidate",
    )


# Candidates whose evidence names them better than their indicator (an extension's id).
_NAMED_BY_EVIDENCE = frozenset({"browser_extension", "ide_extension"})


def _candidate_name(finding: Finding, group: str) -> str:
    """Return the name the evidence gives an unknown extension (its manifest's, resolved from
    _locales by the agent), or "" when it gives none."""
    if group not in _NAMED_BY_EVIDENCE:
        return ""
    name = finding.evidence.get("name")
    if not isinstance(name, str) or not name.strip() or name.startswith("__MSG_"):
        return ""
    return " ".join(name.split())[:255]


def merge_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Collapse repeated findings in one report into one, widening the seen window."""
    merged: dict[FindingKey, Finding] = {}
    for finding in findings:
        key = finding.key()
        known = merged.get(key)
        if known is None:
            merged[key] = finding
            continue
        merged[key] = Finding(
            kind=known.kind,
            indicator=known.indicator,
            indicator_kind=known.indicator_kind,
            service_id=known.service_id,
            confidence=known.confidence,
            heuristic=known.heuristic,
            user=known.user,
            evidence=known.evidence,
            first_seen=min(known.first_seen, finding.first_seen),
            last_seen=max(known.last_seen, finding.last_seen),
            severity=known.severity,
        )
    return list(merged.values())
