"""Errors raised by log import.

Exception tree::

    LogImportError            the log cannot be imported (path, reason)
     └── UnknownLogFormat     the format name is not one of FORMATS (format)

When ``collector/errors.py`` lands, LogImportError joins its tree under CollectorError.
"""

from __future__ import annotations


class LogImportError(Exception):
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
