"""IDE extensions: VS Code family with profiles and disabled state, and JetBrains plugins."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

from agent.runner import run_scan
from agent.scanners.ide import IdeExtensionScanner
from signatures import Matcher
from tests.agent.scanners.helpers import context, make_user, run, write


def vscode_extension(
    folder: Path, ext_id: str, version: str, **package: object
) -> dict[str, object]:
    directory = folder / f"{ext_id.lower()}-{version}"
    write(
        directory / "package.json",
        {
            "name": ext_id.split(".")[1],
            "version": version,
            "publisher": ext_id.split(".")[0],
            **package,
        },
    )
    return {
        "identifier": {"id": ext_id},
        "version": version,
        "location": {"$mid": 1, "path": str(directory), "scheme": "file"},
        "relativeLocation": directory.name,
        "metadata": {
            "installedTimestamp": 1764201600000,
            "source": "gallery",
            "publisherDisplayName": ext_id.split(".")[0],
        },
    }


def disabled_db(path: Path, ids: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)"
        )
        connection.execute(
            "INSERT INTO ItemTable VALUES (?, ?)",
            ("extensionsIdentifiers/disabled", json.dumps([{"id": i} for i in ids])),
        )
    connection.close()


def test_vscode_family_with_profiles_obsolete_and_disabled(
    tmp_path: Path, test_matcher: Matcher
) -> None:
    user = make_user(tmp_path, "alice", "linux")
    exts = user.home / ".vscode/extensions"
    copilot = vscode_extension(
        exts,
        "GitHub.copilot",
        "1.250.0",
        displayName="GitHub Copilot",
        categories=["AI", "Machine Learning"],
        contributes={"chatParticipants": [], "commands": []},
    )
    python = vscode_extension(exts, "ms-python.python", "2024.1.0", displayName="Python")
    old = vscode_extension(exts, "GitHub.copilot", "1.200.0")
    write(exts / "extensions.json", [copilot, python, old])
    write(exts / ".obsolete", {"github.copilot-1.200.0": True})
    disabled_db(user.home / ".config/Code/User/globalStorage/state.vscdb", ["ms-python.python"])
    write(
        user.home / ".config/Code/User/globalStorage/storage.json",
        {"userDataProfiles": [{"location": "-3f2a1b", "name": "Data Science"}]},
    )
    profile_ext = vscode_extension(exts, "com.example.ai-assistant", "0.1.0")
    write(user.home / ".config/Code/User/profiles/-3f2a1b/extensions.json", [profile_ext])
    # Cursor without extensions.json: found by a directory scan.
    write(
        user.home / ".cursor/extensions/anysphere.cursorpyright-1.0.2/package.json",
        {"name": "cursorpyright", "version": "1.0.2"},
    )
    write(
        user.home / ".cursor/extensions/github.copilot-chat-0.20.0-universal/package.json",
        {"name": "copilot-chat"},
    )
    # Windsurf on a macOS layout, with a corrupt listing.
    mac = make_user(tmp_path, "bob", "darwin")
    write(mac.home / ".windsurf/extensions/extensions.json", '[{"identifier": ')

    observations, errors = run(IdeExtensionScanner(), context(tmp_path, user, mac))
    assert [Path(e.path or "").parts[-3:] for e in errors] == [
        (".windsurf", "extensions", "extensions.json")
    ]
    rows = {
        (
            o.evidence["ide"],
            o.evidence["profile"],
            o.indicator,
            o.evidence["version"],
            o.evidence["enabled"],
        )
        for o in observations
    }
    assert rows == {
        ("vscode", "default", "GitHub.copilot", "1.250.0", True),
        ("vscode", "default", "ms-python.python", "2024.1.0", False),
        ("vscode", "Data Science", "com.example.ai-assistant", "0.1.0", True),
        ("cursor", "default", "anysphere.cursorpyright", "1.0.2", True),
        ("cursor", "default", "github.copilot-chat", "0.20.0", True),
    }
    copilot_seen = next(o for o in observations if o.indicator == "GitHub.copilot")
    assert copilot_seen.evidence["name"] == "GitHub Copilot"
    assert copilot_seen.evidence["install_time"] == "2025-11-27T00:00:00Z"
    assert copilot_seen.evidence["source"] == "gallery"
    assert copilot_seen.hints["categories"] == ["AI", "Machine Learning"]
    assert copilot_seen.hints["contributes"] == ["chatParticipants", "commands"]

    result = run_scan(context(tmp_path, user, mac), (IdeExtensionScanner(),), test_matcher)
    assert sorted((f.indicator, f.evidence["profile"]) for f in result.findings) == [
        ("GitHub.copilot", "default"),
        ("com.example.ai-assistant", "Data Science"),
        ("github.copilot-chat", "default"),  # not catalogued here: its name says so
    ]
    unnamed = next(f for f in result.findings if f.indicator == "github.copilot-chat")
    assert (unnamed.service_id, unnamed.heuristic) == (None, "ide-name-token:copilot")


def plugin_jar(path: Path, xml: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        archive.writestr("META-INF/plugin.xml", xml)


def test_jetbrains_plugins_on_each_layout(tmp_path: Path, test_matcher: Matcher) -> None:
    linux = make_user(tmp_path, "alice", "linux")
    plugins = linux.home / ".local/share/JetBrains/IntelliJIdea2024.2"
    write(plugins / "ai-assistant/lib/0-util.jar", b"not a zip at all")  # skipped, not fatal
    write(plugins / "broken/lib/broken.jar", b"not a zip either")
    plugin_jar(
        plugins / "ai-assistant/lib/ai-assistant.jar",
        (
            "<idea-plugin><id>com.example.ai-assistant</id><name>AI Assistant</name>"
            "<version>2.1</version><vendor url='https://example.test'>Example</vendor>"
            "</idea-plugin>"
        ),
    )
    plugin_jar(
        plugins / "other/lib/other.jar",
        (
            "<idea-plugin><id>org.example.other</id><name>Other</name><version>1</version>"
            "</idea-plugin>"
        ),
    )
    write(
        linux.home / ".config/JetBrains/IntelliJIdea2024.2/disabled_plugins.txt",
        "org.example.other\n",
    )
    plugin_jar(
        plugins / "evil/lib/evil.jar",
        (
            "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><idea-plugin><id>&a;</id>"
            "</idea-plugin>"
        ),
    )
    win = make_user(tmp_path, "carol", "windows")
    plugin_jar(
        win.home / "AppData/Roaming/JetBrains/PyCharm2024.1/plugins/ai/lib/ai.jar",
        "<idea-plugin><id>com.example.ai-assistant</id><version>3</version></idea-plugin>",
    )

    observations, errors = run(IdeExtensionScanner(), context(tmp_path, linux, win))
    rows = {
        (o.user, o.evidence["product"], o.indicator, o.evidence["version"], o.evidence["enabled"])
        for o in observations
    }
    assert ("alice", "IntelliJIdea2024.2", "com.example.ai-assistant", "2.1", True) in rows
    assert ("alice", "IntelliJIdea2024.2", "org.example.other", "1", False) in rows
    assert ("carol", "PyCharm2024.1", "com.example.ai-assistant", "3", True) in rows
    assert len(rows) == 3
    messages = sorted(e.message for e in errors)
    assert len(messages) == 2
    assert any("DTD" in m for m in messages)
    assert any("unreadable jar" in m for m in messages)
    result = run_scan(context(tmp_path, linux, win), (IdeExtensionScanner(),), test_matcher)
    assert {(f.user, f.service_id) for f in result.findings} == {
        ("alice", "test-ide-assistant"),
        ("carol", "test-ide-assistant"),
    }


def test_unknown_extensions_that_bundle_ai_are_flagged(tmp_path: Path, matcher: Matcher) -> None:
    user = make_user(tmp_path, "alice", "linux")
    exts = user.home / ".vscode/extensions"
    sdk = vscode_extension(exts, "acme.helper", "0.0.1", dependencies={"openai": "^4.0.0"})
    pack = vscode_extension(exts, "acme.pack", "0.0.1", extensionPack=["GitHub.copilot"])
    plain = vscode_extension(exts, "acme.plain", "0.0.1", dependencies={"lodash": "^4"})
    write(exts / "extensions.json", [sdk, pack, plain])
    observations, _ = run(IdeExtensionScanner(), context(tmp_path, user))
    hints = {o.indicator: o.hints for o in observations}
    assert hints["acme.helper"]["dependencies"] == ["openai"]
    assert hints["acme.pack"]["extension_dependencies"] == ["GitHub.copilot"]
    result = run_scan(context(tmp_path, user), (IdeExtensionScanner(),), matcher)
    flagged = {f.indicator: (f.service_id, f.heuristic) for f in result.findings}
    assert set(flagged) == {"acme.helper", "acme.pack"}
    assert all(service is None and heuristic for service, heuristic in flagged.values())
