"""Exports of the inventory (the register joins as another dataset): native JSON, CSV and
CycloneDX 1.6 through cyclonedx-python-lib, each a pure function of rows and the catalogue.

CycloneDX: each inventory item is a ``service`` (AI tools are mostly SaaS) with its
provider, endpoints from the catalogue's domains, one outbound data flow whose
classification is "unclassified" until the register records data classes, and Shadowmap's
fields as ``shadowmap:*`` properties; ``metadata.lifecycles`` is the "discovery" phase.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cyclonedx.model import DataClassification, DataFlow, Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.contact import OrganizationalEntity
from cyclonedx.model.lifecycle import LifecyclePhase, PredefinedLifecycle
from cyclonedx.model.service import Service
from cyclonedx.output.json import JsonV1Dot6

from collector.store import InventoryRow
from server import __version__
from signatures import Catalogue, IndicatorKind

EXPORT_VERSION = 1
CSV_COLUMNS = (
    "id", "key", "service_id", "name", "vendor", "category", "state", "host_count",
    "user_count", "sighting_count", "evidence_kinds", "first_seen_at", "last_seen_at",
)  # fmt: skip


def _item_record(row: InventoryRow) -> dict[str, Any]:
    item = row.item
    return {
        "id": item.id,
        "key": item.key,
        "service_id": item.service_id,
        "name": item.name,
        "vendor": item.vendor,
        "category": item.category,
        "state": item.state,
        "host_count": row.host_count,
        "user_count": row.user_count,
        "sighting_count": row.sighting_count,
        "evidence_kinds": list(row.evidence_kinds),
        "first_seen_at": item.first_seen_at.isoformat(),
        "last_seen_at": item.last_seen_at.isoformat(),
    }


def inventory_json(rows: Sequence[InventoryRow], catalogue: Catalogue) -> bytes:
    """Return the native JSON export: a versioned envelope around every item."""
    document = {
        "format": "shadowmap.inventory",
        "version": EXPORT_VERSION,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "catalogue_version": catalogue.version,
        "items": [_item_record(row) for row in rows],
    }
    return json.dumps(document, indent=2).encode()


def _cell(value: object) -> str:
    text = " ".join(value) if isinstance(value, list) else str(value if value is not None else "")
    # Text from endpoints must not become a spreadsheet formula (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def inventory_csv(rows: Sequence[InventoryRow], catalogue: Catalogue) -> bytes:
    """Return the flat CSV export, one item per line."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        record = _item_record(row)
        writer.writerow([_cell(record[column]) for column in CSV_COLUMNS])
    return out.getvalue().encode()


def inventory_cyclonedx(rows: Sequence[InventoryRow], catalogue: Catalogue) -> bytes:
    """Return the inventory as a CycloneDX 1.6 JSON BOM of services (phase "discovery")."""
    bom = Bom()
    bom.metadata.lifecycles = [PredefinedLifecycle(LifecyclePhase.DISCOVERY)]
    bom.metadata.component = Component(
        name="AI services in use", type=ComponentType.APPLICATION, bom_ref="shadowmap:inventory"
    )
    bom.metadata.properties.add(Property(name="shadowmap:version", value=__version__))
    bom.metadata.properties.add(
        Property(name="shadowmap:catalogue_version", value=catalogue.version)
    )
    for row in rows:
        item = row.item
        known = catalogue.get(item.service_id) if item.service_id else None
        domains: tuple[str, ...] = ()
        if known is not None:
            domains = known.indicators.get(IndicatorKind.DOMAIN, ()) + known.indicators.get(
                IndicatorKind.HOST, ()
            )
        properties = [
            Property(name="shadowmap:inventory:key", value=item.key),
            Property(name="shadowmap:inventory:state", value=item.state),
            Property(name="shadowmap:inventory:category", value=item.category or "unknown"),
            Property(name="shadowmap:inventory:host_count", value=str(row.host_count)),
            Property(name="shadowmap:inventory:user_count", value=str(row.user_count)),
            Property(
                name="shadowmap:inventory:first_seen_at", value=item.first_seen_at.isoformat()
            ),
            Property(name="shadowmap:inventory:last_seen_at", value=item.last_seen_at.isoformat()),
        ]
        if item.service_id:
            properties.append(
                Property(name="shadowmap:catalogue:service_id", value=item.service_id)
            )
        if known is not None:
            risk = known.risk
            properties += [
                Property(name="shadowmap:risk:trains_on_user_data", value=risk.trains_on_user_data),
                Property(name="shadowmap:risk:zero_retention", value=risk.zero_retention),
                Property(name="shadowmap:risk:hq_country", value=risk.hq_country),
            ]
        for kind in row.evidence_kinds:
            properties.append(Property(name="shadowmap:evidence_kind", value=kind))
        bom.services.add(
            Service(
                name=item.name,
                bom_ref=f"shadowmap:inventory-item:{item.id}",
                provider=OrganizationalEntity(name=item.vendor) if item.vendor else None,
                endpoints=[XsUri(f"https://{domain}") for domain in sorted(domains)[:20]],
                data=[DataClassification(flow=DataFlow.OUTBOUND, classification="unclassified")],
                properties=properties,
            )
        )
    return JsonV1Dot6(bom).output_as_string(indent=2).encode()


@dataclass(frozen=True, slots=True)
class ExportFormat:
    name: str
    media_type: str
    extension: str
    build: Callable[[Sequence[InventoryRow], Catalogue], bytes]


#: Inventory export formats by name; the register adds its own table the same way.
INVENTORY_FORMATS = {
    "json": ExportFormat("json", "application/json", "json", inventory_json),
    "csv": ExportFormat("csv", "text/csv", "csv", inventory_csv),
    "cyclonedx": ExportFormat(
        "cyclonedx", "application/vnd.cyclonedx+json", "cdx.json", inventory_cyclonedx
    ),
}
