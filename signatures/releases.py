"""Signed agent releases: the manifest an update is checked against before it is installed.

A release is a JSON envelope ``{"format", "key_id", "signature", "payload"}`` like a catalogue
bundle; ``payload`` is the canonical JSON of ``{"version", "platform", "sha256", "size",
"filename", "created"}`` and ``signature`` the base64 Ed25519 signature of its UTF-8 bytes. The
agent verifies the envelope with the public key it was packaged with, then the package bytes
against the signed digest, so neither a foreign key nor a swapped package gets installed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from signatures.bundle import key_id
from signatures.errors import BundleError

if TYPE_CHECKING:  # imported where a key is used (see signatures.bundle)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

RELEASE_FORMAT = "shadowmap-agent-release/1"
MAX_RELEASE_MANIFEST_BYTES = 64 * 1024
_VERSION = re.compile(r"^\d+(\.\d+){1,3}([a-z0-9.+-]{0,32})$")
_PLATFORM = re.compile(r"^(linux|darwin|windows)-[a-z0-9_]{1,16}$")


@dataclass(frozen=True, slots=True)
class ReleaseManifest:
    version: str
    platform: str
    sha256: str
    size: int
    filename: str
    created: str


def version_key(version: str) -> tuple[int, ...]:
    """Order release versions numerically (1.10 after 1.9); raises BundleError if malformed."""
    if not _VERSION.match(version):
        raise BundleError(f"{version!r} is not a release version (e.g. 1.4.2)")
    return tuple(int(part) for part in re.findall(r"\d+", version.split("-")[0])[:4])


def sign_release(
    *, version: str, platform: str, package: bytes, filename: str, private_key: Ed25519PrivateKey
) -> bytes:
    """Return the signed manifest (JSON envelope) of one agent package."""
    version_key(version)
    if not _PLATFORM.match(platform):
        raise BundleError(f"{platform!r} is not a platform (e.g. linux-x86_64)")
    manifest = ReleaseManifest(
        version=version,
        platform=platform,
        sha256=hashlib.sha256(package).hexdigest(),
        size=len(package),
        filename=filename,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    payload = json.dumps(asdict(manifest), sort_keys=True, separators=(",", ":"))
    envelope = {
        "format": RELEASE_FORMAT,
        "key_id": key_id(private_key.public_key()),
        "signature": base64.b64encode(private_key.sign(payload.encode())).decode(),
        "payload": payload,
    }
    return json.dumps(envelope, indent=2).encode()


def verify_release_manifest(data: bytes, public_key: Ed25519PublicKey) -> ReleaseManifest:
    """Check a manifest's signature with ``public_key``; raises BundleError if it fails."""
    from cryptography.exceptions import InvalidSignature

    if len(data) > MAX_RELEASE_MANIFEST_BYTES:
        raise BundleError("the release manifest is too large")
    try:
        envelope = json.loads(data)
        if envelope.get("format") != RELEASE_FORMAT:
            raise BundleError(f"not an agent release (format {envelope.get('format')!r})")
        payload = envelope["payload"]
        signature = base64.b64decode(envelope["signature"], validate=True)
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise BundleError(f"the release manifest is malformed: {exc}") from exc
    if envelope.get("key_id") != key_id(public_key):
        raise BundleError(
            f"the release is signed by key {envelope.get('key_id')!r}, not the pinned "
            f"{key_id(public_key)!r}"
        )
    try:
        public_key.verify(signature, str(payload).encode())
    except InvalidSignature as exc:
        raise BundleError("the release signature does not verify") from exc
    try:
        fields = json.loads(payload)
        manifest = ReleaseManifest(**fields)
    except (ValueError, TypeError) as exc:
        raise BundleError(f"the signed release payload is malformed: {exc}") from exc
    version_key(manifest.version)
    return manifest


def verify_release_package(manifest: ReleaseManifest, package: bytes) -> None:
    """Check package bytes against the signed size and digest; raises BundleError if not."""
    if len(package) != manifest.size:
        raise BundleError(f"the package is {len(package)} bytes, the release says {manifest.size}")
    digest = hashlib.sha256(package).hexdigest()
    if not hmac.compare_digest(digest, manifest.sha256):
        raise BundleError("the package does not match the signed digest (altered in transit?)")
