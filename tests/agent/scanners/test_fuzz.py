"""Fuzzing the scanners: hostile files and names in a home never raise, never make a bad report.

Each example lays out a real home (a mounted Linux image; the scanners look for every OS's
layout in one) with some of the files a scanner parses replaced by hostile content: JSON shaped
like the real file with any value swapped, damaged plists and jars, lines of text with NUL and
lone surrogates, names that are not UTF-8. Every scanner must yield observations and
ScannerError values only (an exception of any kind fails the example, even the project's own),
and what they yield, matched and fitted by the runner, must make a report the collector's
schema accepts.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.runner import to_finding
from agent.scanners.apps import DesktopAppScanner
from agent.scanners.base import LocalUser, Observation, ScanContext, Scanner
from agent.scanners.browsers import BrowserExtensionScanner
from agent.scanners.environment import EnvironmentScanner
from agent.scanners.footprints import FootprintScanner
from agent.scanners.ide import IdeExtensionScanner
from agent.scanners.mcp import McpServerScanner
from agent.scanners.packages import PackageScanner
from agent.scanners.runtimes import ModelFileScanner
from agent.users import local_users
from signatures import Catalogue, Matcher, fit_scanner_error, validate_report
from tests.agent.scanners.helpers import run
from tests.factories import report
from tests.fuzzing import (
    NAMES,
    OWN_ERRORS,
    count_example,
    fuzzed,
    json_file,
    mutated,
    plist_file,
    text_file,
)

pytestmark = pytest.mark.slow

AI_EXTENSION = "fcoeoabgfenejglbffodgkkbkcdhcgfn"  # Claude's, in the shipped catalogue
CHROME = ".config/google-chrome/Default"
EXTENSION = f"{CHROME}/Extensions/{AI_EXTENSION}/1.0_0"
FIREFOX = ".mozilla/firefox"
PIPX = ".local/share/pipx/venvs/llm/lib/python3.12/site-packages"

MANIFEST = {
    "manifest_version": 3,
    "name": "__MSG_appName__",
    "default_locale": "en",
    "version": "1.0",
    "key": "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
    "permissions": ["storage", {"fileSystem": ["write"]}, "https://claude.ai/*"],
    "host_permissions": ["<all_urls>"],
    "optional_host_permissions": ["https://*/*"],
    "content_scripts": [{"matches": ["https://claude.ai/*"], "js": ["c.js"]}],
}
PREFERENCES = {
    "profile": {"name": "Work"},
    "extensions": {
        "settings": {
            AI_EXTENSION: {
                "path": f"{AI_EXTENSION}/1.0_0",
                "location": 1,
                "from_webstore": True,
                "state": 1,
                "disable_reasons": [1, 8192],
                "first_install_time": "13350000000000000",
                "was_installed_by_default": False,
                "manifest": {"name": "Claude", "version": "1.0"},
                "active_permissions": {"api": ["tabs"], "explicit_host": ["https://x/*"]},
            },
            "../../../../etc": {"path": "/etc", "location": 4},
        },
        "opsettings": {},
    },
}
LOCAL_STATE = {"profile": {"info_cache": {"Default": {"name": "Work"}, "Profile 1": {}}}}
MESSAGES = {"appName": {"message": "Claude", "description": "x"}, "APPNAME": {"message": 1}}
FIREFOX_ADDONS = {
    "schemaVersion": 36,
    "addons": [
        {
            "id": "{a0b1c2}",
            "type": "extension",
            "version": "2.0",
            "active": True,
            "userDisabled": False,
            "location": "app-profile",
            "installDate": 1764201600000,
            "signedState": 2,
            "path": "/home/alice/.mozilla/firefox/p.default/extensions/x.xpi",
            "defaultLocale": {"name": "ChatGPT sidebar"},
            "userPermissions": {"origins": ["https://chatgpt.com/*"], "permissions": ["tabs"]},
            "installTelemetryInfo": {"source": "amo"},
        }
    ],
}
PROFILES_INI = [
    "[General]",
    "StartWithLastProfile=1",
    "[Profile0]",
    "Name=default",
    "IsRelative=1",
    "Path=p.default",
    "IsRelative=0",
    "Path=/home/alice/elsewhere",
    "Path=../../../../etc",
]

VSCODE_LIST = [
    {
        "identifier": {"id": "GitHub.copilot", "uuid": "x"},
        "version": "1.200.0",
        "location": {"$mid": 1, "path": "/home/alice/.vscode/extensions/github.copilot-1.200.0"},
        "relativeLocation": "github.copilot-1.200.0",
        "metadata": {"installedTimestamp": 1764201600000, "source": "gallery"},
    }
]
VSCODE_PACKAGE = {
    "name": "copilot",
    "publisher": "GitHub",
    "version": "1.200.0",
    "displayName": "%displayName%",
    "dependencies": {"openai": "^4"},
    "extensionDependencies": ["github.copilot-chat"],
}
VSCODE_STORAGE = {"userDataProfiles": [{"location": "-3f2a1b", "name": "Work"}]}
PLUGIN_XML = (
    "<idea-plugin><id>com.intellij.ml.llm</id><name>AI Assistant</name>"
    "<version>1.0</version><vendor>JetBrains</vendor></idea-plugin>"
)

METADATA = [
    "Metadata-Version: 2.1",
    "Name: openai",
    "Version: 1.40.0",
    "Requires-Dist: httpx>=0.23",
    "Requires-Dist: anthropic ; extra == 'x'",
    "Summary: " + "x" * 300,
    "",
    "Requires-Dist: not-a-header",
]
NPM_PACKAGE = {
    "name": "@anthropic-ai/claude-code",
    "version": "1.0.0",
    "bin": {"claude": "cli.js"},
    "dependencies": {"@anthropic-ai/sdk": "*"},
}
MCP_SERVERS = {
    "mcpServers": {
        "github": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-github@1.2.0"],
            "env": {"GITHUB_TOKEN": "ghp_x"},
        },
        "remote": {"type": "http", "url": "https://user:pw@mcp.example.test:8443/v1?key=x"},
        "local": {"command": "/opt/tools/my-server", "args": ["--api-key", "sk-x"]},
    }
}
CODEX_TOML = [
    "[mcp_servers.docs]",
    'command = "uvx"',
    'args = ["mcp-server-fetch==0.6"]',
    "[mcp_servers.remote]",
    'url = "https://mcp.example.test/sse"',
]
DESKTOP = [
    "[Desktop Entry]",
    "Type=Application",
    "Name=ChatGPT",
    "Exec=env FOO=1 /opt/chatgpt/chatgpt %U",
    "Exec=",
    "[Other]",
]
SHELL_RC = [
    "export OPENAI_API_KEY=sk-x",
    "ANTHROPIC_BASE_URL='https://api.anthropic.com'",
    "export PATH=$PATH:/opt/bin",
    "declare -x GEMINI_API_KEY=y",
]
INFO_PLIST = {
    "CFBundleIdentifier": "com.openai.chat",
    "CFBundleName": "ChatGPT",
    "CFBundleShortVersionString": "1.2025.1",
    "LSMinimumSystemVersion": "14.0",
}


def _jar(xml: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("META-INF/plugin.xml", xml)
    return buffer.getvalue()


def _jars() -> st.SearchStrategy[bytes]:
    xml = st.one_of(
        st.just(PLUGIN_XML.encode()),
        mutated(PLUGIN_XML.encode()),
        st.just(b'<!DOCTYPE x [<!ENTITY a "aaaa">]><idea-plugin>&a;</idea-plugin>'),
        st.binary(max_size=100),
    )
    return st.one_of(xml.map(_jar), mutated(_jar(PLUGIN_XML.encode())), st.binary(max_size=200))


# Each file a scanner parses, by its path in alice's home, and the bytes it may hold.
BROWSER_FILES: dict[str, st.SearchStrategy[bytes]] = {
    ".config/google-chrome/Local State": json_file(LOCAL_STATE),
    f"{CHROME}/Preferences": json_file(PREFERENCES),
    f"{CHROME}/Secure Preferences": json_file(PREFERENCES),
    f"{EXTENSION}/manifest.json": json_file(MANIFEST),
    f"{EXTENSION}/_locales/en/messages.json": json_file(MESSAGES),
    f"{FIREFOX}/profiles.ini": text_file(PROFILES_INI),
    f"{FIREFOX}/p.default/extensions.json": json_file(FIREFOX_ADDONS),
    f"{FIREFOX}/p.default/prefs.js": text_file(['user_pref("a", 1);']),
}
IDE_FILES: dict[str, st.SearchStrategy[bytes]] = {
    ".vscode/extensions/extensions.json": json_file(VSCODE_LIST),
    ".vscode/extensions/github.copilot-1.200.0/package.json": json_file(VSCODE_PACKAGE),
    ".vscode/extensions/.obsolete": json_file({"github.copilot-1.199.0": True}),
    ".config/Code/User/globalStorage/storage.json": json_file(VSCODE_STORAGE),
    ".cursor/extensions/extensions.json": json_file(VSCODE_LIST),
    ".local/share/JetBrains/IntelliJIdea2025.1/ai/lib/plugin.jar": _jars(),
    ".config/JetBrains/IntelliJIdea2025.1/disabled_plugins.txt": text_file(["com.x", ""]),
}
PACKAGE_FILES: dict[str, st.SearchStrategy[bytes]] = {
    ".local/lib/python3.12/site-packages/openai-1.40.0.dist-info/METADATA": text_file(METADATA),
    "proj/.venv/lib/python3.12/site-packages/x-1.dist-info/METADATA": text_file(METADATA),
    f"{PIPX}/llm-0.13-py3.12.egg-info/PKG-INFO": text_file(METADATA),
    ".local/lib/node_modules/@anthropic-ai/claude-code/package.json": json_file(NPM_PACKAGE),
    "src/app/node_modules/openai/package.json": json_file(NPM_PACKAGE),
}
OTHER_FILES: dict[str, st.SearchStrategy[bytes]] = {
    ".cursor/mcp.json": json_file(MCP_SERVERS),
    ".config/Claude/claude_desktop_config.json": json_file(MCP_SERVERS),
    ".config/zed/settings.json": json_file({"context_servers": MCP_SERVERS["mcpServers"]}),
    ".codex/config.toml": text_file(CODEX_TOML),
    ".local/share/applications/chatgpt.desktop": text_file(DESKTOP),
    "Applications/ChatGPT.app/Contents/Info.plist": plist_file(INFO_PLIST),
    ".bashrc": text_file(SHELL_RC),
    "proj/.env": text_file(SHELL_RC),
}
# Folders under which a scanner reports what it finds by name: given hostile names.
NAMED_PLACES = (
    ".lmstudio/models/{}/model.gguf",
    ".lmstudio/models/acme/{}.gguf",
    f"{CHROME}/Extensions/{AI_EXTENSION}/{{}}/manifest.json",
    ".vscode/extensions/{}/package.json",
    ".local/lib/node_modules/{}/package.json",
    ".local/lib/python3.12/site-packages/{}.dist-info/METADATA",
    "Applications/{}.app/Contents/Info.plist",
    ".local/share/applications/{}.desktop",
)


def files_of(table: dict[str, st.SearchStrategy[bytes]]) -> st.SearchStrategy[dict[str, bytes]]:
    """Some of the table's files, each with hostile content."""
    return st.fixed_dictionaries({}, optional=dict(table))


def _scan(
    files: dict[str, bytes],
    names: Sequence[tuple[int, bytes]],
    scanners: Sequence[Scanner],
    matcher: Matcher,
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        home = root / "home" / "alice"
        home.mkdir(parents=True)
        for rel, content in files.items():
            _write(os.fsencode(home / rel), content)
        for place, name in names:
            template = os.fsencode(str(home / NAMED_PLACES[place % len(NAMED_PLACES)]))
            _write(template.replace(b"{}", name), b'{"name": "openai", "version": "1"}', 2 << 20)
        ctx = ScanContext(root=root, users=(LocalUser("alice", home, 1000),), platform="linux")
        findings, errors = [], []
        for scanner in scanners:
            # No exception of any kind: a scanner turns every problem into a ScannerError.
            observations, scanner_errors = run(scanner, ctx)
            errors += [fit_scanner_error(error) for error in scanner_errors]
            findings += [
                finding
                for observation in observations
                if isinstance(observation, Observation)
                and (finding := to_finding(ctx, matcher, observation)) is not None
            ]
        validate_report(json.loads(report(findings, errors=errors[:1000]).to_json()))


def _write(path: bytes, content: bytes, size: int | None = None) -> None:
    with contextlib.suppress(OSError):  # a name the filesystem refuses (too long) is skipped
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(content)
            if size is not None:
                handle.truncate(size)


def _fuzz(
    table: dict[str, st.SearchStrategy[bytes]], scanners: Callable[[Catalogue], list[Scanner]]
) -> Callable[..., None]:
    @given(files=files_of(table), names=st.lists(st.tuples(st.integers(0, 50), NAMES), max_size=3))
    def test(
        catalogue: Catalogue,
        matcher: Matcher,
        files: dict[str, bytes],
        names: list[tuple[int, bytes]],
    ) -> None:
        count_example()
        _scan(files, names, scanners(catalogue), matcher)

    return test


test_browser_profiles_and_manifests = fuzzed(max_examples=80)(
    _fuzz(BROWSER_FILES, lambda _catalogue: [BrowserExtensionScanner()])
)
test_ide_extension_manifests_and_plugin_jars = fuzzed(max_examples=80)(
    _fuzz(IDE_FILES, lambda _catalogue: [IdeExtensionScanner()])
)
test_package_metadata = fuzzed(max_examples=80)(
    _fuzz(PACKAGE_FILES, lambda _catalogue: [PackageScanner()])
)
test_mcp_configs_apps_plists_environment_and_model_names = fuzzed(max_examples=80)(
    _fuzz(
        OTHER_FILES,
        lambda catalogue: [
            McpServerScanner(),
            DesktopAppScanner(),
            EnvironmentScanner(),
            ModelFileScanner(),
            FootprintScanner.for_catalogue(catalogue),
        ],
    )
)


@fuzzed(max_examples=80)
@given(
    passwd=text_file(["alice:x:1000:1000::/home/alice:/bin/bash", "bob:x:x:::/:/bin/false"]),
    record=plist_file(
        {"name": ["carol"], "home": ["/Users/carol"], "uid": ["501"], "shell": ["/bin/zsh"]}
    ),
)
def test_user_databases_of_a_mounted_image(passwd: bytes, record: bytes) -> None:
    count_example()
    with tempfile.TemporaryDirectory() as folder:
        linux, mac = Path(folder) / "linux", Path(folder) / "mac"
        _write(os.fsencode(linux / "etc" / "passwd"), passwd)
        _write(os.fsencode(mac / "var/db/dslocal/nodes/Default/users/carol.plist"), record)
        for root in (linux, mac):
            with contextlib.suppress(*OWN_ERRORS):
                for user in local_users(root):
                    assert isinstance(user.name, str) and isinstance(user.home, Path)
