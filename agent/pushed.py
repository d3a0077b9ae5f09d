"""What the collector tells its agents (the organisation's own mail domains), and its cache.

The collector answers ``GET /api/v1/agents/config`` to an enrolled agent. The agent keeps the
last good answer in its state folder (``collector-config.json``, mode 0600), so that ``scan
--once --json`` (which talks to no collector) and a ``run`` cut off from its collector classify
browser profiles the same way as a connected scan. ``scan --once --server`` fetches it before
scanning; ``run`` before every full report, as it refreshes its signatures.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from agent.errors import ReportError
from agent.identity import Credential
from agent.reporter import Reporter

log = logging.getLogger(__name__)

CACHE_FILE = "collector-config.json"
_MAX_CACHE_BYTES = 256 * 1024
_MAX_DOMAINS = 256
_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True, slots=True)
class PushedConfig:
    """The settings the collector pushes to its agents."""

    organisation_domains: frozenset[str] = frozenset()

    @classmethod
    def from_json(cls, doc: object) -> PushedConfig:
        """Read an answer or a cache; what is malformed is left out, never guessed."""
        domains = doc.get("organisation_domains") if isinstance(doc, dict) else None
        if not isinstance(domains, list):
            return cls()
        clean = {
            domain.strip().lower()
            for domain in domains[:_MAX_DOMAINS]
            if isinstance(domain, str) and _DOMAIN.match(domain.strip().lower())
        }
        return cls(organisation_domains=frozenset(clean))

    def to_json(self) -> dict[str, object]:
        return {"organisation_domains": sorted(self.organisation_domains)}


def load_pushed(state_dir: Path) -> PushedConfig:
    """Return the cached answer of the collector (empty when there is none or it is unusable)."""
    path = state_dir / CACHE_FILE
    try:
        with open(path, "rb") as handle:
            raw = handle.read(_MAX_CACHE_BYTES + 1)
    except FileNotFoundError:
        return PushedConfig()
    except OSError as exc:
        log.warning("cannot read %s: %s", path, exc)
        return PushedConfig()
    if len(raw) > _MAX_CACHE_BYTES:
        log.warning("%s is larger than %d bytes; ignored", path, _MAX_CACHE_BYTES)
        return PushedConfig()
    try:
        return PushedConfig.from_json(json.loads(raw))
    except (ValueError, RecursionError):
        log.warning("%s is not JSON; ignored", path)
        return PushedConfig()


def save_pushed(state_dir: Path, config: PushedConfig) -> None:
    """Cache the collector's answer, readable by the agent's own user only, atomically."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / CACHE_FILE
    tmp = path.with_suffix(".tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(config.to_json(), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def refresh_pushed(reporter: Reporter, credential: Credential, state_dir: Path) -> PushedConfig:
    """Fetch the collector's settings and cache them; on failure keep (and return) the cache."""
    try:
        answer = reporter.fetch_config(credential)
    except ReportError as exc:
        log.warning("collector settings not refreshed, keeping the cached ones: %s", exc)
        return load_pushed(state_dir)
    config = PushedConfig.from_json(answer)
    try:
        save_pushed(state_dir, config)
    except OSError as exc:
        log.warning("cannot cache the collector settings in %s: %s", state_dir, exc)
    return config
