"""Careful file reading for scanners: size caps, no symlink loops, errors as values.

Every reader raises :class:`Unreadable` (never a bare OSError or ValueError) so a scanner can
turn one bad file into one :class:`ScannerError` and go on with the next.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import plistlib
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.parsers.expat import ExpatError

from agent.scanners.base import ScanContext
from signatures import ScannerError

MAX_JSON_BYTES = 16 * 1024 * 1024  # browser Preferences can be several MB; osquery caps at 50
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_SMALL_BYTES = 256 * 1024


class Unreadable(Exception):
    """A file or directory that a scanner could not use."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")

    def to_error(self, scanner: str) -> ScannerError:
        """Return the scanner error this problem is reported as."""
        return ScannerError(scanner=scanner, message=self.reason, path=str(self.path))


class Missing(Unreadable):
    """The file is not there (often normal: scanners try the usual places)."""


# Non-blocking, so that a FIFO planted where a config file should be cannot hang the scan.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def read_bytes(path: Path | str, limit: int) -> bytes:
    """Read a regular file of at most ``limit`` bytes. Raises Missing or Unreadable.

    The file is opened non-blocking, so a FIFO planted where a config file should be cannot
    hang the scan (osquery opens with PF_NONBLOCK for the same reason).
    """
    try:
        descriptor = os.open(path, _READ_FLAGS)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise Missing(path, "missing") from exc
    except OSError as exc:
        raise Unreadable(path, _os_reason(exc)) from exc
    except ValueError as exc:  # a NUL byte in a path built from what a file said
        raise Unreadable(path, f"unusable path: {exc}") from exc
    try:
        with open(descriptor, "rb", closefd=True) as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise Unreadable(path, "not a regular file")
            if info.st_size > limit:
                raise Unreadable(path, f"too large ({info.st_size} bytes, limit {limit})")
            # Ask for the size fstat gave (plus one byte to notice growth): read(limit) would
            # allocate the whole limit for every small file.
            data = handle.read(min(info.st_size, limit) + 1)
    except OSError as exc:
        raise Unreadable(path, _os_reason(exc)) from exc
    if len(data) > limit:  # grew while we read it
        raise Unreadable(path, f"too large (over {limit} bytes)")
    return data


def read_head(path: Path | str, limit: int) -> bytes:
    """Read at most the first ``limit`` bytes of a regular file. Raises Missing or Unreadable."""
    try:
        descriptor = os.open(path, _READ_FLAGS)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise Missing(path, "missing") from exc
    except OSError as exc:
        raise Unreadable(path, _os_reason(exc)) from exc
    except ValueError as exc:  # a NUL byte in a path built from what a file said
        raise Unreadable(path, f"unusable path: {exc}") from exc
    try:
        with open(descriptor, "rb", closefd=True) as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise Unreadable(path, "not a regular file")
            return handle.read(limit)
    except OSError as exc:
        raise Unreadable(path, _os_reason(exc)) from exc


def read_text(path: Path | str, limit: int = MAX_SMALL_BYTES) -> str:
    """Read a small text file, replacing undecodable bytes. Raises Unreadable."""
    return read_bytes(path, limit).decode("utf-8", errors="replace")


def read_json(path: Path | str, limit: int = MAX_JSON_BYTES, *, comments: bool = False) -> Any:
    """Parse a JSON file (optionally JSON with comments). Raises Unreadable."""
    raw = read_bytes(path, limit)
    text = raw.decode("utf-8-sig", errors="replace")
    if comments:
        text = strip_json_comments(text)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise Unreadable(path, f"malformed JSON: {exc}") from exc


def read_plist(path: Path | str, limit: int) -> Any:
    """Parse a property list file (XML or binary). Raises Unreadable.

    plistlib lets more than its own InvalidFileException out of a damaged file: the XML
    parser's ExpatError, IndexError from XML elements in an order no writer produces (a key
    after a root value), and TypeError or RecursionError from a binary plist whose objects
    refer to each other in ways no writer produces.
    """
    raw = read_bytes(path, limit)
    try:
        return plistlib.loads(raw)
    except (ExpatError, ValueError, OverflowError, TypeError, RecursionError, IndexError) as exc:
        raise Unreadable(path, f"malformed property list: {exc!r}"[:300]) from exc


def read_json_object(
    path: Path | str, limit: int = MAX_JSON_BYTES, *, comments: bool = False
) -> dict[str, Any]:
    """Parse a JSON file whose top level must be an object. Raises Unreadable."""
    doc = read_json(path, limit, comments=comments)
    if not isinstance(doc, dict):
        raise Unreadable(path, "malformed JSON: top level is not an object")
    return doc


_JSONC_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.S)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def strip_json_comments(text: str) -> str:
    """Remove // and /* */ comments and trailing commas (VS Code's JSONC), keeping strings."""
    without = _JSONC_TOKEN.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "", text)
    return _TRAILING_COMMA.sub(r"\1", without)


def exists(path: Path) -> bool:
    """Return True when ``path`` exists; errors (loops, permissions) count as absent."""
    try:
        path.stat()
    except (OSError, ValueError):
        return False
    return True


def is_dir(path: Path) -> bool:
    """Return True when ``path`` is a directory; errors count as not a directory."""
    try:
        return stat.S_ISDIR(path.stat().st_mode)
    except (OSError, ValueError):
        return False


def list_dir(path: Path) -> list[os.DirEntry[str]]:
    """List a directory, sorted by name. Raises Unreadable (missing included)."""
    try:
        with os.scandir(path) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except OSError as exc:
        raise Unreadable(path, _os_reason(exc)) from exc
    except ValueError as exc:  # a NUL byte in a path built from what a file said
        raise Unreadable(path, f"unusable path: {exc}") from exc


def usable_home(home: Path) -> bool:
    """Return True for a home a scanner can enter, False for a missing one.

    Raises Unreadable for a home that exists but cannot be listed (permissions, a loop).
    """
    try:
        with os.scandir(home):
            return True
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise Unreadable(home, _os_reason(exc)) from exc


def subdirs(path: Path) -> list[Path]:
    """Return the real (non-symlink) subdirectories of ``path``; missing gives []."""
    if not is_dir(path):
        return []
    return [Path(entry.path) for entry in list_dir(path) if _entry_is_dir(entry, follow=False)]


def _entry_is_dir(entry: os.DirEntry[str], *, follow: bool) -> bool:
    try:
        return entry.is_dir(follow_symlinks=follow)
    except OSError:
        return False


def walk_files(
    top: Path, *, max_depth: int, max_entries: int = 20_000
) -> Iterator[tuple[Path, os.stat_result]]:
    """Yield (path, stat) of regular files under ``top``, never following symlinks.

    Depth and entry caps keep a huge or looping tree from stalling a scan. Raises Unreadable
    only for ``top`` itself; unreadable subdirectories are skipped.
    """
    budget = max_entries
    stack: list[tuple[Path, int]] = [(top, 0)]
    first = True
    while stack and budget > 0:
        directory, depth = stack.pop()
        try:
            with os.scandir(directory) as entries:
                listing = list(entries)
        except OSError as exc:
            if first:
                raise Unreadable(directory, _os_reason(exc)) from exc
            continue
        first = False
        for entry in listing:
            budget -= 1
            if budget <= 0:
                break
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if depth + 1 <= max_depth:
                        stack.append((Path(entry.path), depth + 1))
                elif entry.is_file(follow_symlinks=False):
                    yield Path(entry.path), entry.stat(follow_symlinks=False)
            except OSError:
                continue


def rerooted(ctx: ScanContext, path: str) -> Path:
    """Map an absolute path written inside a scanned file onto the scan root."""
    if re.match(r"^/[A-Za-z]:/", path):  # VS Code writes Windows paths as "/c:/Users/..."
        path = path[1:]
    if ctx.root == Path("/") or Path(path).is_relative_to(ctx.root):
        return Path(path)  # live, or a tree written in place (its paths already under root)
    if re.match(r"^[A-Za-z]:[\\/]", path):  # a Windows path inside a mounted Windows image
        return ctx.root / path[3:].replace("\\", "/")
    return ctx.path(path)


def layouts(ctx: ScanContext) -> frozenset[str]:
    """Return the OS layouts to look for: this OS live, every OS in a mounted image."""
    if ctx.root == Path("/"):
        return frozenset({ctx.platform})
    return frozenset({"linux", "darwin", "windows"})


def webkit_time(value: object) -> str | None:
    """Convert Chromium's microseconds since 1601 (int or text) to RFC 3339, or None."""
    try:
        micros = int(str(value))
    except (TypeError, ValueError):
        return None
    if micros <= 0:
        return None
    seconds = micros / 1_000_000 - 11_644_473_600
    return unix_time(seconds)


def unix_time(seconds: float | None) -> str | None:
    """Format seconds since the epoch as RFC 3339 UTC, or None when unusable."""
    if seconds is None or seconds <= 0:
        return None
    try:
        moment = dt.datetime.fromtimestamp(int(seconds), dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat().replace("+00:00", "Z")


def string_list(value: object, limit: int = 256) -> list[str]:
    """Return the string items of a JSON list (other items dropped), clipped for evidence."""
    if not isinstance(value, list):
        return []
    return [item[:1024] for item in value if isinstance(item, str)][:limit]


def mapping(value: object) -> dict[str, Any]:
    """Return a JSON value when it is an object, else an empty dict."""
    return value if isinstance(value, dict) else {}


def text(value: object, limit: int = 512) -> str | None:
    """Return a JSON value as clipped text when it is a string, else None."""
    return value[:limit] if isinstance(value, str) else None


def _os_reason(exc: OSError) -> str:
    reason = exc.strerror or type(exc).__name__
    return f"unreadable: {reason}"
