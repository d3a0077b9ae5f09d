"""Browser extensions on Linux, macOS and Windows layouts, Firefox forks, and broken inputs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from agent.runner import run_scan
from agent.scanners import browsers
from agent.scanners.browsers import (
    BrowserExtensionScanner,
    enabled_state,
    extension_id_from_key,
    install_source,
)
from agent.scanners.files import Unreadable
from signatures import Matcher
from signatures.manifests import message_of
from tests.agent.scanners.helpers import by_indicator, context, make_user, run, write

AI_ID = "aaaabbbbccccddddeeeeffffgggghhhh"
OTHER_ID = "ppppoooonnnnmmmmllllkkkkjjjjiiii"
ORPHAN_ID = "bbbbccccddddeeeeffffgggghhhhiiii"
# Chromium's PDF viewer: a public key from Chromium's sources and the id Chromium gives it.
PDF_KEY = (
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDN6hM0rsDYGbzQPQfOygqlRtQgKUXMfnSjhIBL7LnReAVBEd7Z"
    "mKtyN2qmSasMl4HZpMhVe2rPWVVwBDl6iyNE/Kok6E6v6V3vCLGsOpQAuuNVye/3QxzIldzG/jQAdWZiyXReRVa"
    "pOhZtLjGfywCvlWq7Sl/e3sbc0vWybSDI2QIDAQAB"
)
PDF_ID = "mhjfbmdgcfjbbpaeojofohoefgiehjai"


def manifest(name: str = "AI Helper", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "manifest_version": 3,
        "name": name,
        "version": "1.2.3",
        "permissions": ["storage", "tabs"],
        "host_permissions": ["https://chatgpt.com/*"],
        "content_scripts": [{"matches": ["https://claude.ai/*"], "js": ["c.js"]}],
    }
    doc.update(extra)
    return doc


def store_extension(
    profile: Path, ext_id: str, doc: dict[str, Any], version: str = "1.2.3_0"
) -> str:
    write(profile / "Extensions" / ext_id / version / "manifest.json", doc)
    return f"{ext_id}/{version}"


def chrome_profile(
    user_data: Path,
    directory: str,
    *,
    secure: dict[str, Any] | None = None,
    prefs: dict[str, Any] | None = None,
    name: str | None = None,
) -> Path:
    profile = user_data / directory
    if secure is not None:
        write(profile / "Secure Preferences", {"extensions": {"settings": secure}})
    doc: dict[str, Any] = {"extensions": {"settings": prefs or {}}}
    if name:
        doc["profile"] = {"name": name}
    write(profile / "Preferences", doc)
    return profile


def test_extension_id_from_key_matches_chromium() -> None:
    assert extension_id_from_key(PDF_KEY) == PDF_ID
    assert extension_id_from_key("") is None


def test_enabled_state_before_and_after_chrome_136() -> None:
    assert enabled_state({"state": 1}) == (True, [])
    assert enabled_state({"state": 0, "disable_reasons": 1}) == (False, ["user_action"])
    assert enabled_state({"disable_reasons": []}) == (True, [])
    assert enabled_state({"disable_reasons": [1, 65536]}) == (
        False,
        ["user_action", "blocked_by_policy"],
    )
    assert enabled_state({"disable_reasons": 8192}) == (False, ["external_extension"])
    assert enabled_state({}) == (True, [])


def test_install_source_from_location() -> None:
    assert install_source({"location": 1, "from_webstore": True}) == "web_store"
    assert install_source({"location": 1}) == "user"
    assert install_source({"location": 4}) == "unpacked"
    assert install_source({"location": 8}) == "unpacked"
    assert install_source({"location": 9}) == "policy"
    assert install_source({"location": 7}) == "policy"
    assert install_source({"location": 2}) == "external"
    assert install_source({"location": 5}) == "built_in"
    assert install_source({"location": 1, "was_installed_by_default": True}) == "default"


def test_linux_chrome_profiles_from_local_state_and_directory_scan(tmp_path: Path) -> None:
    user = make_user(tmp_path, "alice", "linux")
    chrome = user.home / ".config/google-chrome"
    write(
        chrome / "Local State",
        {
            "profile": {
                "info_cache": {"Default": {"name": "Personal"}, "Profile 1": {"name": "Work"}}
            }
        },
    )
    default = chrome / "Default"
    rel = store_extension(
        default, AI_ID, manifest(name="__MSG_extName__", default_locale="fr", key=PDF_KEY)
    )  # a copied key: the id it yields differs from the prefs id
    write(
        default / "Extensions" / AI_ID / "1.2.3_0" / "_locales/en/messages.json",
        {"EXTNAME": {"message": "AI Helper (en)"}},
    )
    rel_other = store_extension(default, OTHER_ID, manifest(name="Other", host_permissions=[]))
    chrome_profile(
        chrome,
        "Default",
        secure={
            AI_ID: {
                "path": rel,
                "location": 1,
                "from_webstore": True,
                "first_install_time": "13440222324978745",
                "disable_reasons": [],
            },
        },
        prefs={
            OTHER_ID: {
                "path": rel_other,
                "location": 1,
                "from_webstore": True,
                "state": 0,
                "disable_reasons": 1,
            },
        },
    )
    # An orphan: a version directory nothing references.
    store_extension(default, ORPHAN_ID, manifest(name="Left behind"))
    # Profile 1 is only in Local State's cache; Profile 7 only on disk; Guest is flagged.
    work = chrome_profile(chrome, "Profile 1", secure={}, prefs={})
    rel_work = store_extension(work, AI_ID, manifest(name="AI Helper"))
    write(
        work / "Preferences",
        {"extensions": {"settings": {AI_ID: {"path": rel_work, "location": 9}}}},
    )
    extra = chrome_profile(chrome, "Profile 7", prefs={}, name="Seventh")
    rel_extra = store_extension(extra, AI_ID, manifest(name="AI Helper"))
    write(
        extra / "Secure Preferences",
        {"extensions": {"settings": {AI_ID: {"path": rel_extra, "location": 4}}}},
    )
    chrome_profile(chrome, "Guest Profile", prefs={})
    write(chrome / "NotAProfile" / "random.txt", "x")

    observations, errors = run(BrowserExtensionScanner(), context(tmp_path, user))
    assert errors == []
    default_seen = {o.indicator: o for o in observations if o.evidence["profile_dir"] == "Default"}
    ai = default_seen[AI_ID]
    assert ai.user == "alice"
    assert ai.evidence["browser"] == "chrome"
    assert ai.evidence["profile"] == "Personal"
    assert ai.evidence["name"] == "AI Helper (en)"  # __MSG_ resolved, key matched case-folded
    assert ai.evidence["version"] == "1.2.3"
    assert ai.evidence["install_source"] == "web_store"
    assert ai.evidence["enabled"] is True
    assert ai.evidence["install_time"] == "2026-11-27T03:05:24Z"
    assert ai.evidence["manifest_key_id"] == PDF_ID
    assert ai.evidence["host_permissions"] == ["https://chatgpt.com/*"]
    assert ai.hints["content_script_matches"] == ["https://claude.ai/*"]
    assert ai.hints["permissions"] == ["storage", "tabs"]
    other = default_seen[OTHER_ID]
    assert other.evidence["enabled"] is False
    assert other.evidence["disable_reasons"] == ["user_action"]
    orphan = default_seen[ORPHAN_ID]
    assert orphan.evidence["referenced"] is False
    assert orphan.evidence["install_source"] == "orphaned"
    profiles = {
        (o.evidence["profile_dir"], o.evidence["profile"], o.evidence["install_source"])
        for o in observations
        if o.indicator == AI_ID
    }
    assert profiles == {
        ("Default", "Personal", "web_store"),
        ("Profile 1", "Work", "policy"),
        ("Profile 7", "Seventh", "unpacked"),
    }
    guest_kinds = {o.evidence["profile_kind"] for o in observations}
    assert guest_kinds == {"user"}  # the guest profile holds no extensions here


def test_macos_and_windows_layouts_and_opera_base_profile(tmp_path: Path) -> None:
    mac = make_user(tmp_path, "bob", "darwin")
    arc = mac.home / "Library/Application Support/Arc/User Data"
    rel = store_extension(arc / "Default", AI_ID, manifest())
    chrome_profile(
        arc, "Default", secure={AI_ID: {"path": rel, "location": 1, "from_webstore": True}}
    )
    opera = mac.home / "Library/Application Support/com.operasoftware.Opera"
    rel_opera = store_extension(opera, AI_ID, manifest())
    write(
        opera / "Preferences",
        {"extensions": {"opsettings": {AI_ID: {"path": rel_opera, "location": 1, "state": 1}}}},
    )
    win = make_user(tmp_path, "carol", "windows")
    for rel_dir, browser in (
        ("AppData/Local/Microsoft/Edge/User Data", "edge"),
        ("AppData/Local/Perplexity/Comet/User Data", "comet"),
        ("AppData/Local/OpenAI/Atlas/User Data", "chatgpt_atlas"),
    ):
        data = win.home / rel_dir
        rel_win = store_extension(data / "Profile 3", AI_ID, manifest(name=browser))
        chrome_profile(
            data, "Profile 3", secure={AI_ID: {"path": rel_win.replace("/", "\\"), "location": 1}}
        )  # as Chrome writes it

    observations, errors = run(BrowserExtensionScanner(), context(tmp_path, mac, win))
    assert errors == []
    assert all(o.evidence["version"] == "1.2.3" for o in observations)  # manifests were found
    seen = {(o.user, o.evidence["browser"], o.evidence["profile_dir"]) for o in observations}
    assert seen == {
        ("bob", "arc", "Default"),
        ("bob", "opera", "."),
        ("carol", "edge", "Profile 3"),
        ("carol", "comet", "Profile 3"),
        ("carol", "chatgpt_atlas", "Profile 3"),
    }


def test_live_scan_only_looks_at_this_os_layout(tmp_path: Path) -> None:
    mac = make_user(tmp_path, "bob", "darwin")
    arc = mac.home / "Library/Application Support/Arc/User Data"
    rel = store_extension(arc / "Default", AI_ID, manifest())
    chrome_profile(arc, "Default", secure={AI_ID: {"path": rel, "location": 1}})
    ctx = context(Path("/"), mac, platform="linux")
    observations, _ = run(BrowserExtensionScanner(), ctx)
    assert observations == []
    ctx.platform = "darwin"
    observations, _ = run(BrowserExtensionScanner(), ctx)
    assert [o.indicator for o in observations] == [AI_ID]


def test_unpacked_absolute_path_is_rerooted_and_snap_flatpak_found(tmp_path: Path) -> None:
    user = make_user(tmp_path, "dave", "linux")
    source = tmp_path / "home/dave/dev/my-ext"
    write(source / "manifest.json", manifest(name="Dev build"))
    for rel_dir in (
        "snap/chromium/common/chromium",
        ".var/app/com.brave.Browser/config/BraveSoftware/Brave-Browser",
    ):
        chrome_profile(
            user.home / rel_dir,
            "Default",
            secure={AI_ID: {"path": "/home/dave/dev/my-ext", "location": 4}},
        )
    observations, errors = run(BrowserExtensionScanner(), context(tmp_path, user))
    assert errors == []
    assert {o.evidence["browser"] for o in observations} == {"chromium", "brave"}
    assert all(o.evidence["name"] == "Dev build" for o in observations)
    assert all(o.evidence["install_source"] == "unpacked" for o in observations)


def test_broken_inputs_are_errors_not_crashes(tmp_path: Path) -> None:
    user = make_user(tmp_path, "erin", "linux")
    chrome = user.home / ".config/google-chrome"
    # Corrupt Local State and corrupt Preferences; Secure Preferences still read.
    write(chrome / "Local State", "{not json")
    rel = store_extension(chrome / "Default", AI_ID, manifest())
    write(
        chrome / "Default/Secure Preferences",
        {"extensions": {"settings": {AI_ID: {"path": rel, "location": 1}}}},
    )
    write(chrome / "Default/Preferences", '{"extensions": [truncated')
    # A huge manifest: reported, and the extension still observed by its id.
    huge_rel = f"{OTHER_ID}/9.9_0"
    write(
        chrome / "Default/Extensions" / huge_rel / "manifest.json",
        '{"name": "' + "x" * (2 * 1024 * 1024) + '"}',
    )
    secure = chrome / "Default/Secure Preferences"
    write(
        secure,
        {
            "extensions": {
                "settings": {
                    AI_ID: {"path": rel, "location": 1},
                    OTHER_ID: {"path": huge_rel, "location": 1},
                    ORPHAN_ID: {"path": f"{ORPHAN_ID}/1_0", "location": 1},  # manifest missing
                }
            }
        },
    )
    # A symlink loop where a profile's Extensions folder should be.
    loop = chrome / "Profile 2"
    write(loop / "Preferences", {"extensions": {"settings": {}}})
    os.symlink(loop / "Extensions", loop / "Extensions")
    # A FIFO where Preferences should be: must not hang the scan.
    (chrome / "Profile 3").mkdir()
    os.mkfifo(chrome / "Profile 3" / "Preferences")
    # Firefox: a corrupt extensions.json.
    write(user.home / ".mozilla/firefox/abc.default/extensions.json", "[]]")
    # Another user whose home is a symlink loop.
    bad = make_user(tmp_path, "frank", "linux")
    bad.home.rmdir()
    os.symlink(bad.home, bad.home)

    observations, errors = run(BrowserExtensionScanner(), context(tmp_path, user, bad))
    assert {o.indicator for o in observations} == {AI_ID, OTHER_ID, ORPHAN_ID}
    huge = by_indicator(observations)[OTHER_ID]
    assert huge.evidence["name"] is None
    messages = "\n".join(f"{e.path}: {e.message}" for e in errors)
    assert "Local State: malformed JSON" in messages
    assert "Default/Preferences: malformed JSON" in messages
    assert "too large" in messages
    assert "extension manifest missing" in messages
    assert "extensions.json: malformed JSON" in messages
    assert "Profile 3/Preferences: not a regular file" in messages
    assert f"{bad.home}: unreadable" in messages
    assert all(e.scanner == "browser_extensions" for e in errors)


def test_firefox_profiles_ini_and_forks(tmp_path: Path) -> None:
    user = make_user(tmp_path, "gina", "linux")
    firefox = user.home / ".mozilla/firefox"
    elsewhere = tmp_path / "data/ff-custom"
    write(
        firefox / "profiles.ini",
        (
            "[General]\nStartWithLastProfile=1\n\n"
            "[Profile0]\nName=default-release\nIsRelative=1\nPath=x1y2.default-release\n\n"
            f"[Profile1]\nName=custom\nIsRelative=0\nPath={elsewhere}\n"
        ),
    )
    addon = {
        "id": "ai-helper@example.test",
        "type": "extension",
        "version": "2.0",
        "active": True,
        "userDisabled": False,
        "appDisabled": False,
        "defaultLocale": {"name": "AI Helper"},
        "location": "app-profile",
        "userPermissions": {"permissions": ["storage"], "origins": ["https://claude.ai/*"]},
        "signedState": 2,
        "foreignInstall": False,
        "installDate": 1764201600000,
        "installTelemetryInfo": {"source": "amo"},
    }
    theme = {"id": "dark@mozilla.org", "type": "theme", "active": True}
    sideloaded = dict(
        addon, id="side@example.test", foreignInstall=True, active=False, userDisabled=True
    )
    write(firefox / "x1y2.default-release/extensions.json", {"addons": [addon, theme, sideloaded]})
    write(elsewhere / "extensions.json", {"addons": [dict(addon, location="app-temporary")]})
    write(
        user.home / "snap/firefox/common/.mozilla/firefox/s.default/extensions.json",
        {"addons": [addon]},
    )
    write(user.home / ".zen/z.default/extensions.json", {"addons": [addon]})
    observations, errors = run(BrowserExtensionScanner(), context(tmp_path, user))
    assert errors == []
    rows = {
        (
            o.indicator,
            o.evidence["browser"],
            o.evidence["profile"],
            o.evidence["install_source"],
            o.evidence["enabled"],
        )
        for o in observations
    }
    assert rows == {
        ("ai-helper@example.test", "firefox", "default-release", "web_store", True),
        ("side@example.test", "firefox", "default-release", "sideloaded", False),
        ("ai-helper@example.test", "firefox", "custom", "unpacked", True),
        ("ai-helper@example.test", "firefox", "s.default", "web_store", True),
        ("ai-helper@example.test", "zen", "z.default", "web_store", True),
    }
    first = next(o for o in observations if o.evidence["profile"] == "default-release")
    assert first.evidence["host_permissions"] == ["https://claude.ai/*"]
    assert first.evidence["install_time"] == "2025-11-27T00:00:00Z"
    assert first.evidence["signed_state"] == 2


def test_matched_findings_carry_browser_evidence(tmp_path: Path, test_matcher: Matcher) -> None:
    user = make_user(tmp_path, "hana", "linux")
    chrome = user.home / ".config/google-chrome"
    rel = store_extension(chrome / "Default", AI_ID, manifest())
    rel_other = store_extension(chrome / "Default", OTHER_ID, manifest(name="Sticky Notes"))
    chrome_profile(
        chrome,
        "Default",
        secure={AI_ID: {"path": rel, "location": 1}, OTHER_ID: {"path": rel_other, "location": 1}},
    )
    result = run_scan(context(tmp_path, user), (BrowserExtensionScanner(),), test_matcher)
    assert [(f.service_id, f.indicator, f.user) for f in result.findings] == [
        ("test-ai-extension", AI_ID, "hana")
    ]
    finding = result.findings[0]
    assert finding.confidence.value == "high"
    assert finding.evidence["browser"] == "chrome"
    assert finding.evidence["profile"] == "Default"


def test_half_written_preferences_are_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user(tmp_path, "ivan", "linux")
    chrome = user.home / ".config/google-chrome"
    rel = store_extension(
        chrome / "Default", AI_ID, manifest(permissions=["tabs", {"fileSystem": ["write"]}, 7])
    )
    chrome_profile(chrome, "Default", secure={AI_ID: {"path": rel, "location": 1}})
    real = browsers.read_json_object
    calls: list[str] = []

    def flaky(path: Path | str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        name = os.path.basename(path)
        calls.append(name)
        if name == "Secure Preferences" and calls.count(name) == 1:
            raise Unreadable(path, "malformed JSON: Unterminated string")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(browsers, "read_json_object", flaky)
    observations, errors = run(BrowserExtensionScanner(), context(tmp_path, user))
    assert errors == []
    assert calls.count("Secure Preferences") == 2
    assert [o.indicator for o in observations] == [AI_ID]
    assert observations[0].evidence["permissions"] == ["tabs", "fileSystem"]


def test_firefox_in_a_windows_image_with_an_absolute_profile_path(tmp_path: Path) -> None:
    user = make_user(tmp_path, "carol", "windows")
    root = user.home / "AppData/Roaming/Mozilla/Firefox"
    write(
        root / "profiles.ini",
        "[Profile0]\nName=work\nIsRelative=0\nPath=C:\\Users\\carol\\ff-work\n",
    )
    write(
        user.home / "ff-work/extensions.json",
        {
            "addons": [
                {
                    "id": "ai-helper@example.test",
                    "type": "extension",
                    "active": True,
                    "location": "app-profile",
                    "installTelemetryInfo": {"source": "enterprise-policy"},
                }
            ]
        },
    )
    msix = user.home / (
        "AppData/Local/Packages/Mozilla.Firefox_n80bbvh6b1yt2/LocalCache/"
        "Roaming/Mozilla/Firefox/Profiles/m.default"
    )
    write(
        msix / "extensions.json",
        {"addons": [{"id": "ai-helper@example.test", "active": False, "userDisabled": True}]},
    )
    observations, errors = run(BrowserExtensionScanner(), context(tmp_path, user))
    assert errors == []
    assert {
        (o.evidence["profile"], o.evidence["install_source"], o.evidence["enabled"])
        for o in observations
    } == {("work", "policy", True), ("m.default", "user", False)}


def test_message_lookup_reads_only_the_entry_it_needs() -> None:
    tricky = (
        '{"desc": {"message": "quote \\"appName\\": here"}, '
        '"APPNAME": {"message": "Hello", "placeholders": {"a": {"content": "$1"}}}}'
    )
    assert message_of(tricky, "appname") == "Hello"
    assert message_of('{"appName": "not an entry"}', "appname") is None
    assert message_of('{"appName": {"message": "Hi"}', "appname") == "Hi"  # truncated file
    assert message_of("not json", "appname") is None
