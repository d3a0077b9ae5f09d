"""Load the YAML catalogue into validated :class:`Service` records.

Each file under ``signatures/data/`` holds one vendor or family. A bad entry is rejected with
a :class:`CatalogueError` that names the file, the entry and the reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from signatures.errors import CatalogueError
from signatures.model import (
    INDICATOR_KEYS,
    Catalogue,
    Category,
    IndicatorKind,
    RiskAttributes,
    Service,
)

SERVICE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{1,127}$")
_SERVICE_KEYS = {
    "id", "name", "vendor", "category", "deployment", "description", "indicators", "risk",
    "sources", "last_reviewed", "examples",
}
_RISK_KEYS = {
    "trains_on_user_data", "enterprise_tier", "zero_retention", "hq_country", "data_residency",
    "certifications",
}
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def default_data_dir() -> Path:
    """Return the directory holding the catalogue shipped with Shadowmap."""
    return Path(str(resources.files("signatures").joinpath("data")))


def load_catalogue(data_dir: Path | None = None) -> Catalogue:
    """Load and validate every ``*.yaml`` file of a catalogue directory.

    Raises CatalogueError for the first bad file or entry.
    """
    directory = data_dir or default_data_dir()
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise CatalogueError(file=str(directory), entry=None, reason="no *.yaml files")
    digest = hashlib.sha256()
    services: list[Service] = []
    seen: dict[str, str] = {}
    for path in files:
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw)
        for service in parse_file(path.name, raw):
            if service.id in seen:
                raise CatalogueError(file=path.name, entry=service.id,
                                     reason=f"duplicate id, first defined in {seen[service.id]}")
            seen[service.id] = path.name
            services.append(service)
    return Catalogue(version=f"sha256-{digest.hexdigest()[:16]}", services=tuple(services))


def parse_file(name: str, raw: bytes | str) -> list[Service]:
    """Parse one catalogue file; raises CatalogueError naming the file and entry."""
    try:
        doc = yaml.load(raw, Loader=_Loader)  # noqa: S506 - a safe loader is chosen above
    except yaml.YAMLError as exc:
        raise CatalogueError(file=name, entry=None, reason=f"invalid YAML: {exc}") from exc
    if not isinstance(doc, Mapping) or not isinstance(doc.get("services"), list):
        raise CatalogueError(
            file=name, entry=None, reason="expected a mapping with a 'services' list"
        )
    return [_parse_service(name, index, entry) for index, entry in enumerate(doc["services"])]


def _parse_service(file: str, index: int, entry: object) -> Service:
    label = f"services[{index}]"
    if not isinstance(entry, Mapping):
        raise CatalogueError(file=file, entry=label, reason="entry is not a mapping")
    service_id = entry.get("id")
    if not isinstance(service_id, str) or not SERVICE_ID.match(service_id):
        raise CatalogueError(file=file, entry=label,
                             reason="'id' must be lowercase letters, digits, '.', '_' or '-'")

    def fail(reason: str) -> CatalogueError:
        return CatalogueError(file=file, entry=service_id, reason=reason)

    unknown = set(entry) - _SERVICE_KEYS
    if unknown:
        raise fail(f"unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    for key in ("name", "vendor"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise fail(f"'{key}' is required and must be text")
    try:
        category = Category(str(entry.get("category")))
    except ValueError:
        raise fail(f"unknown category {entry.get('category')!r}") from None
    indicators = _parse_indicators(entry.get("indicators"), fail)
    if not any(indicators.values()):
        raise fail("a service needs at least one indicator")
    sources = _string_list(entry.get("sources"), "sources", fail)
    if not sources:
        raise fail("every entry must name at least one source")
    reviewed = entry.get("last_reviewed")
    if reviewed is not None and not isinstance(reviewed, dt.date):
        raise fail("'last_reviewed' must be a date (YYYY-MM-DD)")
    return Service(
        id=service_id,
        name=entry["name"].strip(),
        vendor=entry["vendor"].strip(),
        category=category,
        indicators=indicators,
        deployment=_string_list(entry.get("deployment"), "deployment", fail),
        risk=_parse_risk(entry.get("risk"), fail),
        sources=sources,
        last_reviewed=reviewed,
        description=str(entry.get("description") or ""),
        source_file=file,
    )


def _parse_indicators(value: object, fail: Any) -> dict[IndicatorKind, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise fail("'indicators' must be a mapping")
    result: dict[IndicatorKind, tuple[str, ...]] = {}
    for key, items in value.items():
        kind = INDICATOR_KEYS.get(key)
        if kind is None:
            raise fail(f"unknown indicator kind {key!r}")
        if kind is IndicatorKind.PORT:
            if not isinstance(items, list) or not all(
                isinstance(port, int) and 0 < port < 65536 for port in items
            ):
                raise fail("'ports' must be a list of TCP port numbers")
            result[kind] = tuple(str(port) for port in items)
            continue
        values = _string_list(items, key, fail)
        result[kind] = tuple(_normalise(kind, item, fail) for item in values)
    return result


_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")


def _normalise(kind: IndicatorKind, value: str, fail: Any) -> str:
    if kind in (IndicatorKind.DOMAIN, IndicatorKind.HOST):
        host = value.strip().lower().rstrip(".")
        if not _HOST.match(host):
            raise fail(f"{kind.value} {value!r} is not a valid DNS name")
        return host
    if kind is IndicatorKind.PROCESS:
        return normalise_process_name(value)
    return value.strip()


def normalise_process_name(name: str) -> str:
    """Fold a process name the way the matcher compares them."""
    name = name.strip().lower()
    return name[:-4] if name.endswith(".exe") else name


def _string_list(value: object, key: str, fail: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise fail(f"'{key}' must be a list of non-empty strings")
    return tuple(value)


def _parse_risk(value: object, fail: Any) -> RiskAttributes:
    if value is None:
        return RiskAttributes()
    if not isinstance(value, Mapping):
        raise fail("'risk' must be a mapping")
    unknown = set(value) - _RISK_KEYS
    if unknown:
        raise fail(f"unknown risk attribute(s): {', '.join(sorted(map(str, unknown)))}")
    text: dict[str, str] = {}
    for key in ("trains_on_user_data", "enterprise_tier", "zero_retention", "hq_country"):
        item = value.get(key, "unknown")
        if not isinstance(item, str):
            raise fail(f"risk.{key} must be text")
        text[key] = item
    return RiskAttributes(
        data_residency=_string_list(value.get("data_residency"), "risk.data_residency", fail),
        certifications=_string_list(value.get("certifications"), "risk.certifications", fail),
        **text,
    )


def examples_of(data_dir: Path | None = None) -> Iterable[tuple[str, str, bool, str]]:
    """Yield (service_id, "kind:value", should_match, file) for every catalogue example."""
    directory = data_dir or default_data_dir()
    for path in sorted(directory.glob("*.yaml")):
        doc = yaml.load(path.read_bytes(), Loader=_Loader)  # noqa: S506
        for entry in doc.get("services", []):
            examples = entry.get("examples") or {}
            for value in examples.get("match", []):
                yield entry["id"], value, True, path.name
            for value in examples.get("no_match", []):
                yield entry["id"], value, False, path.name
