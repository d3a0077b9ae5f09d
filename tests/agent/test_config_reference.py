"""Every agent setting is declared once, validated, and documented in docs/agent-settings.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import SETTINGS, AgentSettings, load_settings, settings_reference
from agent.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_the_settings_reference_is_current() -> None:
    documented = (REPO / "docs" / "agent-settings.md").read_text()
    assert documented == settings_reference(), (
        "docs/agent-settings.md is stale: run `python -m agent.config > docs/agent-settings.md`"
    )
    for setting in SETTINGS:
        assert f"`{setting.name}`" in documented


def test_every_setting_has_a_default_matching_the_dataclass() -> None:
    defaults = AgentSettings()
    for setting in SETTINGS:
        if setting.default is not None:
            assert getattr(defaults, setting.name) == setting.default, setting.name


def test_defaults_load_and_validate(tmp_path: Path) -> None:
    loaded = load_settings(None, environ={}, overrides={"state_dir": str(tmp_path)})
    assert loaded.spool_max_bytes == 50 * 1024 * 1024
    assert loaded.cpu_budget_percent == 5.0 and loaded.memory_budget_mb == 100.0


@pytest.mark.parametrize(
    ("environ", "setting", "reason"),
    [
        ({"SHADOWMAP_AGENT_SCAN_JITTER_FRACTION": "0.95"}, "scan_jitter_fraction", "at most"),
        ({"SHADOWMAP_AGENT_FULL_REPORT_EVERY": "2.5"}, "full_report_every", "whole number"),
        ({"SHADOWMAP_AGENT_SPOOL_MAX_BYTES": "1000"}, "spool_max_bytes", "at least"),
        ({"SHADOWMAP_AGENT_SCAN_INTERVAL_SECONDS": "soon"}, "scan_interval_seconds", "number"),
        (
            {
                "SHADOWMAP_AGENT_RETRY_INITIAL_SECONDS": "60",
                "SHADOWMAP_AGENT_RETRY_MAX_SECONDS": "5",
            },
            "retry_max_seconds",
            "retry_initial_seconds",
        ),
    ],
)
def test_bad_values_are_refused_with_the_setting_named(
    environ: dict[str, str], setting: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, environ=environ)
    assert caught.value.setting == setting
    assert reason in str(caught.value)


def test_the_toml_file_accepts_an_agent_table(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text("[agent]\nscan_interval_seconds = 600\nfull_report_every = 6\n")
    loaded = load_settings(config, environ={"SHADOWMAP_AGENT_FULL_REPORT_EVERY": "12"})
    assert loaded.scan_interval_seconds == 600.0
    assert loaded.full_report_every == 12
