"""Find the newest signed catalogue bundle to serve to agents.

The server does not need the signing key: agents verify every bundle against the public key
they were configured with, so a bundle that is altered here is refused there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

MAX_BUNDLE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PublishedBundle:
    path: Path
    version: int
    data: bytes
    sha256: str


def _version(data: bytes) -> int | None:
    try:
        envelope = json.loads(data)
        payload = json.loads(envelope["payload"])
        version = payload["bundle_version"]
    except (ValueError, KeyError, TypeError):
        return None
    return version if isinstance(version, int) else None


def newest_bundle(directory: Path) -> PublishedBundle | None:
    """Return the bundle with the highest version in ``directory``; unreadable files are skipped."""
    best: PublishedBundle | None = None
    try:
        candidates = sorted(directory.glob("*.json"))
    except OSError:
        return None
    for path in candidates:
        try:
            if path.stat().st_size > MAX_BUNDLE_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        version = _version(data)
        if version is None:
            continue
        if best is None or version > best.version:
            best = PublishedBundle(
                path=path, version=version, data=data, sha256=hashlib.sha256(data).hexdigest()
            )
    return best
