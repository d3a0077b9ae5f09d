"""Signed catalogue bundles: compile the YAML into one versioned JSON file signed with Ed25519.

A bundle is a JSON envelope ``{"format", "key_id", "signature", "payload"}`` where ``payload``
is the canonical JSON text of ``{"bundle_version", "catalogue_version", "created", "services"}``
and ``signature`` is the base64 Ed25519 signature of the payload's UTF-8 bytes. The agent
verifies before use and keeps the last good bundle: ``current.json`` and ``previous.json``
under its state directory, swapped in atomically.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signatures.errors import BundleError, CatalogueError
from signatures.loader import COMPILED_FORMAT, parse_document
from signatures.model import INDICATOR_KEYS, Catalogue, IndicatorKind, RiskAttributes, Service

BUNDLE_FORMAT = "shadowmap-signatures/1"
CURRENT_NAME = "current.json"
PREVIOUS_NAME = "previous.json"
_KIND_KEYS = {kind: key for key, kind in INDICATOR_KEYS.items()}

# cryptography is imported where a key is used, not with the package: its bindings are about
# 10 MB of an agent's memory, and an agent without a configured key never needs them.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )


@dataclass(frozen=True, slots=True)
class BundleInfo:
    """A verified bundle: its catalogue and the metadata it was signed with."""

    bundle_version: int
    catalogue: Catalogue
    created: str
    key_id: str


def generate_keypair() -> tuple[bytes, bytes]:
    """Return a new (private PEM, public PEM) Ed25519 key pair."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def write_keypair(directory: Path) -> tuple[Path, Path]:
    """Write ``signing-key.pem`` (mode 0600) and ``signing-key.pub.pem`` into a directory.

    Raises BundleError if a key is already there: a signing key is never overwritten.
    """
    directory.mkdir(parents=True, exist_ok=True)
    private_path = directory / "signing-key.pem"
    public_path = directory / "signing-key.pub.pem"
    if private_path.exists() or public_path.exists():
        raise BundleError(f"{directory} already holds a signing key; refusing to overwrite it")
    private_pem, public_pem = generate_keypair()
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)
    public_path.write_bytes(public_pem)
    return private_path, public_path


def load_private_key(data: bytes) -> Ed25519PrivateKey:
    """Read a PEM Ed25519 private key; raises BundleError for anything else."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise BundleError(f"cannot read the signing key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError("the signing key is not an Ed25519 key")
    return key


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """Read a PEM (or raw 32-byte) Ed25519 public key; raises BundleError for anything else."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        if len(data) == 32:
            return Ed25519PublicKey.from_public_bytes(data)
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise BundleError(f"cannot read the public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError("the public key is not an Ed25519 key")
    return key


# An Ed25519 SubjectPublicKeyInfo is always this DER prefix and the 32-byte key (RFC 8410).
_ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
_PEM_PUBLIC = re.compile(rb"-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----")


def ed25519_public_bytes(data: bytes) -> bytes:
    """Return the raw 32-byte key of a PEM (or raw) Ed25519 public key, without cryptography.

    What an agent checks at start-up, so that it loads cryptography only when it verifies a
    signature. Raises BundleError for anything :func:`load_public_key` would refuse.
    """
    if len(data) == 32:
        return data
    found = _PEM_PUBLIC.search(data)
    if found is None:
        raise BundleError("cannot read the public key: not a PEM public key")
    try:
        der = base64.b64decode(b"".join(found.group(1).split()), validate=True)
    except binascii.Error as exc:
        raise BundleError(f"cannot read the public key: {exc}") from exc
    if len(der) != len(_ED25519_SPKI_PREFIX) + 32 or not der.startswith(_ED25519_SPKI_PREFIX):
        raise BundleError("the public key is not an Ed25519 key")
    return der[len(_ED25519_SPKI_PREFIX) :]


def key_id(public_key: Ed25519PublicKey) -> str:
    """Return a short fingerprint naming a public key."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


_DEFAULT_RISK = RiskAttributes()


def service_to_dict(service: Service) -> dict[str, Any]:
    """Return a service in the catalogue file layout (without examples).

    Risk attributes that are unknown and empty lists are left out, as in a catalogue file:
    the loader reads them back as the same defaults, and a 2,000-service bundle stays small.
    """
    indicators: dict[str, list[str] | list[int]] = {}
    for kind, values in service.indicators.items():
        key = _KIND_KEYS[kind]
        indicators[key] = [int(v) for v in values] if kind is IndicatorKind.PORT else list(values)
    risk = {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in (
            ("trains_on_user_data", service.risk.trains_on_user_data),
            ("enterprise_tier", service.risk.enterprise_tier),
            ("zero_retention", service.risk.zero_retention),
            ("hq_country", service.risk.hq_country),
            ("data_residency", service.risk.data_residency),
            ("certifications", service.risk.certifications),
        )
        if value != getattr(_DEFAULT_RISK, key)
    }
    entry: dict[str, Any] = {
        "id": service.id,
        "name": service.name,
        "vendor": service.vendor,
        "category": service.category.value,
        "indicators": indicators,
        "sources": list(service.sources),
    }
    if service.deployment:
        entry["deployment"] = list(service.deployment)
    if risk:
        entry["risk"] = risk
    if service.description:
        entry["description"] = service.description
    if service.last_reviewed is not None:
        entry["last_reviewed"] = service.last_reviewed.isoformat()
    if service.malicious is not None:
        malicious: dict[str, Any] = {"report": service.malicious.report}
        if service.malicious.reported_on is not None:
            malicious["reported_on"] = service.malicious.reported_on.isoformat()
        if service.malicious.summary:
            malicious["summary"] = service.malicious.summary
        entry["malicious"] = malicious
    return entry


def compile_catalogue(catalogue: Catalogue) -> bytes:
    """Return the catalogue as the JSON a packaged agent loads instead of the YAML files.

    Services keep their order and, grouped by file, the file they came from; the loader uses
    it only while ``catalogue.version`` is the digest of the YAML files beside it.
    """
    files: list[tuple[str, list[dict[str, Any]]]] = []
    for service in catalogue.services:
        if not files or files[-1][0] != service.source_file:
            files.append((service.source_file, []))
        files[-1][1].append(service_to_dict(service))
    document = {
        "format": COMPILED_FORMAT,
        "catalogue_version": catalogue.version,
        "files": files,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def build_bundle(
    catalogue: Catalogue,
    private_key: Ed25519PrivateKey,
    *,
    bundle_version: int | None = None,
    created: dt.datetime | None = None,
) -> bytes:
    """Compile a catalogue into a signed bundle; the version defaults to the creation time."""
    now = (created or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    version = bundle_version if bundle_version is not None else int(now.strftime("%Y%m%d%H%M%S"))
    payload = {
        "bundle_version": version,
        "catalogue_version": catalogue.version,
        "created": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "services": [service_to_dict(service) for service in catalogue.services],
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    signature = private_key.sign(text.encode())
    envelope = {
        "format": BUNDLE_FORMAT,
        "key_id": key_id(private_key.public_key()),
        "signature": base64.b64encode(signature).decode(),
        "payload": text,
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


def verify_bundle(data: bytes, public_key: Ed25519PublicKey) -> BundleInfo:
    """Verify a bundle's signature and contents; raises BundleError when it cannot be trusted."""
    from cryptography.exceptions import InvalidSignature

    try:
        envelope = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"bundle is not JSON: {exc}") from exc
    if not isinstance(envelope, Mapping) or envelope.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"not a {BUNDLE_FORMAT} bundle")
    payload_text, signature_text = envelope.get("payload"), envelope.get("signature")
    if not isinstance(payload_text, str) or not isinstance(signature_text, str):
        raise BundleError("bundle lacks a payload or a signature")
    try:
        signature = base64.b64decode(signature_text, validate=True)
        public_key.verify(signature, payload_text.encode())
    except (binascii.Error, InvalidSignature) as exc:
        raise BundleError("bad signature: the bundle was altered or signed by another key") from exc
    try:
        payload = json.loads(payload_text)
    except ValueError as exc:
        raise BundleError(f"bundle payload is not JSON: {exc}") from exc
    if not isinstance(payload, Mapping):
        raise BundleError("bundle payload is not an object")
    version = payload.get("bundle_version")
    catalogue_version = payload.get("catalogue_version")
    if not isinstance(version, int) or not isinstance(catalogue_version, str):
        raise BundleError("bundle payload lacks its versions")
    try:
        services = parse_document("bundle", {"services": payload.get("services")})
    except CatalogueError as exc:
        raise BundleError(f"bundle content is invalid: {exc}") from exc
    ids = [service.id for service in services]
    if len(set(ids)) != len(ids):
        raise BundleError("bundle content is invalid: duplicate service ids")
    return BundleInfo(
        bundle_version=version,
        catalogue=Catalogue(version=catalogue_version, services=tuple(services)),
        created=str(payload.get("created", "")),
        key_id=key_id(public_key),
    )


def install_bundle(data: bytes, *, public_key: Ed25519PublicKey, state_dir: Path) -> BundleInfo:
    """Verify a bundle and atomically make it current, keeping the previous good one.

    Raises BundleError if the bundle cannot be trusted or is older than the installed one.
    """
    info = verify_bundle(data, public_key)
    state_dir.mkdir(parents=True, exist_ok=True)
    current = state_dir / CURRENT_NAME
    installed = _read_verified(current, public_key)
    if installed is not None and info.bundle_version < installed.bundle_version:
        raise BundleError(
            f"bundle version {info.bundle_version} is older than the installed "
            f"{installed.bundle_version}; refusing to downgrade"
        )
    if installed is not None:
        _atomic_write(state_dir / PREVIOUS_NAME, current.read_bytes())
    _atomic_write(current, data)
    return info


def load_installed_bundle(state_dir: Path, public_key: Ed25519PublicKey) -> BundleInfo | None:
    """Return the newest installed bundle that still verifies, or None when there is none."""
    for name in (CURRENT_NAME, PREVIOUS_NAME):
        info = _read_verified(state_dir / name, public_key)
        if info is not None:
            return info
    return None


def _read_verified(path: Path, public_key: Ed25519PublicKey) -> BundleInfo | None:
    try:
        return verify_bundle(path.read_bytes(), public_key)
    except (OSError, BundleError):
        return None


def _atomic_write(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
