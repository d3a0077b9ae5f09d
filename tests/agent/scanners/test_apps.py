"""Desktop applications: macOS bundles, Linux desktop entries, snaps and Flatpaks, Windows."""

from __future__ import annotations

import plistlib
from pathlib import Path

from agent.runner import run_scan
from agent.scanners.apps import DesktopAppScanner
from signatures import Matcher
from tests.agent.scanners.helpers import context, make_user, run, write


def bundle(folder: Path, name: str, bundle_id: str, version: str, *, binary: bool = True) -> None:
    info = {
        "CFBundleIdentifier": bundle_id,
        "CFBundleName": name,
        "CFBundleShortVersionString": version,
        "CFBundleExecutable": name,
    }
    fmt = plistlib.FMT_BINARY if binary else plistlib.FMT_XML
    write(folder / f"{name}.app/Contents/Info.plist", plistlib.dumps(info, fmt=fmt))


def test_macos_bundles(tmp_path: Path, test_matcher: Matcher) -> None:
    user = make_user(tmp_path, "bob", "darwin")
    bundle(tmp_path / "Applications", "Claude", "com.anthropic.claudefordesktop", "0.9.3")
    bundle(
        tmp_path / "Applications/Utilities", "Terminal", "com.apple.Terminal", "2.14", binary=False
    )
    bundle(user.home / "Applications", "ChatGPT", "com.openai.chat", "1.2025.1")
    write(tmp_path / "Applications/Broken.app/Contents/Info.plist", b"bplist00garbage")
    observations, errors = run(DesktopAppScanner(), context(tmp_path, user))
    assert [Path(e.path or "").parts[-3] for e in errors] == ["Broken.app"]
    rows = {(o.indicator, o.user, o.evidence["version"], o.evidence["scope"]) for o in observations}
    assert rows == {
        ("com.anthropic.claudefordesktop", None, "0.9.3", "system"),
        ("com.apple.Terminal", None, "2.14", "system"),
        ("com.openai.chat", "bob", "1.2025.1", "user"),
    }
    result = run_scan(context(tmp_path, user), (DesktopAppScanner(),), test_matcher)
    assert [(f.indicator, f.service_id) for f in result.findings] == [
        ("com.anthropic.claudefordesktop", "test-app")
    ]


def test_linux_desktop_entries_snaps_and_flatpaks(tmp_path: Path, test_matcher: Matcher) -> None:
    user = make_user(tmp_path, "alice", "linux")
    write(
        tmp_path / "usr/share/applications/claude-desktop.desktop",
        ("[Desktop Entry]\nType=Application\nName=Claude\nExec=/opt/Claude/claude %U\n"),
    )
    write(tmp_path / "usr/share/applications/broken.desktop", "no section header\n")
    write(
        tmp_path / "usr/share/applications/link.desktop",
        "[Desktop Entry]\nType=Link\nName=A link\nURL=https://example.test\n",
    )
    write(
        user.home / ".local/share/applications/jan.desktop",
        "[Desktop Entry]\nName=Jan\nExec=env APPIMAGELAUNCHER_DISABLE=1 /home/alice/Jan.AppImage\n",
    )
    write(
        tmp_path / "snap/chatgpt-desktop/current/meta/snap.yaml",
        "name: chatgpt-desktop\nversion: '1.4.2'\n",
    )
    (tmp_path / "snap/core22").mkdir(parents=True)
    (tmp_path / "var/lib/flatpak/app/com.example.AiChat/current").mkdir(parents=True)
    (user.home / ".local/share/flatpak/app/org.gnome.Calculator").mkdir(parents=True)
    write(user.home / "Applications/LM-Studio-0.3.5-x64.AppImage", b"\x7fELF")
    (tmp_path / "opt/Claude").mkdir(parents=True)
    observations, errors = run(DesktopAppScanner(), context(tmp_path, user))
    assert [Path(e.path or "").name for e in errors] == ["broken.desktop"]
    installs = {
        (o.evidence["source"], o.evidence["name"], o.user)
        for o in observations
        if o.indicator_kind.value == "install_path"
    }
    assert installs == {("appimage", "LM-Studio-0.3.5-x64", "alice"), ("opt", "Claude", None)}
    rows = {
        (o.indicator_kind.value, o.indicator, o.user)
        for o in observations
        if o.indicator_kind.value != "install_path"
    }
    assert rows == {
        ("desktop_entry", "claude-desktop.desktop", None),
        ("desktop_entry", "jan.desktop", "alice"),
        ("snap", "chatgpt-desktop", None),
        ("flatpak", "com.example.AiChat", None),
        ("flatpak", "org.gnome.Calculator", "alice"),
    }
    jan = next(o for o in observations if o.indicator == "jan.desktop")
    assert jan.evidence["exe"] == "Jan.AppImage"
    snap = next(o for o in observations if o.indicator == "chatgpt-desktop")
    assert snap.evidence["version"] == "1.4.2"
    result = run_scan(context(tmp_path, user), (DesktopAppScanner(),), test_matcher)
    assert {f.indicator for f in result.findings} == {
        "claude-desktop.desktop",
        "chatgpt-desktop",
        "com.example.AiChat",
    }


def test_windows_start_menu_and_user_programs(tmp_path: Path, test_matcher: Matcher) -> None:
    user = make_user(tmp_path, "carol", "windows")
    menu = "Microsoft/Windows/Start Menu/Programs"
    write(tmp_path / "ProgramData" / menu / "ChatGPT.lnk", b"L\x00\x00\x00")
    write(user.home / "AppData/Roaming" / menu / "Tools/Ollama.lnk", b"L\x00\x00\x00")
    write(user.home / "AppData/Local/Programs/cursor/Cursor.exe", b"MZ")
    write(user.home / "AppData/Local/AnthropicClaude/Update.exe", b"MZ")
    (user.home / "AppData/Local/Temp").mkdir(parents=True)
    observations, errors = run(DesktopAppScanner(), context(tmp_path, user))
    assert errors == []
    rows = {
        (o.indicator_kind.value, Path(o.indicator).name, o.evidence["source"]) for o in observations
    }
    assert rows == {
        ("windows_app", "ChatGPT", "start_menu"),
        ("windows_app", "Ollama", "start_menu"),
        ("install_path", "cursor", "user_programs"),
        ("install_path", "AnthropicClaude", "user_programs"),
    }
    result = run_scan(context(tmp_path, user), (DesktopAppScanner(),), test_matcher)
    assert [(f.indicator, f.service_id) for f in result.findings] == [("ChatGPT", "test-app")]
