"""Errors raised by log import.

Exception tree (a branch of :class:`collector.errors.CollectorError`)::

    CollectorError
     └── LogImportError            the log cannot be imported (path, reason)
          ├── UnknownLogFormat     the format name is not one of FORMATS (format)
          └── MalformedLine        one line cannot be used (reason); the import counts it
                                   and goes on, it never ends an import
"""

from __future__ import annotations

from collector.errors import CollectorError


class LogImportError(CollectorError):
    """A log file cannot be imported."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


class UnknownLogFormat(LogImportError):
    """The requested log format is not supported."""

    def __init__(self, format_name: str, known: tuple[str, ...]) -> None:
        self.format = format_name
        super().__init__("", f"unknown log format {format_name!r}; known: {', '.join(known)}")


class MalformedLine(LogImportError):
    """A parser met a line it cannot use in a way worth counting (e.g. a bad Zeek header)."""

    def __init__(self, reason: str) -> None:
        super().__init__("", reason)
