"""Pure dedup rules: which inventory item a finding belongs to, and how sightings merge."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from signatures import Catalogue, Finding


@dataclass(frozen=True, slots=True)
class ItemIdentity:
    """What the draft inventory item for a finding is, before it exists in the database."""

    key: str
    service_id: str | None
    name: str
    vendor: str
    category: str


def item_identity(finding: Finding, catalogue: Catalogue) -> ItemIdentity:
    """Return the inventory item a finding rolls up into.

    Known services roll up by service id. Unknown candidates group by their indicator, so a
    reviewer sees one candidate per extension id, package or domain, not one row per host.
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
            )
        # A service the server's catalogue does not know yet (the agent's is newer).
        return ItemIdentity(
            key=f"svc:{finding.service_id}",
            service_id=finding.service_id,
            name=finding.service_id,
            vendor="",
            category="",
        )
    indicator = finding.indicator.strip().lower()[:250]
    return ItemIdentity(
        key=f"cand:{finding.indicator_kind}:{indicator}",
        service_id=None,
        name=finding.indicator[:255],
        vendor="",
        category="candidate",
    )


def sighting_key(finding: Finding) -> tuple[str, str, str]:
    """Return what makes a finding the same sighting on one host (with the item key)."""
    return (finding.kind.value, finding.indicator[:1024], (finding.user or "")[:256])


def merge_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Collapse repeated findings in one report into one, widening the seen window."""
    merged: dict[tuple[str, str, str, str], Finding] = {}
    for finding in findings:
        key = (finding.service_id or "", *sighting_key(finding))
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
        )
    return list(merged.values())
