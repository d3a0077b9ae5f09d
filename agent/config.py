"""Agent settings: each declared once with its type, default and help text.

Sources, later ones winning: defaults < TOML file < SHADOWMAP_AGENT_<NAME> environment
variables < command-line flags. Validated at start with a ConfigError naming the setting.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from agent.errors import ConfigError

ENV_PREFIX = "SHADOWMAP_AGENT_"


def _default_state_dir() -> str:
    if os.name == "nt":
        return str(Path(os.environ.get("PROGRAMDATA", "C:/ProgramData")) / "Shadowmap" / "agent")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return "/var/lib/shadowmap-agent"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return str(Path(base) / "shadowmap-agent")


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("server_url", str, "", "Collector URL, e.g. https://shadowmap.example.com"),
    Setting("state_dir", str, None, "Where the agent keeps its identity, credential and spool."),
    Setting("verify_tls", bool, True, "Verify the collector's TLS certificate."),
    Setting("ca_file", str, "", "PEM file of the CA that signed the collector's certificate."),
    Setting("timeout_seconds", float, 30.0, "Timeout of one request to the collector."),
    Setting("pseudonymise_users", bool, False, "Replace usernames with a keyed HMAC."),
    Setting(
        "pseudonym_key",
        str,
        "",
        "Secret key of the username HMAC; required when pseudonymise_users is on. Use the same "
        "key fleet-wide so one person maps to one pseudonym everywhere.",
    ),
    Setting(
        "resolve_catalogue_hosts",
        bool,
        False,
        "Resolve the catalogue's exact API host names with DNS (cached by TTL) so open "
        "connections to them are attributed; costs one lookup per host per TTL.",
    ),
    Setting(
        "signature_public_key",
        str,
        "",
        "PEM file of the Ed25519 key that signs catalogue bundles; when set, the agent fetches "
        "bundles from the collector, verifies them and scans with the newest good one.",
    ),
)


@dataclass(frozen=True, slots=True)
class AgentSettings:
    server_url: str = ""
    state_dir: str = ""
    verify_tls: bool = True
    ca_file: str = ""
    timeout_seconds: float = 30.0
    pseudonymise_users: bool = False
    pseudonym_key: str = ""
    resolve_catalogue_hosts: bool = False
    signature_public_key: str = ""

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir)


def _coerce(setting: Setting, value: Any, source: str) -> Any:
    if setting.type is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(setting.name, f"expected true or false, got {value!r}", source=source)
    if setting.type is float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(
                setting.name, f"expected a number, got {value!r}", source=source
            ) from None
        if number <= 0:
            raise ConfigError(setting.name, "must be positive", source=source)
        return number
    if not isinstance(value, str):
        raise ConfigError(setting.name, f"expected text, got {value!r}", source=source)
    return value


def load_settings(
    config_file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> AgentSettings:
    """Build the agent's settings from file, environment and flags; raises ConfigError."""
    environ = os.environ if environ is None else environ
    known = {setting.name: setting for setting in SETTINGS}
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    if config_file is not None:
        try:
            document = tomllib.loads(config_file.read_text())
        except OSError as exc:
            raise ConfigError("config", f"cannot read {config_file}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("config", f"{config_file} is not valid TOML: {exc}") from exc
        section = document.get("agent", document)
        for name, value in section.items():
            if name not in known:
                raise ConfigError(name, "unknown setting", source=str(config_file))
            values[name] = _coerce(known[name], value, str(config_file))
    for name, setting in known.items():
        env_name = ENV_PREFIX + name.upper()
        if env_name in environ:
            values[name] = _coerce(setting, environ[env_name], env_name)
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _coerce(known[name], value, "command line")
    if not values["state_dir"]:
        values["state_dir"] = _default_state_dir()
    url = values["server_url"]
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError("server_url", "must start with http:// or https://")
    values["server_url"] = url.rstrip("/")
    if values["pseudonymise_users"] and len(values["pseudonym_key"]) < 16:
        raise ConfigError("pseudonym_key", "pseudonymise_users needs a key of 16+ characters")
    return AgentSettings(**{f.name: values[f.name] for f in fields(AgentSettings)})
