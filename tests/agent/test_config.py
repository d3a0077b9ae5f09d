"""Agent settings: file, environment and flags, validated with named errors."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from agent.config import SETTINGS, AgentSettings, load_settings
from agent.errors import ConfigError
from agent.identity import Credential, agent_id, load_credential, save_credential


def test_sources_layer_file_then_environment_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('[agent]\nserver_url = "https://file.example"\ntimeout_seconds = 5\n')
    settings = load_settings(
        config,
        environ={"SHADOWMAP_AGENT_TIMEOUT_SECONDS": "7"},
        overrides={"state_dir": str(tmp_path)},
    )
    assert settings.server_url == "https://file.example"
    assert settings.timeout_seconds == 7.0
    assert settings.state_dir == str(tmp_path)


@pytest.mark.parametrize(
    ("text", "setting"),
    [
        ('server_url = "ftp://x"', "server_url"),
        ("timeout_seconds = -1", "timeout_seconds"),
        ('verify_tls = "perhaps"', "verify_tls"),
        ("colour = 1", "colour"),
        ("not toml at all [", "config"),
    ],
)
def test_bad_settings_name_the_setting(tmp_path: Path, text: str, setting: str) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={})
    assert caught.value.setting == setting


def test_every_setting_is_declared_with_help() -> None:
    declared = {setting.name for setting in SETTINGS}
    assert declared == set(AgentSettings.__dataclass_fields__)
    assert all(setting.help for setting in SETTINGS)


def test_identity_is_stable_and_credentials_are_private(tmp_path: Path) -> None:
    first = agent_id(tmp_path)
    assert agent_id(tmp_path) == first
    save_credential(tmp_path, Credential(server_url="http://s", agent_id=first, secret="smag_1"))
    mode = stat.S_IMODE((tmp_path / "credential.json").stat().st_mode)
    assert mode == 0o600
    assert load_credential(tmp_path).secret == "smag_1"


def test_a_corrupt_identity_is_replaced_and_kept_aside(tmp_path: Path) -> None:
    (tmp_path / "identity.json").write_text("{broken")
    new_id = agent_id(tmp_path)
    assert len(new_id) == 36
    assert (tmp_path / "identity.corrupt").read_text() == "{broken"
