"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>", sent as
``Shadowmap-Signature: t=<unix seconds>,v1=<hex digest>``; and the keys behind them.

A receiver verifies with :func:`verify_signature` (or the same few lines in any language):
recompute the HMAC of ``f"{t}.".encode() + raw_body`` with its key, compare in constant time,
and refuse timestamps older than the tolerance so that a captured request cannot be replayed.

Keys are never stored: each is derived as HMAC(master key, purpose) from a master key file
in the data directory (created on first use, mode 0600), so the database holds no secret.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from server.errors import InvalidSignature

SIGNATURE_HEADER = "Shadowmap-Signature"
DEFAULT_TOLERANCE = 300


def sign(key: bytes, body: bytes, *, timestamp: int | None = None) -> str:
    """Return the signature header value for ``body``."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(key, f"{moment}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


def verify_signature(
    key: bytes,
    body: bytes,
    header: str | None,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: int | None = None,
) -> int:
    """Check a signature header against ``body``; return its timestamp.

    Raises InvalidSignature when the header is missing or malformed, too old (or too far in
    the future), or no ``v1`` value matches.
    """
    if not header:
        raise InvalidSignature(f"missing {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidSignature("malformed signature header")
    moment = int(time.time()) if now is None else now
    if abs(moment - timestamp) > tolerance:
        raise InvalidSignature("signature timestamp outside the tolerance")
    expected = sign(key, body, timestamp=timestamp).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise InvalidSignature("signature does not match")
    return timestamp


def master_key(data_dir: Path) -> bytes:
    """Return the server's signing master key, creating it (0600) on first use."""
    path = data_dir / "keys" / "signing.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes()
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return path.read_bytes()


def derive_key(master: bytes, purpose: str) -> bytes:
    """Return the signing key for one purpose, e.g. "webhook:<salt>" or "report-webhook"."""
    return hmac.new(master, purpose.encode(), hashlib.sha256).digest()


def key_hex(key: bytes) -> str:
    """The form a key is handed to a receiver in (``whsec_`` + hex)."""
    return "whsec_" + key.hex()


def key_from_hex(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("whsec_"))
