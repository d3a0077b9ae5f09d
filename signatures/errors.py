"""Errors raised by the signatures package.

Exception tree::

    SignaturesError
     ├── CatalogueError      a catalogue file or entry is invalid (file, entry, reason)
     ├── BundleError         a signed bundle is malformed, tampered with or untrusted
     ├── WireFormatError     a report document does not follow the wire format (path, reason)
     └── ManifestError       an extension manifest (plugin.xml) cannot be read (reason)
"""

from __future__ import annotations


class SignaturesError(Exception):
    """Base class for every error raised by ``signatures``."""


class CatalogueError(SignaturesError):
    """A catalogue file or one of its entries is invalid."""

    def __init__(self, *, file: str, entry: str | None, reason: str) -> None:
        self.file = file
        self.entry = entry
        self.reason = reason
        where = f"{file}: {entry}" if entry else file
        super().__init__(f"{where}: {reason}")


class BundleError(SignaturesError):
    """A signature bundle cannot be trusted or read."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class WireFormatError(SignaturesError):
    """A report does not follow the wire format."""

    def __init__(self, *, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


class ManifestError(SignaturesError):
    """An extension manifest is malformed or refused (a DTD in plugin.xml)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
