"""Load the YAML catalogue into validated :class:`Service` records.

Each file under ``signatures/data/`` holds one vendor or family, written by hand; the files
under ``signatures/data/imported/`` are generated from public sources by ``shadowmap signatures
import`` and may also carry ``additions``: indicators a source gives for a service defined in a
hand-written file, merged into that service at load time. A bad entry is rejected with a
:class:`CatalogueError` that names the file, the entry and the reason. The same rules are
written down as a JSON Schema in ``signatures/schema/catalogue.schema.json``; a test keeps the
two in agreement.

A packaged agent carries the catalogue compiled to JSON instead (``catalogue.json``, written
by :func:`signatures.compile_catalogue` when the package is built): parsing it takes a
fraction of the YAML's time and memory. Beside YAML files it is used only while its recorded
version is their digest, so it can never disagree with them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from signatures.errors import CatalogueError
from signatures.model import (
    INDICATOR_KEYS,
    Catalogue,
    Category,
    IndicatorKind,
    MaliciousReport,
    RiskAttributes,
    Service,
)

SERVICE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{1,127}$")
_SERVICE_KEYS = {
    "id",
    "name",
    "vendor",
    "category",
    "deployment",
    "description",
    "indicators",
    "risk",
    "sources",
    "last_reviewed",
    "examples",
    "malicious",
}
_RISK_KEYS = {
    "trains_on_user_data",
    "enterprise_tier",
    "zero_retention",
    "hq_country",
    "data_residency",
    "certifications",
}
RISK_VALUES: Mapping[str, frozenset[str]] = {
    "trains_on_user_data": frozenset({"yes", "no", "opt_out", "unknown"}),
    "enterprise_tier": frozenset({"yes", "no", "unknown"}),
    "zero_retention": frozenset({"yes", "no", "unknown"}),
}
_COUNTRY = re.compile(r"^([A-Z]{2}|unknown)$")
DEPLOYMENTS = frozenset(
    {
        "saas",
        "api",
        "desktop",
        "mobile",
        "cli",
        "ide",
        "browser_extension",
        "local",
        "self_hosted",
        "cloud",
        "browser",
    }
)

_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?"
# Patterns per indicator kind; catalogue.schema.json carries the same strings (a test checks).
INDICATOR_PATTERNS: Mapping[IndicatorKind, str] = {
    IndicatorKind.DOMAIN: rf"^(?=.{{1,253}}$)({_LABEL}\.)+[a-z][a-z0-9-]{{0,62}}$",
    # One label may be a wildcard ("*" or "*-suffix"); at least two fixed labels follow it.
    IndicatorKind.HOST: (
        rf"^(?=.{{1,253}}$)({_LABEL}\.)*(\*[a-z0-9-]{{0,61}}\.)?({_LABEL}\.)+[a-z][a-z0-9-]{{0,62}}$"
    ),
    IndicatorKind.PROCESS: r"^[^/\\]{1,255}$",
    IndicatorKind.EXE_PATH: r"^.{3,}$",
    IndicatorKind.CMDLINE: r"^.{3,}$",
    IndicatorKind.BUNDLE_ID: r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$",
    IndicatorKind.DESKTOP_ENTRY: r"^[A-Za-z0-9._-]+\.desktop$",
    IndicatorKind.SNAP: r"^[a-z0-9][a-z0-9-]{0,39}$",
    IndicatorKind.FLATPAK: r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){2,}$",
    IndicatorKind.WINDOWS_APP: r"^.{2,}$",
    IndicatorKind.INSTALL_PATH: r"^.{3,}$",
    # Relative to a home, "/"-separated: no leading or trailing "/", no "..", no wildcards.
    IndicatorKind.FOOTPRINT: r"^(?!.*(^|/)\.\.(/|$))[^/\\*?]([^\\*?]*[^/\\*?])?$",
    IndicatorKind.BROWSER_EXTENSION: (
        r"^([a-p]{32}|\{[0-9a-fA-F-]{36}\}|[A-Za-z0-9._+-]+@[A-Za-z0-9._-]+)$"
    ),
    IndicatorKind.IDE_EXTENSION: r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)+$",
    IndicatorKind.PYPI: r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$",
    IndicatorKind.NPM: r"^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$",
    IndicatorKind.ENV_VAR: r"^[A-Z0-9_]{2,}$",
    IndicatorKind.IP_RANGE: r"^[0-9a-fA-F:.]+/[0-9]{1,3}$",
}
_COMPILED = {kind: re.compile(pattern) for kind, pattern in INDICATOR_PATTERNS.items()}
EXAMPLE = re.compile(r"^(?P<kind>[a-z_]+):(?P<value>.+)$")
# The sub-directory of generated files; see docs/signatures.md, "Imported data".
IMPORTED_DIR = "imported"
# The compiled catalogue a packaged agent carries beside the YAML files, and its format.
COMPILED_NAME = "catalogue.json"
COMPILED_FORMAT = "shadowmap-catalogue-compiled/1"
_ADDITION_KEYS = {"id", "indicators", "sources", "examples"}

Fail = Callable[[str], CatalogueError]


def default_data_dir() -> Path:
    """Return the directory holding the catalogue shipped with Shadowmap."""
    return Path(str(resources.files("signatures").joinpath("data")))


def catalogue_files(directory: Path) -> list[tuple[str, Path]]:
    """Return (name, path) of every catalogue file: hand-written first, then imported.

    A name is the path relative to the directory (``openai.yaml``, ``imported/cli-tools.yaml``).
    """
    files = [(path.name, path) for path in sorted(directory.glob("*.yaml"))]
    files += [
        (f"{IMPORTED_DIR}/{path.name}", path)
        for path in sorted((directory / IMPORTED_DIR).glob("*.yaml"))
    ]
    return files


@dataclasses.dataclass(frozen=True, slots=True)
class Addition:
    """Indicators and sources a file adds to a service defined in another file."""

    service_id: str
    indicators: Mapping[IndicatorKind, tuple[str, ...]]
    sources: tuple[str, ...]
    file: str


def load_catalogue(data_dir: Path | None = None, *, reuse: bool = True) -> Catalogue:
    """Load and validate every catalogue file of a directory, additions merged in.

    A file whose content was parsed before in this process is not parsed again unless
    ``reuse`` is false (benchmarks time the cold load). Raises CatalogueError for the first
    bad file or entry.

    A compiled catalogue (``catalogue.json``) is read instead when it was made from these
    very files, or when the directory holds it alone (a packaged agent).
    """
    directory = data_dir or default_data_dir()
    files = catalogue_files(directory)
    if not files:
        compiled = _read_compiled(directory / COMPILED_NAME, None)
        if compiled is not None:
            return compiled
        raise CatalogueError(file=str(directory), entry=None, reason="no *.yaml files")
    digest = hashlib.sha256()
    raws: list[tuple[str, bytes]] = []
    for name, path in files:
        raw = path.read_bytes()
        digest.update(name.encode() + b"\0" + raw)
        raws.append((name, raw))
    version = f"sha256-{digest.hexdigest()[:16]}"
    compiled = _read_compiled(directory / COMPILED_NAME, version)
    if compiled is not None:
        return compiled
    services: list[Service] = []
    additions: list[Addition] = []
    seen: dict[str, str] = {}
    for name, raw in raws:
        file_services, file_additions = (
            _read_cached(name, raw) if reuse else _read_uncached(name, raw)
        )
        additions.extend(file_additions)
        for service in file_services:
            if service.id in seen:
                raise CatalogueError(
                    file=name,
                    entry=service.id,
                    reason=f"duplicate id, first defined in {seen[service.id]}",
                )
            seen[service.id] = name
            services.append(service)
    return Catalogue(version=version, services=merge_additions(services, additions))


def _read_compiled(path: Path, version: str | None) -> Catalogue | None:
    """Return the compiled catalogue at ``path`` if it was made from catalogue ``version``
    (any version when None: there are no YAML files to compare it with).

    None when there is none, or when it is out of date or of another format beside the YAML
    (which is read instead). Raises CatalogueError when the one to use is malformed.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None

    def fail(reason: str) -> CatalogueError:
        return CatalogueError(file=COMPILED_NAME, entry=None, reason=reason)

    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise fail(f"not JSON: {exc}") from exc
    if not isinstance(doc, Mapping) or doc.get("format") != COMPILED_FORMAT:
        if version is not None:
            return None
        raise fail(f"not a {COMPILED_FORMAT} document")
    recorded = doc.get("catalogue_version")
    if version is not None and recorded != version:
        return None
    groups = doc.get("files")
    if not isinstance(recorded, str) or not isinstance(groups, list):
        raise fail("expected a 'catalogue_version' and a 'files' list")
    services: list[Service] = []
    for group in groups:
        if not (isinstance(group, list) and len(group) == 2 and isinstance(group[0], str)):
            raise fail("each 'files' entry must be [file name, services]")
        services += parse_document(group[0], {"services": group[1]})
    ids = [service.id for service in services]
    if len(set(ids)) != len(ids):
        raise fail("duplicate service ids")
    return Catalogue(version=recorded, services=tuple(services))


def _load_yaml(raw: bytes | str) -> Any:
    """Decode YAML with libyaml's safe loader when there is one; raises yaml.YAMLError."""
    import yaml  # here, not with the module: an agent reading a compiled catalogue needs none

    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(raw, Loader=loader)  # noqa: S506 - a safe loader is chosen above


def merge_additions(services: list[Service], additions: list[Addition]) -> tuple[Service, ...]:
    """Return the services with every addition merged into its service.

    Raises CatalogueError for an addition to a service no file defines.
    """
    if not additions:
        return tuple(services)
    index = {service.id: position for position, service in enumerate(services)}
    merged = list(services)
    for addition in additions:
        position = index.get(addition.service_id)
        if position is None:
            raise CatalogueError(
                file=addition.file,
                entry=addition.service_id,
                reason="addition to a service that no catalogue file defines",
            )
        service = merged[position]
        indicators = dict(service.indicators)
        for kind, values in addition.indicators.items():
            have = indicators.get(kind, ())
            indicators[kind] = have + tuple(value for value in values if value not in have)
        sources = service.sources + tuple(
            source for source in addition.sources if source not in service.sources
        )
        merged[position] = dataclasses.replace(service, indicators=indicators, sources=sources)
    return tuple(merged)


_PARSED: dict[tuple[str, bytes], tuple[tuple[Service, ...], tuple[Addition, ...]]] = {}
_PARSED_MAX = 256


def _read_cached(name: str, raw: bytes) -> tuple[tuple[Service, ...], tuple[Addition, ...]]:
    """Parse a file once per content (keyed by its name and SHA-256): records are immutable,
    so a process that loads the catalogue again (the server, a test run) reuses them, and a
    changed file is parsed afresh."""
    key = (name, hashlib.sha256(raw).digest())
    cached = _PARSED.get(key)
    if cached is None:
        services, additions = read_file(name, raw)
        cached = (tuple(services), tuple(additions))
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[key] = cached
    return cached


def _read_uncached(name: str, raw: bytes) -> tuple[tuple[Service, ...], tuple[Addition, ...]]:
    services, additions = read_file(name, raw)
    return tuple(services), tuple(additions)


def parse_file(name: str, raw: bytes | str) -> list[Service]:
    """Parse one catalogue file; raises CatalogueError naming the file and entry."""
    return read_file(name, raw)[0]


def read_file(name: str, raw: bytes | str) -> tuple[list[Service], list[Addition]]:
    """Parse one catalogue file into its services and its additions to other files' services.

    Raises CatalogueError naming the file and entry.
    """
    import yaml

    try:
        doc = _load_yaml(raw)
    except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError for bad dates
        detail = " ".join(str(exc).split())  # one line: PyYAML's messages span several
        raise CatalogueError(file=name, entry=None, reason=f"invalid YAML: {detail}") from exc
    services = parse_document(name, doc, allow_additions=True)
    assert isinstance(doc, Mapping)  # parse_document checked it
    return services, _parse_additions(name, doc.get("additions"), {s.id for s in services})


def parse_document(name: str, doc: object, *, allow_additions: bool = False) -> list[Service]:
    """Validate an already-decoded catalogue document (YAML file or bundle payload).

    Additions are checked by :func:`read_file`; a bundle carries none. Raises CatalogueError
    naming the file and entry.
    """
    if not isinstance(doc, Mapping) or not isinstance(doc.get("services"), list):
        raise CatalogueError(
            file=name, entry=None, reason="expected a mapping with a 'services' list"
        )
    allowed = {"services", "additions"} if allow_additions else {"services"}
    extra = ", ".join(sorted(map(str, set(doc) - allowed)))
    if extra:
        raise CatalogueError(file=name, entry=None, reason=f"unknown top-level key(s): {extra}")
    services: list[Service] = []
    ids: set[str] = set()
    for index, entry in enumerate(doc["services"]):
        service = _parse_service(name, index, entry)
        if service.id in ids:
            raise CatalogueError(file=name, entry=service.id, reason="duplicate id in this file")
        ids.add(service.id)
        services.append(service)
    return services


def _parse_additions(file: str, value: object, own_ids: set[str]) -> list[Addition]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise CatalogueError(file=file, entry=None, reason="'additions' must be a list")
    additions: list[Addition] = []
    targets: set[str] = set()
    for index, entry in enumerate(value):
        label = f"additions[{index}]"
        if not isinstance(entry, Mapping):
            raise CatalogueError(file=file, entry=label, reason="addition is not a mapping")
        service_id = entry.get("id")
        if not isinstance(service_id, str) or not SERVICE_ID.match(service_id):
            raise CatalogueError(file=file, entry=label, reason="'id' must name a service")

        def fail(reason: str, service_id: str = service_id) -> CatalogueError:
            return CatalogueError(file=file, entry=f"additions:{service_id}", reason=reason)

        unknown = set(entry) - _ADDITION_KEYS
        if unknown:
            raise fail(f"unknown key(s): {', '.join(sorted(map(str, unknown)))}")
        if service_id in own_ids:
            raise fail("an addition must name a service defined in another file")
        if service_id in targets:
            raise fail("more than one addition to this service in this file")
        targets.add(service_id)
        sources = _string_list(entry.get("sources"), "sources", fail)
        if not sources:
            raise fail("every addition must name at least one source")
        _check_examples(entry.get("examples"), fail)
        additions.append(
            Addition(
                service_id=service_id,
                indicators=_parse_indicators(entry.get("indicators"), fail),
                sources=sources,
                file=file,
            )
        )
    return additions


def _parse_service(file: str, index: int, entry: object) -> Service:
    label = f"services[{index}]"
    if not isinstance(entry, Mapping):
        raise CatalogueError(file=file, entry=label, reason="entry is not a mapping")
    service_id = entry.get("id")
    if not isinstance(service_id, str) or not SERVICE_ID.match(service_id):
        raise CatalogueError(
            file=file, entry=label, reason="'id' must be lowercase letters, digits, '.', '_' or '-'"
        )

    def fail(reason: str) -> CatalogueError:
        return CatalogueError(file=file, entry=service_id, reason=reason)

    unknown = set(entry) - _SERVICE_KEYS
    if unknown:
        raise fail(f"unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    empty = sorted(str(key) for key, value in entry.items() if value is None)
    if empty:
        raise fail(f"key(s) without a value: {', '.join(empty)}")
    for key in ("name", "vendor"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise fail(f"'{key}' is required and must be text")
    try:
        category = Category(str(entry.get("category")))
    except ValueError:
        raise fail(f"unknown category {entry.get('category')!r}") from None
    indicators = _parse_indicators(entry.get("indicators"), fail)
    sources = _string_list(entry.get("sources"), "sources", fail)
    if not sources:
        raise fail("every entry must name at least one source")
    deployment = _string_list(entry.get("deployment"), "deployment", fail)
    bad_modes = sorted(set(deployment) - DEPLOYMENTS)
    if bad_modes:
        raise fail(f"unknown deployment mode(s): {', '.join(bad_modes)}")
    description = entry.get("description")
    if description is not None and not isinstance(description, str):
        raise fail("'description' must be text")
    _check_examples(entry.get("examples"), fail)
    return Service(
        id=service_id,
        name=entry["name"].strip(),
        vendor=entry["vendor"].strip(),
        category=category,
        indicators=indicators,
        deployment=deployment,
        risk=_parse_risk(entry.get("risk"), fail),
        sources=sources,
        last_reviewed=_parse_date(entry.get("last_reviewed"), fail),
        description=description or "",
        source_file=file,
        malicious=_parse_malicious(entry.get("malicious"), fail),
    )


_REPORT_URL = re.compile(r"^https://[!-~]+$")


def _parse_malicious(value: object, fail: Fail) -> MaliciousReport | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) - {"report", "reported_on", "summary"}:
        raise fail("'malicious' must be a mapping of report, reported_on and summary")
    report = value.get("report")
    if not isinstance(report, str) or not _REPORT_URL.match(report):
        raise fail("malicious.report must be the https URL of the published report")
    summary = value.get("summary", "")
    if not isinstance(summary, str):
        raise fail("malicious.summary must be text")
    reported = value.get("reported_on")
    if reported is not None and not isinstance(reported, dt.date | str):
        raise fail("malicious.reported_on must be a date (YYYY-MM-DD)")
    return MaliciousReport(
        report=report,
        reported_on=_parse_date(reported, fail, key="malicious.reported_on"),
        summary=summary.strip(),
    )


def _parse_date(value: object, fail: Fail, *, key: str = "last_reviewed") -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        raise fail(f"'{key}' must be a date (YYYY-MM-DD)")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise fail(f"'{key}' must be a date (YYYY-MM-DD)")


def _parse_indicators(value: object, fail: Fail) -> dict[IndicatorKind, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise fail("'indicators' must be a mapping")
    if not value:
        raise fail("a service needs at least one indicator")
    result: dict[IndicatorKind, tuple[str, ...]] = {}
    for key, items in value.items():
        kind = INDICATOR_KEYS.get(key)
        if kind is None:
            raise fail(f"unknown indicator kind {key!r}")
        if not isinstance(items, list) or not items:
            raise fail(f"'{key}' must be a non-empty list")
        if kind is IndicatorKind.PORT:
            if not all(
                isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536
                for port in items
            ):
                raise fail("'ports' must be a list of TCP port numbers")
            result[kind] = tuple(str(port) for port in items)
            continue
        values = _string_list(items, key, fail)
        result[kind] = tuple(_normalise(kind, item, fail) for item in values)
    return result


def _normalise(kind: IndicatorKind, value: str, fail: Fail) -> str:
    if not _COMPILED[kind].match(value):
        raise fail(f"{kind.value} {value!r} is not a valid {_DESCRIPTION[kind]}")
    if kind in (IndicatorKind.DOMAIN, IndicatorKind.HOST):
        return value
    if kind is IndicatorKind.PROCESS:
        return normalise_process_name(value)
    if kind is IndicatorKind.IP_RANGE:
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError as exc:
            raise fail(f"ip_range {value!r} is not a valid network: {exc}") from None
    return value


_DESCRIPTION: Mapping[IndicatorKind, str] = {
    IndicatorKind.DOMAIN: "lowercase DNS name",
    IndicatorKind.HOST: "lowercase DNS name (one '*' label allowed)",
    IndicatorKind.PROCESS: "process name (no path separators)",
    IndicatorKind.EXE_PATH: "path fragment (3+ characters)",
    IndicatorKind.CMDLINE: "command-line marker (3+ characters)",
    IndicatorKind.BUNDLE_ID: "bundle identifier",
    IndicatorKind.DESKTOP_ENTRY: ".desktop file id",
    IndicatorKind.SNAP: "snap name",
    IndicatorKind.FLATPAK: "flatpak application id",
    IndicatorKind.WINDOWS_APP: "Windows display name",
    IndicatorKind.INSTALL_PATH: "path fragment (3+ characters)",
    IndicatorKind.FOOTPRINT: "path relative to a home ('/'-separated, no '..' or wildcards)",
    IndicatorKind.BROWSER_EXTENSION: "Chrome/Edge id (32 letters a-p) or Firefox add-on id",
    IndicatorKind.IDE_EXTENSION: "IDE extension id (publisher.name or plugin id)",
    IndicatorKind.PYPI: "PyPI project name",
    IndicatorKind.NPM: "npm package name",
    IndicatorKind.ENV_VAR: "environment variable name (A-Z, 0-9, _)",
    IndicatorKind.IP_RANGE: "CIDR network",
}


def normalise_process_name(name: str) -> str:
    """Fold a process name the way the matcher compares them."""
    name = name.strip().lower()
    return name[:-4] if name.endswith(".exe") else name


def _string_list(value: object, key: str, fail: Fail) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise fail(f"'{key}' must be a list of non-empty strings")
    return tuple(value)


def _parse_risk(value: object, fail: Fail) -> RiskAttributes:
    if value is None:
        return RiskAttributes()
    if not isinstance(value, Mapping):
        raise fail("'risk' must be a mapping")
    unknown = set(value) - _RISK_KEYS
    if unknown:
        raise fail(f"unknown risk attribute(s): {', '.join(sorted(map(str, unknown)))}")
    text: dict[str, str] = {}
    for key, allowed in RISK_VALUES.items():
        item = value.get(key, "unknown")
        if item not in allowed:
            raise fail(f"risk.{key} must be one of {', '.join(sorted(allowed))}")
        text[key] = item
    country = value.get("hq_country", "unknown")
    if not isinstance(country, str) or not _COUNTRY.match(country):
        raise fail("risk.hq_country must be an ISO 3166 alpha-2 code or 'unknown'")
    return RiskAttributes(
        hq_country=country,
        data_residency=_string_list(value.get("data_residency"), "risk.data_residency", fail),
        certifications=_string_list(value.get("certifications"), "risk.certifications", fail),
        **text,
    )


def _check_examples(value: object, fail: Fail) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping) or set(value) - {"match", "no_match"}:
        raise fail("'examples' must be a mapping with 'match' and/or 'no_match' lists")
    kinds = {kind.value for kind in IndicatorKind}
    for key, items in value.items():
        for item in _string_list(items, f"examples.{key}", fail):
            found = EXAMPLE.match(item)
            if not found or found["kind"] not in kinds:
                raise fail(f"example {item!r} must read '<indicator kind>:<value>'")


def examples_of(data_dir: Path | None = None) -> Iterable[tuple[str, str, bool, str]]:
    """Yield (service_id, "kind:value", should_match, file) for every catalogue example.

    An addition's examples belong to the service it adds to.
    """
    directory = data_dir or default_data_dir()
    for name, path in catalogue_files(directory):
        doc = _load_yaml(path.read_bytes())
        for entry in [*doc.get("services", []), *(doc.get("additions") or [])]:
            examples = entry.get("examples") or {}
            for value in examples.get("match", []):
                yield entry["id"], value, True, name
            for value in examples.get("no_match", []):
                yield entry["id"], value, False, name
