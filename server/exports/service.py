"""Exports of the inventory and of the AI register: native JSON, CSV and CycloneDX 1.6
through cyclonedx-python-lib, each a pure function of rows and the catalogue.

CycloneDX, inventory: each inventory item is a ``service`` (AI tools are mostly SaaS) with
its provider, endpoints from the catalogue's domains, one outbound data flow whose
classification is "unclassified" until the register records data classes, and Shadowmap's
fields as ``shadowmap:*`` properties; ``metadata.lifecycles`` is the "discovery" phase.

CycloneDX, register: each register entry is a ``service`` with its supplier as provider,
one outbound data flow per data class the entry records (classification = the class), its
evidence links as ``evidence`` references and its governance fields (status, risk level,
decision, owners, next review, ...) as ``shadowmap:register:*`` properties; the lifecycles
are "discovery" and "operations".
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cyclonedx.model import (
    DataClassification,
    DataFlow,
    ExternalReference,
    ExternalReferenceType,
    Property,
    XsUri,
)
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.contact import OrganizationalEntity
from cyclonedx.model.lifecycle import LifecyclePhase, PredefinedLifecycle
from cyclonedx.model.service import Service
from cyclonedx.output.json import JsonV1Dot6
from sqlalchemy.orm import Session

from collector.store import inventory, register
from collector.store.inventory import InventoryRow
from collector.store.register import RegisterEntry
from server import __version__
from server.register.schemas import entry_out
from signatures import Catalogue, IndicatorKind

EXPORT_VERSION = 1
_PAGE = 500
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


def csv_cell(value: object) -> str:
    """Return a value as CSV cell text that no spreadsheet runs as a formula."""
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
        writer.writerow([csv_cell(record[column]) for column in CSV_COLUMNS])
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


def all_inventory_rows(session: Session, *, state: str | None = None) -> list[InventoryRow]:
    """Return every inventory row (optionally in one triage state), read page by page."""
    rows: list[InventoryRow] = []
    while True:
        page = inventory.list_inventory(session, state=state, limit=_PAGE, offset=len(rows))
        rows.extend(page)
        if len(page) < _PAGE:
            return rows


# The register --------------------------------------------------------------------------------

#: The register's CSV columns: every field of an entry as the API returns it.
REGISTER_CSV_COLUMNS = (
    "register_id", "title", "status", "ai_system", "supplier", "business_unit", "purpose",
    "business_owner", "technical_owner", "data_classes", "personal_data", "risk_level",
    "risk_rationale", "decision", "decision_conditions", "decision_rationale", "decided_by",
    "decided_at", "controls", "review_cadence_months", "last_reviewed_on", "next_review_on",
    "dpia_screening", "supplier_review", "eu_ai_act_class", "human_oversight", "scope_status",
    "scope_rationale", "evidence_links", "version", "created_at", "updated_at",
)  # fmt: skip


def all_register_entries(session: Session, *, status: str | None = None) -> list[RegisterEntry]:
    """Return every register entry (optionally in one status), read page by page."""
    entries: list[RegisterEntry] = []
    while True:
        page = register.list_register_entries(
            session, statuses=[status] if status else None, limit=_PAGE, offset=len(entries)
        )
        entries.extend(page)
        if len(page) < _PAGE:
            return entries


def register_record(entry: RegisterEntry) -> dict[str, Any]:
    """Return one entry as plain JSON values (as GET /api/v1/register/{id} returns it)."""
    record: dict[str, Any] = entry_out(entry).model_dump(mode="json")
    return record


def register_json(entries: Sequence[RegisterEntry], catalogue: Catalogue) -> bytes:
    """Return the native JSON export of the register: a versioned envelope around entries."""
    document = {
        "format": "shadowmap.register",
        "version": EXPORT_VERSION,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "entries": [register_record(entry) for entry in entries],
    }
    return json.dumps(document, indent=2, ensure_ascii=False).encode()


def register_csv(entries: Sequence[RegisterEntry], catalogue: Catalogue) -> bytes:
    """Return the flat CSV register, one entry per line, formula-safe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REGISTER_CSV_COLUMNS)
    for entry in entries:
        record = register_record(entry)
        writer.writerow([csv_cell(record[column]) for column in REGISTER_CSV_COLUMNS])
    return out.getvalue().encode()


def _register_properties(entry: RegisterEntry) -> list[Property]:
    values = {
        "id": entry.register_id,
        "title": entry.title,
        "status": entry.status,
        "risk_level": entry.risk_level,
        "decision": entry.decision,
        "decided_by": entry.decided_by,
        "decided_at": entry.decided_at.isoformat() if entry.decided_at else None,
        "business_owner": entry.business_owner,
        "technical_owner": entry.technical_owner,
        "business_unit": entry.business_unit,
        "last_reviewed_on": entry.last_reviewed_on.isoformat() if entry.last_reviewed_on else None,
        "next_review_on": entry.next_review_on.isoformat() if entry.next_review_on else None,
        "review_cadence_months": str(entry.review_cadence_months),
        "personal_data": "true" if entry.personal_data else "false",
        "dpia_screening": entry.dpia_screening,
        "supplier_review": entry.supplier_review,
        "eu_ai_act_class": entry.eu_ai_act_class,
        "human_oversight": entry.human_oversight,
        "scope_status": entry.scope_status,
    }
    return [
        Property(name=f"shadowmap:register:{name}", value=value)
        for name, value in values.items()
        if value
    ]


def register_cyclonedx(entries: Sequence[RegisterEntry], catalogue: Catalogue) -> bytes:
    """Return the register as a CycloneDX 1.6 JSON BOM of services with classified data flows."""
    bom = Bom()
    bom.metadata.lifecycles = [
        PredefinedLifecycle(LifecyclePhase.DISCOVERY),
        PredefinedLifecycle(LifecyclePhase.OPERATIONS),
    ]
    bom.metadata.component = Component(
        name="AI register", type=ComponentType.APPLICATION, bom_ref="shadowmap:register"
    )
    bom.metadata.properties.add(Property(name="shadowmap:version", value=__version__))
    bom.metadata.properties.add(
        Property(name="shadowmap:catalogue_version", value=catalogue.version)
    )
    for entry in entries:
        known = catalogue.get(entry.service_id) if entry.service_id else None
        domains: tuple[str, ...] = ()
        if known is not None:
            domains = known.indicators.get(IndicatorKind.DOMAIN, ()) + known.indicators.get(
                IndicatorKind.HOST, ()
            )
        properties = _register_properties(entry)
        if entry.service_id:
            properties.append(
                Property(name="shadowmap:catalogue:service_id", value=entry.service_id)
            )
        data = [
            DataClassification(flow=DataFlow.OUTBOUND, classification=data_class)
            for data_class in entry.data_classes
        ] or [DataClassification(flow=DataFlow.OUTBOUND, classification="unclassified")]
        bom.services.add(
            Service(
                name=entry.ai_system,
                bom_ref=f"shadowmap:register-entry:{entry.register_id}",
                provider=OrganizationalEntity(name=entry.supplier) if entry.supplier else None,
                description=entry.purpose or entry.title,
                endpoints=[XsUri(f"https://{domain}") for domain in sorted(domains)[:20]],
                data=data,
                external_references=[
                    ExternalReference(type=ExternalReferenceType.EVIDENCE, url=XsUri(link))
                    for link in entry.evidence_links
                ],
                properties=properties,
            )
        )
    return JsonV1Dot6(bom).output_as_string(indent=2).encode()


RowT = TypeVar("RowT")


@dataclass(frozen=True, slots=True)
class ExportFormat(Generic[RowT]):
    name: str
    media_type: str
    extension: str
    build: Callable[[Sequence[RowT], Catalogue], bytes]


#: Inventory export formats by name.
INVENTORY_FORMATS: dict[str, ExportFormat[InventoryRow]] = {
    "json": ExportFormat("json", "application/json", "json", inventory_json),
    "csv": ExportFormat("csv", "text/csv", "csv", inventory_csv),
    "cyclonedx": ExportFormat(
        "cyclonedx", "application/vnd.cyclonedx+json", "cdx.json", inventory_cyclonedx
    ),
}

#: Register export formats by name.
REGISTER_FORMATS: dict[str, ExportFormat[RegisterEntry]] = {
    "json": ExportFormat("json", "application/json", "json", register_json),
    "csv": ExportFormat("csv", "text/csv", "csv", register_csv),
    "cyclonedx": ExportFormat(
        "cyclonedx", "application/vnd.cyclonedx+json", "cdx.json", register_cyclonedx
    ),
}
