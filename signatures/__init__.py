"""Shadowmap's shared vocabulary: the AI service catalogue, its matcher and the report format.

Agents and collectors import from this package root only.
"""

from signatures.errors import BundleError, CatalogueError, SignaturesError, WireFormatError
from signatures.loader import default_data_dir, examples_of, load_catalogue, parse_file
from signatures.matcher import Match, Matcher
from signatures.model import (
    INDICATOR_KEYS,
    Catalogue,
    Category,
    IndicatorKind,
    RiskAttributes,
    Service,
)
from signatures.wire import (
    MAX_FINDINGS,
    MAX_REPORT_BYTES,
    SCHEMA_VERSION,
    AgentInfo,
    Confidence,
    EvidenceValue,
    Finding,
    FindingKind,
    HostInfo,
    Report,
    ReportKind,
    ScannerError,
    format_time,
    parse_report,
    parse_time,
    report_schema,
    utcnow,
    validate_report,
)

__all__ = [
    "INDICATOR_KEYS",
    "MAX_FINDINGS",
    "MAX_REPORT_BYTES",
    "SCHEMA_VERSION",
    "AgentInfo",
    "BundleError",
    "Catalogue",
    "CatalogueError",
    "Category",
    "Confidence",
    "EvidenceValue",
    "Finding",
    "FindingKind",
    "HostInfo",
    "IndicatorKind",
    "Match",
    "Matcher",
    "Report",
    "ReportKind",
    "RiskAttributes",
    "ScannerError",
    "Service",
    "SignaturesError",
    "WireFormatError",
    "default_data_dir",
    "examples_of",
    "format_time",
    "load_catalogue",
    "parse_file",
    "parse_report",
    "parse_time",
    "report_schema",
    "utcnow",
    "validate_report",
]
