"""Which catalogue the agent scans with: the newest verified bundle, else the packaged one."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from agent.config import AgentSettings
from agent.errors import ConfigError
from agent.identity import Credential
from agent.reporter import Reporter
from signatures import (
    BundleError,
    BundleInfo,
    Catalogue,
    install_bundle,
    load_catalogue,
    load_installed_bundle,
    load_public_key,
)

if TYPE_CHECKING:  # cryptography loads only when a key is configured
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

log = logging.getLogger(__name__)


def bundle_dir(settings: AgentSettings) -> Path:
    return settings.state_path / "signatures"


def _public_key(settings: AgentSettings) -> Ed25519PublicKey | None:
    if not settings.signature_public_key:
        return None
    try:
        return load_public_key(Path(settings.signature_public_key).read_bytes())
    except OSError as exc:
        raise ConfigError("signature_public_key", f"cannot read the key: {exc}") from exc
    except BundleError as exc:
        raise ConfigError("signature_public_key", str(exc)) from exc


def active_catalogue(settings: AgentSettings) -> Catalogue:
    """Return the newest installed bundle that verifies, or the catalogue shipped with the agent."""
    key = _public_key(settings)
    if key is not None:
        info = load_installed_bundle(bundle_dir(settings), key)
        if info is not None:
            return info.catalogue
    return load_catalogue()


def update_signatures(
    settings: AgentSettings, reporter: Reporter, credential: Credential
) -> BundleInfo | None:
    """Fetch the collector's newest bundle, verify it and swap it in; None when already current.

    Raises ConfigError without a public key, BundleError for an untrusted bundle (the last good
    bundle stays in use), and ReportError when the collector cannot be reached.
    """
    key = _public_key(settings)
    if key is None:
        raise ConfigError("signature_public_key", "set it to verify catalogue bundles")
    directory = bundle_dir(settings)
    etag_file = directory / "etag"
    etag = etag_file.read_text().strip() if etag_file.is_file() else None
    data, new_etag = reporter.fetch_signatures(credential, etag=etag)
    if data is None:
        return None
    info = install_bundle(data, public_key=key, state_dir=directory)
    if new_etag:
        etag_file.write_text(new_etag)
    log.info("installed catalogue bundle %s (%s)", info.bundle_version, info.catalogue.version)
    return info
