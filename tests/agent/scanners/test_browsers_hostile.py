"""One hostile extension costs itself at most: the extensions after it are still reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.runner import run_scan
from agent.scanners.browsers import BrowserExtensionScanner
from signatures import Matcher
from tests.agent.scanners.helpers import context, make_user, run, write

# Sorted before the AI extension: the scanner reaches it first.
HOSTILE_ID = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
# Claude's extension, in the shipped catalogue.
AI_ID = "fcoeoabgfenejglbffodgkkbkcdhcgfn"


def _manifest(**extra: Any) -> dict[str, Any]:
    return {"manifest_version": 3, "name": "Helper", "version": "1.0", **extra}


def _profile_with(tmp_path: Path, hostile: dict[str, Any]) -> Path:
    """A Chrome profile: the hostile extension, then Claude's, both in the preferences."""
    user = make_user(tmp_path)
    profile = user.home / ".config/google-chrome/Default"
    settings = {}
    for ext_id, doc in ((HOSTILE_ID, hostile), (AI_ID, _manifest(name="Claude"))):
        write(profile / "Extensions" / ext_id / "1.0_0" / "manifest.json", doc)
        settings[ext_id] = {"path": f"{ext_id}/1.0_0", "location": 1, "from_webstore": True}
    write(profile / "Preferences", {"extensions": {"settings": settings}})
    # The same two again as orphans (not in the preferences) in a second profile.
    orphans = user.home / ".config/google-chrome/Profile 1"
    write(orphans / "Preferences", {})
    for ext_id, doc in ((HOSTILE_ID, hostile), (AI_ID, _manifest(name="Claude"))):
        write(orphans / "Extensions" / ext_id / "1.0_0" / "manifest.json", doc)
    return tmp_path


def test_a_nul_in_default_locale_does_not_hide_the_extensions_after_it(
    tmp_path: Path, matcher: Matcher
) -> None:
    root = _profile_with(tmp_path, _manifest(name="__MSG_appName__", default_locale="en\u0000"))
    write(
        tmp_path
        / "home/alice/.config/google-chrome/Default/Extensions"
        / HOSTILE_ID
        / "1.0_0/_locales/en/messages.json",
        {"appName": {"message": "Hostile Helper"}},
    )
    ctx = context(root, make_user(tmp_path))
    observations, errors = run(BrowserExtensionScanner(), ctx)
    profiles = {(o.indicator, o.evidence["profile_dir"]) for o in observations}
    assert profiles == {
        (ext_id, profile) for ext_id in (HOSTILE_ID, AI_ID) for profile in ("Default", "Profile 1")
    }
    # The invalid locale name is ignored: the name resolves from the fallback locale.
    hostile = [o for o in observations if o.indicator == HOSTILE_ID]
    assert {o.evidence["name"] for o in hostile} == {"Hostile Helper", "__MSG_appName__"}
    assert errors == []
    result = run_scan(ctx, [BrowserExtensionScanner()], matcher)
    assert result.errors == []
    assert {f.service_id for f in result.findings if f.indicator == AI_ID} == {"anthropic-claude"}


def test_a_nul_in_a_recorded_extension_path_is_one_scanner_error(
    tmp_path: Path, matcher: Matcher
) -> None:
    user = make_user(tmp_path)
    profile = user.home / ".config/google-chrome/Default"
    write(profile / "Extensions" / AI_ID / "1.0_0" / "manifest.json", _manifest(name="Claude"))
    settings = {
        HOSTILE_ID: {"path": "/opt/ext\u0000/x", "location": 4},
        AI_ID: {"path": f"{AI_ID}/1.0_0", "location": 1},
    }
    write(profile / "Preferences", {"extensions": {"settings": settings}})
    ctx = context(tmp_path, user)
    observations, errors = run(BrowserExtensionScanner(), ctx)
    assert {o.indicator for o in observations} == {HOSTILE_ID, AI_ID}
    (error,) = errors  # the hostile extension's own; read under the scan root
    assert error.path is not None and error.path.endswith("/opt/ext\u0000/x/manifest.json")
    assert "unusable path" in error.message
    result = run_scan(ctx, [BrowserExtensionScanner()], matcher)
    assert {f.service_id for f in result.findings if f.indicator == AI_ID} == {"anthropic-claude"}
