"""Exports of the inventory and of the AI register: native JSON, CSV and CycloneDX 1.6
through cyclonedx-python-lib, each written as a stream of byte chunks from batches of rows,
so that memory stays bounded whatever the size of the inventory.

Rows are read in key order, one short read transaction per batch (:func:`inventory_batches`,
:func:`register_batches`): no connection is held while a slow client downloads, and an item
added meanwhile is never read twice nor shifts another out of the export.

CycloneDX documents are written incrementally: the library renders the envelope (metadata,
tools, serial number) and each service on its own, and the services array is streamed
between them. (Building one ``Bom`` of every service costs time quadratic in their number:
2,000 services took 2.4 s, 20,000 some 200 s.)

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
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
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
from cyclonedx.schema.schema import SchemaVersion1Dot6
from sqlalchemy.orm import Session, sessionmaker

from collector.db import transaction
from collector.store import inventory, register
from collector.store.inventory import InventoryRow
from collector.store.register import RegisterEntry
from server import __version__
from server.register.schemas import entry_out
from signatures import Catalogue, IndicatorKind

EXPORT_VERSION = 1
#: Rows read per transaction and written per chunk.
BATCH = 500
CSV_COLUMNS = (
    "id", "key", "service_id", "name", "vendor", "category", "state", "governed_status",
    "host_count",
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
        "governed_status": item.governed_status,
        "host_count": row.host_count,
        "user_count": row.user_count,
        "sighting_count": row.sighting_count,
        "evidence_kinds": list(row.evidence_kinds),
        "first_seen_at": item.first_seen_at.isoformat(),
        "last_seen_at": item.last_seen_at.isoformat(),
    }


def buffered(chunks: Iterable[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    """Join small chunks into pieces of about ``size`` bytes: a streamed response hands each
    chunk to the event loop on its own, which costs more than writing a short record."""
    pending: list[bytes] = []
    length = 0
    for chunk in chunks:
        pending.append(chunk)
        length += len(chunk)
        if length >= size:
            yield b"".join(pending)
            pending, length = [], 0
    if pending:
        yield b"".join(pending)


def _json_document(head: dict[str, Any], key: str, records: Iterator[Any]) -> Iterator[bytes]:
    """Write ``head`` with ``key`` as a streamed array of ``records``, one per line."""
    opening = json.dumps(head, indent=2, ensure_ascii=False)[:-2]
    yield f'{opening},\n  "{key}": ['.encode()
    separator = "\n"
    for record in records:
        yield (separator + json.dumps(record, ensure_ascii=False)).encode()
        separator = ",\n"
    yield b"\n  ]\n}\n"


def write_inventory_json(
    batches: Iterable[Sequence[InventoryRow]], catalogue: Catalogue
) -> Iterator[bytes]:
    """Write the native JSON export: a versioned envelope around every item."""
    head = {
        "format": "shadowmap.inventory",
        "version": EXPORT_VERSION,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "catalogue_version": catalogue.version,
    }
    records = (_item_record(row) for batch in batches for row in batch)
    return _json_document(head, "items", records)


def csv_cell(value: object) -> str:
    """Return a value as CSV cell text that no spreadsheet runs as a formula."""
    text = " ".join(value) if isinstance(value, list) else str(value if value is not None else "")
    # Text from endpoints must not become a spreadsheet formula (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_chunks(
    columns: Sequence[str], records: Iterable[Iterable[dict[str, Any]]]
) -> Iterator[bytes]:
    """Write a header line, then one chunk of formula-safe lines per batch of records."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for batch in records:
        for record in batch:
            writer.writerow([csv_cell(record[column]) for column in columns])
        yield out.getvalue().encode()
        out.seek(0)
        out.truncate()
    if out.tell():
        yield out.getvalue().encode()


def write_inventory_csv(
    batches: Iterable[Sequence[InventoryRow]], catalogue: Catalogue
) -> Iterator[bytes]:
    """Write the flat CSV export, one item per line."""
    records = ((_item_record(row) for row in batch) for batch in batches)
    return _csv_chunks(CSV_COLUMNS, records)


def _cyclonedx_document(bom: Bom, services: Iterator[Service]) -> Iterator[bytes]:
    """Write ``bom`` (metadata only) with ``services`` streamed into its services array.

    The library renders the envelope and every service (as it would inside one Bom), so
    the document is the library's; only the array is assembled here, chunk by chunk.
    """
    envelope: dict[str, Any] = json.loads(JsonV1Dot6(bom).output_as_string())
    envelope.pop("services", None)
    yield json.dumps(envelope, indent=2)[:-2].encode() + b',\n  "services": ['
    separator = b"\n"
    for service in services:
        # as_json is added to every model class by py-serializable (untyped, as in the
        # library's own output module).
        rendered: str = service.as_json(view_=SchemaVersion1Dot6)  # type: ignore[attr-defined]
        yield separator + rendered.encode()
        separator = b",\n"
    yield b"\n  ]\n}\n"


def _endpoints(catalogue: Catalogue, service_id: str | None) -> list[XsUri]:
    known = catalogue.get(service_id) if service_id else None
    if known is None:
        return []
    domains = known.indicators.get(IndicatorKind.DOMAIN, ()) + known.indicators.get(
        IndicatorKind.HOST, ()
    )
    return [XsUri(f"https://{domain}") for domain in sorted(domains)[:20]]


def _inventory_service(row: InventoryRow, catalogue: Catalogue) -> Service:
    item = row.item
    known = catalogue.get(item.service_id) if item.service_id else None
    properties = [
        Property(name="shadowmap:inventory:key", value=item.key),
        Property(name="shadowmap:inventory:state", value=item.state),
        Property(name="shadowmap:register:status", value=item.governed_status or "not_in_register"),
        Property(name="shadowmap:inventory:category", value=item.category or "unknown"),
        Property(name="shadowmap:inventory:host_count", value=str(row.host_count)),
        Property(name="shadowmap:inventory:user_count", value=str(row.user_count)),
        Property(name="shadowmap:inventory:first_seen_at", value=item.first_seen_at.isoformat()),
        Property(name="shadowmap:inventory:last_seen_at", value=item.last_seen_at.isoformat()),
    ]
    if item.service_id:
        properties.append(Property(name="shadowmap:catalogue:service_id", value=item.service_id))
    if known is not None:
        risk = known.risk
        properties += [
            Property(name="shadowmap:risk:trains_on_user_data", value=risk.trains_on_user_data),
            Property(name="shadowmap:risk:zero_retention", value=risk.zero_retention),
            Property(name="shadowmap:risk:hq_country", value=risk.hq_country),
        ]
    for kind in row.evidence_kinds:
        properties.append(Property(name="shadowmap:evidence_kind", value=kind))
    return Service(
        name=item.name,
        bom_ref=f"shadowmap:inventory-item:{item.id}",
        provider=OrganizationalEntity(name=item.vendor) if item.vendor else None,
        endpoints=_endpoints(catalogue, item.service_id),
        data=[DataClassification(flow=DataFlow.OUTBOUND, classification="unclassified")],
        properties=properties,
    )


def write_inventory_cyclonedx(
    batches: Iterable[Sequence[InventoryRow]], catalogue: Catalogue
) -> Iterator[bytes]:
    """Write the inventory as a CycloneDX 1.6 JSON BOM of services (phase "discovery")."""
    bom = Bom()
    bom.metadata.lifecycles = [PredefinedLifecycle(LifecyclePhase.DISCOVERY)]
    bom.metadata.component = Component(
        name="AI services in use", type=ComponentType.APPLICATION, bom_ref="shadowmap:inventory"
    )
    bom.metadata.properties.add(Property(name="shadowmap:version", value=__version__))
    bom.metadata.properties.add(
        Property(name="shadowmap:catalogue_version", value=catalogue.version)
    )
    services = (_inventory_service(row, catalogue) for batch in batches for row in batch)
    return _cyclonedx_document(bom, services)


def inventory_batches(
    sessions: sessionmaker[Session], *, state: str | None = None, batch: int | None = None
) -> Iterator[list[InventoryRow]]:
    """Read the inventory (optionally one triage state) in id order, ``batch`` (BATCH)
    items per short read transaction."""
    batch = batch or BATCH
    after = 0
    while True:
        with transaction(sessions) as session:
            page = inventory.list_inventory_page(session, after_id=after, state=state, limit=batch)
        if page:
            yield page
        if len(page) < batch:
            return
        after = page[-1].item.id


# The register --------------------------------------------------------------------------------

#: The register's CSV columns: every field of an entry as the API returns it.
REGISTER_CSV_COLUMNS = (
    "register_id", "title", "status", "ai_system", "supplier", "business_unit", "purpose",
    "business_owner", "technical_owner", "data_classes", "personal_data", "customer_facing",
    "decision_support", "risk_level",
    "risk_rationale", "decision", "decision_conditions", "allowed_departments", "alternative",
    "decision_rationale", "decided_by",
    "decided_at", "controls", "review_cadence_months", "last_reviewed_on", "next_review_on",
    "dpia_screening", "supplier_review", "eu_ai_act_class", "human_oversight", "scope_status",
    "scope_rationale", "evidence_links", "version", "created_at", "updated_at",
)  # fmt: skip


def all_register_entries(session: Session, *, status: str | None = None) -> list[RegisterEntry]:
    """Return every register entry (optionally in one status) through ``session`` (the
    evidence pack reads them under its lock, in one transaction)."""
    entries: list[RegisterEntry] = []
    while True:
        page = register.list_register_page(
            session,
            after_register_id=entries[-1].register_id if entries else "",
            status=status,
            limit=BATCH,
        )
        entries.extend(page)
        if len(page) < BATCH:
            return entries


def register_batches(
    sessions: sessionmaker[Session], *, status: str | None = None, batch: int | None = None
) -> Iterator[Sequence[RegisterEntry]]:
    """Read the register (optionally one status) in register id order, ``batch`` (BATCH)
    entries per short read transaction."""
    batch = batch or BATCH
    after = ""
    while True:
        with transaction(sessions) as session:
            page = register.list_register_page(
                session, after_register_id=after, status=status, limit=batch
            )
        if page:
            yield page
        if len(page) < batch:
            return
        after = page[-1].register_id


def register_record(entry: RegisterEntry) -> dict[str, Any]:
    """Return one entry as plain JSON values (as GET /api/v1/register/{id} returns it)."""
    record: dict[str, Any] = entry_out(entry).model_dump(mode="json")
    return record


def write_register_json(
    batches: Iterable[Sequence[RegisterEntry]], catalogue: Catalogue
) -> Iterator[bytes]:
    """Write the native JSON export of the register: a versioned envelope around entries."""
    head = {
        "format": "shadowmap.register",
        "version": EXPORT_VERSION,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    records = (register_record(entry) for batch in batches for entry in batch)
    return _json_document(head, "entries", records)


def write_register_csv(
    batches: Iterable[Sequence[RegisterEntry]], catalogue: Catalogue
) -> Iterator[bytes]:
    """Write the flat CSV register, one entry per line, formula-safe."""
    records = ((register_record(entry) for entry in batch) for batch in batches)
    return _csv_chunks(REGISTER_CSV_COLUMNS, records)


def register_json(entries: Sequence[RegisterEntry], catalogue: Catalogue) -> bytes:
    """Return the JSON export of ``entries`` as one document."""
    return b"".join(write_register_json([entries], catalogue))


def register_csv(entries: Sequence[RegisterEntry], catalogue: Catalogue) -> bytes:
    """Return the CSV export of ``entries`` as one document."""
    return b"".join(write_register_csv([entries], catalogue))


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


_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _evidence_uri(link: str) -> XsUri:
    """Return an evidence link as CycloneDX takes it: a "%" that starts no escape, and any "#"
    after the first, percent-encoded (the register accepts them; CycloneDX refuses them)."""
    link = _STRAY_PERCENT.sub("%25", link)
    head, hash_mark, fragment = link.partition("#")
    return XsUri(head + hash_mark + fragment.replace("#", "%23"))


def _register_service(entry: RegisterEntry, catalogue: Catalogue) -> Service:
    properties = _register_properties(entry)
    if entry.service_id:
        properties.append(Property(name="shadowmap:catalogue:service_id", value=entry.service_id))
    data = [
        DataClassification(flow=DataFlow.OUTBOUND, classification=data_class)
        for data_class in entry.data_classes
    ] or [DataClassification(flow=DataFlow.OUTBOUND, classification="unclassified")]
    return Service(
        name=entry.ai_system,
        bom_ref=f"shadowmap:register-entry:{entry.register_id}",
        provider=OrganizationalEntity(name=entry.supplier) if entry.supplier else None,
        description=entry.purpose or entry.title,
        endpoints=_endpoints(catalogue, entry.service_id),
        data=data,
        external_references=[
            ExternalReference(type=ExternalReferenceType.EVIDENCE, url=_evidence_uri(link))
            for link in entry.evidence_links
        ],
        properties=properties,
    )


def write_register_cyclonedx(
    batches: Iterable[Sequence[RegisterEntry]], catalogue: Catalogue
) -> Iterator[bytes]:
    """Write the register as a CycloneDX 1.6 JSON BOM of services with classified data flows."""
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
    services = (_register_service(entry, catalogue) for batch in batches for entry in batch)
    return _cyclonedx_document(bom, services)


def register_cyclonedx(entries: Sequence[RegisterEntry], catalogue: Catalogue) -> bytes:
    """Return the CycloneDX export of ``entries`` as one document."""
    return b"".join(write_register_cyclonedx([entries], catalogue))


RowT = TypeVar("RowT")


@dataclass(frozen=True, slots=True)
class ExportFormat(Generic[RowT]):
    name: str
    media_type: str
    extension: str
    write: Callable[[Iterable[Sequence[RowT]], Catalogue], Iterator[bytes]]


#: Inventory export formats by name.
INVENTORY_FORMATS: dict[str, ExportFormat[InventoryRow]] = {
    "json": ExportFormat("json", "application/json", "json", write_inventory_json),
    "csv": ExportFormat("csv", "text/csv", "csv", write_inventory_csv),
    "cyclonedx": ExportFormat(
        "cyclonedx", "application/vnd.cyclonedx+json", "cdx.json", write_inventory_cyclonedx
    ),
}

#: Register export formats by name.
REGISTER_FORMATS: dict[str, ExportFormat[RegisterEntry]] = {
    "json": ExportFormat("json", "application/json", "json", write_register_json),
    "csv": ExportFormat("csv", "text/csv", "csv", write_register_csv),
    "cyclonedx": ExportFormat(
        "cyclonedx", "application/vnd.cyclonedx+json", "cdx.json", write_register_cyclonedx
    ),
}
