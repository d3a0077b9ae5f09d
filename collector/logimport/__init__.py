"""Server-side import of DNS and proxy logs (Zeek, BIND, dnsmasq/Pi-hole, Windows DNS, Squid)."""

from collector.logimport.errors import LogImportError, MalformedLine, UnknownLogFormat
from collector.logimport.importer import (
    FORMATS,
    ImportStats,
    LogImport,
    ProgressCallback,
    import_log,
    read_log,
)

__all__ = [
    "FORMATS",
    "ImportStats",
    "LogImport",
    "LogImportError",
    "MalformedLine",
    "ProgressCallback",
    "UnknownLogFormat",
    "import_log",
    "read_log",
]
