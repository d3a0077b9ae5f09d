"""A real Chromium records a real unpacked extension; the scanner finds it as Chromium saw it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.runner import run_scan
from agent.scanners.browsers import BrowserExtensionScanner, extension_id_from_key
from signatures import Matcher
from tests.agent.scanners.helpers import FIXTURES, context, make_user, run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
EXTENSION = FIXTURES / "extensions" / "ai-helper"


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs a Chromium binary")
def test_real_chromium_profile_with_unpacked_extension(
    tmp_path: Path, test_matcher: Matcher
) -> None:
    assert CHROMIUM is not None
    user = make_user(tmp_path, "alice", "linux")
    user_data = user.home / ".config" / "chromium"
    extension = shutil.copytree(EXTENSION, tmp_path / "ext")
    browser = subprocess.run(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            f"--user-data-dir={user_data}",
            f"--load-extension={extension}",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--timeout=2000",
            "about:blank",
        ],
        check=False,
        timeout=120,
        capture_output=True,
    )
    if not (user_data / "Default" / "Preferences").is_file():
        # A confined (snap) or broken browser install, not a scanner problem.
        pytest.skip(f"Chromium wrote no profile: {browser.stderr[-500:]!r}")
    key = json.loads((EXTENSION / "manifest.json").read_text())["key"]
    expected_id = extension_id_from_key(key)

    observations, errors = run(BrowserExtensionScanner(), context(tmp_path, user))
    assert errors == []
    ours = [o for o in observations if o.indicator == expected_id]
    assert len(ours) == 1, [o.indicator for o in observations]
    found = ours[0]
    assert found.evidence["browser"] == "chromium"
    assert found.evidence["profile_dir"] == "Default"
    assert found.evidence["name"] == "AI Helper"
    assert found.evidence["version"] == "1.2.3"
    assert found.evidence["install_source"] == "unpacked"
    assert found.evidence["location"] == 8  # COMMAND_LINE: --load-extension
    assert found.evidence["enabled"] is True
    assert found.evidence["path"] == str(extension)
    assert isinstance(found.evidence["install_time"], str)
    assert found.evidence["host_permissions"] == [
        "https://chatgpt.com/*",
        "https://api.openai.com/*",
    ]
    assert found.hints["content_script_matches"] == ["https://claude.ai/*"]

    result = run_scan(context(tmp_path, user), (BrowserExtensionScanner(),), test_matcher)
    assert [(f.service_id, f.indicator) for f in result.findings] == [
        ("test-ai-extension", expected_id)
    ]
