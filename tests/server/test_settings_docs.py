"""Every server setting is documented, and bad values are refused with the setting's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import ServerSettings, load_settings
from server.errors import SettingsError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_every_setting_is_documented_with_help() -> None:
    text = DOCS.read_text()
    for name, field in ServerSettings.model_fields.items():
        assert f"`{name}`" in text and f"`SHADOWMAP_{name.upper()}`" in text, name
        assert field.description, f"{name} has no help text"


@pytest.mark.parametrize(
    ("variable", "value", "setting"),
    [
        ("SHADOWMAP_PORT", "99999", "port"),
        ("SHADOWMAP_PUBLIC_URL", "ftp://x", "public_url"),
        ("SHADOWMAP_SESSION_HOURS", "0", "session_hours"),
        ("SHADOWMAP_TYPO", "1", "typo"),
    ],
)
def test_invalid_settings_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, setting: str
) -> None:
    monkeypatch.setenv(variable, value)
    if setting == "typo":
        # Unknown SHADOWMAP_* variables are ignored by the environment source; unknown
        # keyword settings are refused.
        with pytest.raises(SettingsError, match="typo"):
            load_settings(typo=1)
        return
    with pytest.raises(SettingsError, match=setting):
        load_settings()
