"""The connector's settings (token from a file or the environment, never shown) and the
`shadowmap integrations ciso-assistant push` command against the stand-in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from server.cli import main
from server.config import ServerSettings
from server.errors import SettingsError
from server.integrations.ciso_assistant import CisoAssistantConfig
from server.register import service
from server.register.schemas import EntryInput
from tests.server.integrations.ciso_standin import StandIn, serve

TOKEN = "s" * 64
FOLDER = "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"


def test_the_token_comes_from_a_file_or_the_environment_and_never_shows(tmp_path: Path) -> None:
    token_file = tmp_path / "ca-token"
    token_file.write_text(TOKEN + "\n")
    settings = ServerSettings(
        ciso_assistant_url="https://ciso.example.com/api/",
        ciso_assistant_token_file=token_file,
        ciso_assistant_folder_id=FOLDER.upper(),
    )
    config = CisoAssistantConfig.from_settings(settings)
    assert config.token.get_secret_value() == TOKEN
    assert config.api_url == "https://ciso.example.com/api" and config.folder_id == FOLDER
    assert TOKEN not in repr(config) and TOKEN not in repr(settings)

    from_env = ServerSettings(
        ciso_assistant_url="https://ciso.example.com/api",
        ciso_assistant_token=TOKEN,  # type: ignore[arg-type]
        ciso_assistant_folder_id=FOLDER,
    )
    assert CisoAssistantConfig.from_settings(from_env).token.get_secret_value() == TOKEN
    assert TOKEN not in repr(from_env)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"ciso_assistant_url": None}, "ciso_assistant_url"),
        ({"ciso_assistant_folder_id": None}, "ciso_assistant_folder_id"),
        ({"ciso_assistant_token_file": None}, "ciso_assistant_token_file"),
        ({"ciso_assistant_token": TOKEN}, "not both"),
        ({"ciso_assistant_token_file": Path("/nonexistent/token")}, "cannot read"),
    ],
)
def test_missing_or_conflicting_settings_are_named(
    tmp_path: Path, overrides: dict[str, object], named: str
) -> None:
    token_file = tmp_path / "ca-token"
    token_file.write_text(TOKEN)
    values: dict[str, object] = {
        "ciso_assistant_url": "https://ciso.example.com/api",
        "ciso_assistant_token_file": token_file,
        "ciso_assistant_folder_id": FOLDER,
        **overrides,
    }
    with pytest.raises(SettingsError, match=named):
        CisoAssistantConfig.from_settings(ServerSettings(**values))  # type: ignore[arg-type]


def test_a_folder_id_must_be_a_uuid() -> None:
    from server.config import load_settings

    with pytest.raises(SettingsError, match="ciso_assistant_folder_id"):
        load_settings(ciso_assistant_folder_id="AI register")


@pytest.fixture
def standin() -> StandIn:
    return StandIn(token=TOKEN)


@pytest.fixture
def api_url(standin: StandIn) -> Iterator[str]:
    with serve(standin) as url:
        yield url


def test_push_command_prints_what_it_did(
    tmp_path: Path,
    standin: StandIn,
    api_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = standin.add_folder("AI register")
    token_file = tmp_path / "ca-token"
    token_file.write_text(TOKEN)
    for name, value in {
        "SHADOWMAP_DATA_DIR": str(tmp_path),
        "SHADOWMAP_PUBLIC_URL": "https://shadowmap.example.com",
        "SHADOWMAP_CISO_ASSISTANT_URL": api_url,
        "SHADOWMAP_CISO_ASSISTANT_TOKEN_FILE": str(token_file),
        "SHADOWMAP_CISO_ASSISTANT_FOLDER_ID": folder,
    }.items():
        monkeypatch.setenv(name, value)
    engine = make_engine(f"sqlite:///{tmp_path / 'shadowmap.db'}")
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as session:
        fields = EntryInput(
            title="ChatGPT",
            ai_system="ChatGPT",
            business_owner="Dana",
            purpose="Drafting",
            risk_level="low",
            controls="MFA",
        )
        register_id = service.create_entry(session, actor="rita", fields=fields).register_id
        service.decide_entry(
            session,
            actor="rita",
            register_id=register_id,
            expected_version=1,
            decision="approved",
            rationale="ok",
            today=dt.date(2026, 11, 28),
        )
    engine.dispose()

    # The connector calls out through the server's one outbound client: a CISO Assistant on a
    # loopback address is refused (nothing is sent) until the allow-list names it.
    assert main(["integrations", "ciso-assistant", "push", "--dry-run"]) == 2
    assert "SHADOWMAP_OUTBOUND_ALLOW" in capsys.readouterr().err
    assert standin.requests == []
    monkeypatch.setenv("SHADOWMAP_OUTBOUND_ALLOW", "127.0.0.1/32")

    assert main(["integrations", "ciso-assistant", "push", "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert f"would create asset {register_id}" in dry
    assert "(dry run): 3 created" in dry and standin.writes() == []

    assert main(["integrations", "ciso-assistant", "push"]) == 0
    out = capsys.readouterr().out
    asset_id = next(iter(standin.objects["assets"]))
    assert f"created asset {register_id} -> {asset_id}" in out
    assert f"created applied control {register_id}/control/1 -> " in out
    assert "CISO Assistant push: 3 created, 0 updated" in out

    assert main(["integrations", "ciso-assistant", "push"]) == 0
    assert "0 created, 0 updated, 0 recreated, 3 skipped" in capsys.readouterr().out

    # An object CISO Assistant refuses: reported, the rest pushed, exit 1 at the end.
    control_id = next(iter(standin.objects["applied-controls"]))
    standin.delete("applied-controls", control_id)
    standin.write_folders = set()
    assert main(["integrations", "ciso-assistant", "push"]) == 1
    captured = capsys.readouterr()
    assert f"failed applied control {register_id}/control/1" in captured.out
    assert "HTTP 403 in folder" in captured.out and "role" in captured.out
    assert "1 object(s) could not be pushed" in captured.err
    standin.write_folders = None

    monkeypatch.setenv("SHADOWMAP_CISO_ASSISTANT_TOKEN_FILE", str(tmp_path / "wrong"))
    (tmp_path / "wrong").write_text("w" * 64)
    assert main(["integrations", "ciso-assistant", "push"]) == 2
    captured = capsys.readouterr()
    assert "error: ciso_assistant: the token was refused (HTTP 401" in captured.err
    assert "w" * 64 not in captured.err + captured.out and TOKEN not in captured.err
