"""The report format agents send and collectors ingest: versioned JSON, plain dataclasses.

The JSON Schema in ``schema/report.schema.json`` is the contract; :func:`validate_report`
checks a document against it and :meth:`Report.from_dict` turns a valid one into objects.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, NamedTuple, cast

from signatures.errors import WireFormatError
from signatures.model import Severity

SCHEMA_VERSION = 1
MAX_REPORT_BYTES = 8 * 1024 * 1024
MAX_FINDINGS = 20_000
# The longest indicator and user name a finding carries: the report schema's maxLength, and the
# width of the collector's sighting columns.
MAX_INDICATOR_LENGTH = 1024
MAX_USER_LENGTH = 256
# The report schema's other limits on what a finding carries.
MAX_HEURISTIC_LENGTH = 512
MAX_EVIDENCE_TEXT = 4096  # an evidence text value
MAX_EVIDENCE_ITEMS = 256  # items of an evidence text list
MAX_EVIDENCE_ITEM = 1024  # one item of an evidence text list
MAX_ERROR_MESSAGE = 2048  # a scanner error's message (its path: MAX_EVIDENCE_TEXT)

EvidenceValue = str | int | float | bool | None | list[str]


class FindingKind(StrEnum):
    """The channel through which a finding was observed."""

    PROCESS = "process"
    CONNECTION = "connection"
    APP = "app"
    BROWSER_EXTENSION = "browser_extension"
    IDE_EXTENSION = "ide_extension"
    PACKAGE = "package"
    RUNTIME = "runtime"
    MODEL_FILE = "model_file"
    MCP_SERVER = "mcp_server"
    ENV_VAR = "env_var"
    DNS = "dns"
    SNI = "sni"
    LOG = "log"


class Confidence(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class ReportKind(StrEnum):
    FULL = "full"  # the agent's whole current state
    DELTA = "delta"  # changes since the last acknowledged report
    HEARTBEAT = "heartbeat"  # nothing changed; health only


def utcnow() -> dt.datetime:
    """Return the current time, timezone-aware, second precision."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def format_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str, *, path: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise WireFormatError(path=path, reason=f"not an RFC 3339 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise WireFormatError(path=path, reason="time has no timezone")
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:59:59-23:59 is past year 9999 in UTC
        raise WireFormatError(path=path, reason=f"time out of range: {value!r}") from exc


_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_surrogate(found: re.Match[str]) -> str:
    code = ord(found.group())
    # 0xDC80-0xDCFF: one byte that was not UTF-8, as os.fsdecode keeps it (surrogateescape).
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else "\ufffd"


def valid_text(value: str, limit: int | None = None) -> str:
    """Return ``value`` as text that encodes to UTF-8, cut to ``limit`` characters.

    A file name or other OS string that is not valid UTF-8 reaches Python with each bad byte
    kept as a lone surrogate (surrogateescape); each such byte becomes the four characters
    ``\\xNN`` (as ``ls -b`` shows it), any other lone surrogate U+FFFD. Valid text is returned
    as it is.
    """
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = _SURROGATE.sub(_escape_surrogate, value)
    return value if limit is None else value[:limit]


def fit_evidence(evidence: Mapping[str, EvidenceValue]) -> dict[str, EvidenceValue]:
    """Return evidence whose texts are valid UTF-8 and within the report schema's limits."""
    fitted: dict[str, EvidenceValue] = {}
    for key, value in evidence.items():
        if isinstance(value, str):
            value = valid_text(value, MAX_EVIDENCE_TEXT)
        elif isinstance(value, list):
            value = [valid_text(item, MAX_EVIDENCE_ITEM) for item in value[:MAX_EVIDENCE_ITEMS]]
        fitted[valid_text(key)] = value
    return fitted


class FindingKey(NamedTuple):
    """What makes two findings the same sighting on one host.

    The one definition both sides use: the agent keys its baseline (and its spool) by it, the
    collector merges a report's findings and finds the stored sighting by it. Indicator and user
    are cut to the wire format's limits, so a finding built without validation (an imported log)
    keys the same as the sighting stored for it.
    """

    kind: str
    service_id: str
    indicator: str
    user: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of evidence that an AI service (or a likely-AI candidate) is in use."""

    kind: FindingKind
    indicator: str
    indicator_kind: str
    service_id: str | None
    confidence: Confidence
    first_seen: dt.datetime
    last_seen: dt.datetime
    user: str | None = None
    heuristic: str | None = None
    evidence: Mapping[str, EvidenceValue] = field(default_factory=dict)
    # From the sender's catalogue (Catalogue.severity_of); a collector derives it again.
    severity: Severity = Severity.NORMAL

    def key(self) -> FindingKey:
        """Return what makes two findings the same sighting on one host (see FindingKey)."""
        return FindingKey(
            self.kind.value,
            self.service_id or "",
            self.indicator[:MAX_INDICATOR_LENGTH],
            (self.user or "")[:MAX_USER_LENGTH],
        )

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "kind": self.kind.value,
            "indicator": self.indicator,
            "indicator_kind": self.indicator_kind,
            "service_id": self.service_id,
            "confidence": self.confidence.value,
            "heuristic": self.heuristic,
            "user": self.user,
            "evidence": dict(self.evidence),
            "first_seen": format_time(self.first_seen),
            "last_seen": format_time(self.last_seen),
        }
        if self.severity is not Severity.NORMAL:
            doc["severity"] = self.severity.value  # absent means normal (older agents)
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, path: str = "finding") -> Finding:
        return cls(
            kind=FindingKind(doc["kind"]),
            indicator=doc["indicator"],
            indicator_kind=doc["indicator_kind"],
            service_id=doc.get("service_id"),
            confidence=Confidence(doc["confidence"]),
            heuristic=doc.get("heuristic"),
            user=doc.get("user"),
            evidence=dict(doc.get("evidence") or {}),
            first_seen=parse_time(doc["first_seen"], path=f"{path}.first_seen"),
            last_seen=parse_time(doc["last_seen"], path=f"{path}.last_seen"),
            severity=Severity(doc.get("severity") or Severity.NORMAL),
        )


@dataclass(frozen=True, slots=True)
class HostInfo:
    hostname: str
    os: str  # "linux" | "darwin" | "windows"
    os_version: str = ""
    arch: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "hostname": self.hostname,
            "os": self.os,
            "os_version": self.os_version,
            "arch": self.arch,
        }


@dataclass(frozen=True, slots=True)
class AgentInfo:
    id: str
    version: str
    catalogue_version: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "catalogue_version": self.catalogue_version}


@dataclass(frozen=True, slots=True)
class ScannerError:
    """A scanner could not read something; the scan went on without it."""

    scanner: str
    message: str
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"scanner": self.scanner, "message": self.message, "path": self.path}


@dataclass(frozen=True, slots=True)
class Report:
    """What an agent sends after a scan."""

    report_id: str
    agent: AgentInfo
    host: HostInfo
    generated_at: dt.datetime
    findings: Sequence[Finding]
    kind: ReportKind = ReportKind.FULL
    scanner_errors: Sequence[ScannerError] = ()
    health: Mapping[str, EvidenceValue] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "report_id": self.report_id,
            "kind": self.kind.value,
            "generated_at": format_time(self.generated_at),
            "agent": self.agent.to_dict(),
            "host": self.host.to_dict(),
            "findings": [finding.to_dict() for finding in self.findings],
            "scanner_errors": [error.to_dict() for error in self.scanner_errors],
            "health": dict(self.health),
        }

    def to_json(self) -> bytes:
        """Return the report as UTF-8 JSON; never fails on text that is not valid UTF-8.

        Findings and errors are fitted where they are made (:func:`fit_finding`); a lone
        surrogate that still gets here is escaped as :func:`valid_text` does, because a report
        that cannot be encoded would silence the agent for good.
        """
        doc = self.to_dict()
        try:
            return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
        except UnicodeEncodeError:
            return json.dumps(_valid_texts(doc), separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Report:
        """Build a report from a document that :func:`validate_report` accepted."""
        agent, host = doc["agent"], doc["host"]
        return cls(
            schema_version=doc["schema_version"],
            report_id=doc["report_id"],
            kind=ReportKind(doc.get("kind", "full")),
            generated_at=parse_time(doc["generated_at"], path="generated_at"),
            agent=AgentInfo(
                id=agent["id"],
                version=agent["version"],
                catalogue_version=agent["catalogue_version"],
            ),
            host=HostInfo(
                hostname=host["hostname"],
                os=host["os"],
                os_version=host.get("os_version", ""),
                arch=host.get("arch", ""),
            ),
            findings=[
                Finding.from_dict(item, path=f"findings[{index}]")
                for index, item in enumerate(doc["findings"])
            ],
            scanner_errors=[
                ScannerError(
                    scanner=item["scanner"], message=item["message"], path=item.get("path")
                )
                for item in doc.get("scanner_errors", [])
            ],
            health=dict(doc.get("health") or {}),
        )


def fit_finding(finding: Finding) -> Finding:
    """Return ``finding`` with every text valid UTF-8 and within the report schema's limits."""
    return replace(
        finding,
        indicator=valid_text(finding.indicator, MAX_INDICATOR_LENGTH),
        user=valid_text(finding.user, MAX_USER_LENGTH) if finding.user is not None else None,
        heuristic=valid_text(finding.heuristic, MAX_HEURISTIC_LENGTH)
        if finding.heuristic is not None
        else None,
        evidence=fit_evidence(finding.evidence),
    )


def fit_scanner_error(error: ScannerError) -> ScannerError:
    """Return ``error`` with its texts valid UTF-8 and within the report schema's limits."""
    return ScannerError(
        scanner=valid_text(error.scanner, 64),
        message=valid_text(error.message, MAX_ERROR_MESSAGE),
        path=valid_text(error.path, MAX_EVIDENCE_TEXT) if error.path is not None else None,
    )


def _valid_texts(value: Any) -> Any:
    """``value`` with every string and key passed through :func:`valid_text`."""
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, list):
        return [_valid_texts(item) for item in value]
    if isinstance(value, dict):
        return {_valid_texts(key): _valid_texts(item) for key, item in value.items()}
    return value


@cache
def report_schema() -> dict[str, Any]:
    """Return the report JSON Schema."""
    text = resources.files("signatures").joinpath("schema/report.schema.json").read_text()
    return cast(dict[str, Any], json.loads(text))


def validate_report(doc: object) -> None:
    """Check a decoded report against the JSON Schema.

    Raises WireFormatError naming the first offending path. Needs ``jsonschema`` (server side).
    """
    import jsonschema  # imported here: agents never validate, so they do not carry it

    validator = _validator_class()(report_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is not None:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        reason = error.message
        if len(reason) > 200:  # the message quotes the whole offending value; name the rule
            reason = f"violates {error.validator}={error.validator_value!r}"
        raise WireFormatError(path=path.lstrip(".") or "report", reason=reason)


@cache
def _validator_class() -> Any:
    import jsonschema

    cls = jsonschema.validators.validator_for(report_schema())
    cls.check_schema(report_schema())
    return cls


def without_nul(value: Any) -> Any:
    """``value`` with every NUL in its strings and keys replaced by U+FFFD.

    A hostile extension or package name may carry NUL, which JSON allows but PostgreSQL text
    and JSONB cannot store; the finding is kept, the character is not.
    """
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    return value


#: How NUL appears in a JSON document (a raw NUL byte is not valid JSON).
JSON_NUL = b"\\u0000"


def parse_report(body: bytes) -> Report:
    """Decode, validate and build a report from raw bytes; raises WireFormatError."""
    if len(body) > MAX_REPORT_BYTES:
        raise WireFormatError(path="", reason=f"report exceeds {MAX_REPORT_BYTES} bytes")
    try:
        doc = json.loads(body)
    except ValueError as exc:  # not UTF-8, not JSON, or an integer past Python's digit limit
        raise WireFormatError(path="", reason=f"not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise WireFormatError(path="", reason="JSON nested too deeply") from exc
    if JSON_NUL in body:
        doc = without_nul(doc)
    try:
        validate_report(doc)
    except RecursionError as exc:
        raise WireFormatError(path="", reason="JSON nested too deeply") from exc
    return Report.from_dict(doc)
