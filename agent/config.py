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


BOTH = ("scan", "run")  # `scan --once` and the `run` service
RUN = ("run",)  # the schedule, spool, delivery, watchdog and capture exist in `run` only


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str
    minimum: float | None = None  # for numbers; None keeps the historic "must be positive"
    maximum: float | None = None
    used_by: tuple[str, ...] = BOTH  # the commands that honour it (a test checks the scanners')


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
        "enrollment_token_file",
        str,
        "",
        "File holding an enrollment token; `run` enrolls with it when not yet enrolled, and "
        "again after a cloned-machine rekey.",
        used_by=RUN,
    ),
    Setting(
        "scanners",
        str,
        "",
        "Comma-separated names of the scanners `scan --once` (unless `--only` is given) and `run` "
        "use; empty means every built-in scanner.",
    ),
    Setting(
        "scan_interval_seconds",
        float,
        3600.0,
        "Time between two scans by `run`.",
        minimum=1.0,
        used_by=RUN,
    ),
    Setting(
        "scan_jitter_fraction",
        float,
        0.1,
        "Each interval is stretched or shrunk by up to this fraction at random, so a fleet "
        "installed at the same minute does not scan and report in step.",
        minimum=0.0,
        maximum=0.9,
        used_by=RUN,
    ),
    Setting(
        "full_report_every",
        int,
        24,
        "Send the whole current state every N scans; the scans in between send only changes "
        "(or a heartbeat when nothing changed).",
        minimum=1,
        used_by=RUN,
    ),
    Setting(
        "spool_max_bytes",
        int,
        50 * 1024 * 1024,
        "Disk budget of the offline spool. Over budget, queued reports are compacted into one "
        "full-state report that keeps every finding they carry; only findings the budget cannot "
        "hold (the longest unseen first) are left out, counted in the health "
        "(spool_dropped_findings) and logged.",
        minimum=64 * 1024,
        used_by=RUN,
    ),
    Setting(
        "cycle_timeout_seconds",
        float,
        900.0,
        "A scan cycle still running after this long is reported as overrunning: logged as an "
        "error, and a heartbeat whose health says so (and where the cycle is stuck) is sent "
        "every scan interval until it ends.",
        minimum=1.0,
        used_by=RUN,
    ),
    Setting(
        "retry_initial_seconds",
        float,
        5.0,
        "First wait before retrying delivery to an unreachable collector; doubles each failure.",
        used_by=RUN,
    ),
    Setting(
        "retry_max_seconds",
        float,
        3600.0,
        "Longest wait between two delivery attempts (before jitter).",
        used_by=RUN,
    ),
    Setting(
        "cpu_budget_percent",
        float,
        5.0,
        "Average CPU the agent may use, in percent of one core; over it, the watchdog lowers "
        "the agent's priority and lengthens the scan interval.",
        minimum=0.1,
        maximum=400.0,
        used_by=RUN,
    ),
    Setting(
        "memory_budget_mb",
        float,
        100.0,
        "Resident memory (MB) the agent may use; over it, the watchdog skips the next scan.",
        minimum=10.0,
        used_by=RUN,
    ),
    Setting(
        "network_capture",
        bool,
        True,
        "Watch DNS and TLS/QUIC ClientHellos while `run` is running (Linux, needs CAP_NET_RAW); "
        "only names of AI services are kept.",
        used_by=RUN,
    ),
    Setting(
        "capture_interface",
        str,
        "",
        "Network interface to capture on; empty means every interface.",
        used_by=RUN,
    ),
    Setting(
        "signature_public_key",
        str,
        "",
        "PEM file of the Ed25519 key that signs catalogue bundles; when set, the agent fetches "
        "bundles from the collector, verifies them and scans with the newest good one.",
    ),
    Setting(
        "update_public_key",
        str,
        "",
        "PEM file of the Ed25519 key that signs agent releases (baked by `shadowmap package "
        "--update-key`); when set, `run` installs the signed updates the collector offers it "
        "and refuses any other.",
        used_by=RUN,
    ),
    Setting(
        "update_confirm_seconds",
        float,
        900.0,
        "An installed update that has not delivered a report this long after it started is "
        "rolled back to the previous version.",
        minimum=10.0,
        used_by=RUN,
    ),
    Setting(
        "tags",
        str,
        "",
        "Comma-separated tags of this host (e.g. pilot,finance), baked by `shadowmap package "
        "--tags`; a staged agent-update rollout can target them.",
        used_by=RUN,
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
    enrollment_token_file: str = ""
    scanners: str = ""
    scan_interval_seconds: float = 3600.0
    scan_jitter_fraction: float = 0.1
    full_report_every: int = 24
    spool_max_bytes: int = 50 * 1024 * 1024
    cycle_timeout_seconds: float = 900.0
    retry_initial_seconds: float = 5.0
    retry_max_seconds: float = 3600.0
    cpu_budget_percent: float = 5.0
    memory_budget_mb: float = 100.0
    network_capture: bool = True
    capture_interface: str = ""
    signature_public_key: str = ""
    update_public_key: str = ""
    update_confirm_seconds: float = 900.0
    tags: str = ""

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
    if setting.type in (float, int):
        return _coerce_number(setting, value, source)
    if not isinstance(value, str):
        raise ConfigError(setting.name, f"expected text, got {value!r}", source=source)
    return value


def _coerce_number(setting: Setting, value: Any, source: str) -> float | int:
    if isinstance(value, bool):
        raise ConfigError(setting.name, f"expected a number, got {value!r}", source=source)
    try:
        number: float | int = int(value) if setting.type is int else float(value)
    except (TypeError, ValueError):
        kind = "a whole number" if setting.type is int else "a number"
        raise ConfigError(setting.name, f"expected {kind}, got {value!r}", source=source) from None
    if setting.type is int and isinstance(value, float) and value != int(value):
        raise ConfigError(setting.name, f"expected a whole number, got {value!r}", source=source)
    if setting.minimum is None and number <= 0:
        raise ConfigError(setting.name, "must be positive", source=source)
    if setting.minimum is not None and number < setting.minimum:
        raise ConfigError(setting.name, f"must be at least {setting.minimum:g}", source=source)
    if setting.maximum is not None and number > setting.maximum:
        raise ConfigError(setting.name, f"must be at most {setting.maximum:g}", source=source)
    return number


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
    if values["retry_max_seconds"] < values["retry_initial_seconds"]:
        raise ConfigError(
            "retry_max_seconds", "must be at least retry_initial_seconds", source="settings"
        )
    return AgentSettings(**{f.name: values[f.name] for f in fields(AgentSettings)})


_COMMANDS = {"scan": "`scan --once`", "run": "`run`"}


def settings_reference() -> str:
    """Return docs/agent-settings.md: every setting with its default, environment name and help.

    Regenerate with ``python -m agent.config > docs/agent-settings.md``; a test keeps it current.
    """
    lines = [
        "# Agent settings",
        "",
        "<!-- Generated by `python -m agent.config > docs/agent-settings.md`; "
        "tests/agent/test_config_reference.py fails when this file drifts. -->",
        "",
        "The agent reads one TOML file (`--config`, packaged as `/etc/shadowmap-agent/agent.toml`)",
        "with the settings in an `[agent]` table; each can be overridden by an environment",
        "variable, and a few by command-line flags (`--server`, `--state-dir`). Later sources win:",
        "defaults < file < environment < flags. Every value is validated at start; a bad one stops",
        "the agent with an error naming the setting and where it came from. *Used by* says which",
        "commands honour a setting: `scan --once` and the `run` service build their scanners the",
        "same way, from the same settings and catalogue; schedule, spool, delivery, watchdog and",
        "capture exist in `run` only.",
        "",
        "| Setting | Type | Default | Environment variable | Used by | Meaning |",
        "|---|---|---|---|---|---|",
    ]
    for setting in SETTINGS:
        if setting.default is None:
            default = "platform default (see below)"
        elif setting.type is bool:
            default = "`true`" if setting.default else "`false`"
        elif setting.type is str:
            default = f'`"{setting.default}"`'
        else:
            default = f"`{setting.default}`"
        bounds = []
        if setting.minimum is not None:
            bounds.append(f"at least {setting.minimum:g}")
        if setting.maximum is not None:
            bounds.append(f"at most {setting.maximum:g}")
        help_text = setting.help + (f" ({', '.join(bounds)}.)" if bounds else "")
        used_by = ", ".join(_COMMANDS[command] for command in setting.used_by)
        lines.append(
            f"| `{setting.name}` | {setting.type.__name__} | {default} | "
            f"`{ENV_PREFIX}{setting.name.upper()}` | {used_by} | {help_text} |"
        )
    lines += [
        "",
        "`state_dir` defaults to `/var/lib/shadowmap-agent` when running as root, "
        "`$XDG_STATE_HOME/shadowmap-agent` otherwise, and `%PROGRAMDATA%\\Shadowmap\\agent` on "
        "Windows.",
        "",
        "Example `agent.toml`:",
        "",
        "```toml",
        "[agent]",
        'server_url = "https://shadowmap.example.com"',
        'ca_file = "/etc/shadowmap-agent/ca.pem"',
        'enrollment_token_file = "/etc/shadowmap-agent/enroll-token"',
        "scan_interval_seconds = 3600",
        "```",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    sys.stdout.write(settings_reference())
