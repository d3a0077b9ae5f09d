"""`shadowmap signatures match` gives an extension the verdict the agent gives it.

Extensions are installed as an endpoint holds them (Chromium profiles with ``_locales``, a
Firefox profile, VS Code folders with ``package.nls.json``, a JetBrains plugin jar); the agent's
real scanners and runner judge them; the command judges the same extensions from their unpacked
folders (``--manifest``) or their manifest fields (``--name``, ``--permission``...). Both must
give the same service, confidence, heuristic reason and severity.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from agent.runner import run_scan
from agent.scanners.base import ScanContext
from agent.scanners.browsers import BrowserExtensionScanner
from agent.scanners.ide import IdeExtensionScanner
from bench.detection.labelled import Item, load
from bench.detection.layout import (
    VERSION,
    extension_folder,
    install_browser_extensions,
    install_ide_extensions,
    make_user,
    plugin_xml,
)
from server import signatures_cli
from signatures import Finding, IndicatorKind, Matcher

REPO = Path(__file__).resolve().parent.parent
MATCH = (sys.executable, "-m", "server", "signatures", "match", "--kind", "extension")
Verdict = tuple[str | None, str | None, str | None, str] | None


def _item(kind: str, key: str, label: str = "ai", **fields: str) -> Item:
    return Item(label=label, kind=kind, key=key, fields={"id": key, **fields})


def browser_items(catalogue_malicious: str) -> list[Item]:
    """Real manifests from the labelled set, a sample of name-only rows, and hand-made traps."""
    labelled = load("browser_extension")
    real = [item for item in labelled if item.fields.get("note", "").startswith("real manifest")]
    sample = [item for item in labelled if item not in real]
    chosen = real + sample[:40] + [item for item in sample if item.label == "non-ai"][:40]
    made = [
        _item(
            "browser_extension",
            "p" * 32,
            name="__MSG_appName__",
            default_locale="de",
            locales=json.dumps({"de": {"appName": "Gemini Wallet"}}),
        ),
        _item(
            "browser_extension",
            "o" * 32,
            name="Helper",
            permissions="sidePanel | storage",
            host_permissions="https://claude.ai/*",
        ),
        _item("browser_extension", "n" * 32, name="Notes", homepage="https://chatgpt.com/notes"),
        _item("browser_extension", catalogue_malicious, name="Claude search"),
        _item(
            "browser_extension",
            "helper@example.test",
            store="firefox",
            name="Translate",
            description="Your AI translation assistant",
        ),
        _item(
            "browser_extension",
            "wallet@example.test",
            store="firefox",
            name="Gemini Wallet",
            host_permissions="https://exchange.gemini.com/*",
        ),
    ]
    return chosen + made


def agent_verdicts(findings: list[Finding]) -> dict[str, Verdict]:
    return {
        finding.indicator: (
            finding.service_id,
            finding.confidence.value,
            finding.heuristic,
            finding.severity.value,
        )
        for finding in findings
    }


def cli(argv: list[str]) -> Verdict:
    parser = argparse.ArgumentParser(prog="shadowmap")
    signatures_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["signatures", "match", *argv])
    out = io.StringIO()
    with redirect_stdout(out):
        assert args.func(args) == 0
    record = json.loads(out.getvalue())
    if record["confidence"] is None:
        return None
    return record["service_id"], record["confidence"], record["heuristic"], record["severity"]


def _flags(item: Item) -> list[str]:
    """The manifest fields of a Firefox add-on as options (extensions.json has no folder)."""
    argv = ["--value", item.key, "--name", item.fields.get("name", "")]
    if item.fields.get("description"):
        argv += ["--description", item.fields["description"]]
    for pattern in item.values("host_permissions"):
        argv += ["--host-permission", pattern]
    for permission in item.values("permissions"):
        argv += ["--permission", permission]
    return argv


@pytest.fixture(autouse=True)
def one_catalogue_load(monkeypatch: pytest.MonkeyPatch, matcher: Matcher) -> None:
    """Each command run would load the same shipped catalogue again: hand it the loaded one."""
    monkeypatch.setattr(signatures_cli, "load_catalogue", lambda _directory=None: matcher.catalogue)


@pytest.mark.slow
def test_browser_extensions_get_the_same_verdict_from_the_agent_and_the_cli(
    tmp_path: Path, matcher: Matcher
) -> None:
    malicious = next(
        value
        for service in matcher.catalogue.malicious_services()
        for value in service.indicators.get(IndicatorKind.BROWSER_EXTENSION, ())
    )
    items = browser_items(malicious)
    user = make_user(tmp_path)
    install_browser_extensions(user.home, items)
    result = run_scan(
        ScanContext(root=tmp_path, users=(user,), platform="linux"),
        (BrowserExtensionScanner(),),
        matcher,
    )
    assert result.errors == []
    by_agent = agent_verdicts(result.findings)
    mismatches = {}
    for item in items:
        if item.fields.get("store") == "firefox":
            by_cli = cli(["--kind", "extension", *_flags(item)])
        else:
            folder = extension_folder(user.home, item)
            by_cli = cli(["--kind", "extension", "--manifest", str(folder)])
        if by_cli != by_agent.get(item.key):
            mismatches[item.key] = (by_agent.get(item.key), by_cli)
    assert mismatches == {}
    # The table holds every outcome: catalogue hits, heuristics, traps left alone, malicious.
    assert by_agent[malicious][3] == "malicious"
    assert by_agent["o" * 32] is not None and by_agent["o" * 32][2] == (
        "extension-side-panel-ai-host:claude.ai"
    )
    assert "p" * 32 not in by_agent and "wallet@example.test" not in by_agent
    assert by_agent["helper@example.test"] == (
        None,
        "low",
        "extension-description-token:ai",
        "normal",
    )


@pytest.mark.slow
def test_ide_extensions_get_the_same_verdict_from_the_agent_and_the_cli(
    tmp_path: Path, matcher: Matcher
) -> None:
    items = load("ide_extension")
    user = make_user(tmp_path)
    install_ide_extensions(user.home, items)
    result = run_scan(
        ScanContext(root=tmp_path, users=(user,), platform="linux"),
        (IdeExtensionScanner(),),
        matcher,
    )
    assert result.errors == []
    by_agent = agent_verdicts(result.findings)
    mismatches = {}
    for item in items:
        if item.fields.get("ide") == "jetbrains":
            manifest = tmp_path / "plugins" / item.key / "plugin.xml"
            manifest.parent.mkdir(parents=True)
            manifest.write_text(plugin_xml(item), encoding="utf-8")
        else:
            manifest = user.home / ".vscode/extensions" / f"{item.key.lower()}-{VERSION}"
        by_cli = cli(["--kind", "ide-extension", "--manifest", str(manifest)])
        if by_cli != by_agent.get(item.key):
            mismatches[item.key] = (by_agent.get(item.key), by_cli)
    assert mismatches == {}
    assert any(verdict is not None and verdict[0] is None for verdict in by_agent.values())


@pytest.mark.slow
def test_the_installed_command_reads_an_unpacked_extension_with_its_locales(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "abcdefghijklmnopabcdefghijklmnop" / "1.0_0"
    (folder / "_locales" / "fr").mkdir(parents=True)
    (folder / "manifest.json").write_text(
        json.dumps(
            {
                "manifest_version": 3,
                "name": "__MSG_name__",
                "version": "1.0",
                "default_locale": "fr",
                "permissions": ["sidePanel"],
            }
        )
    )
    (folder / "_locales" / "fr" / "messages.json").write_text(
        json.dumps({"name": {"message": "Assistant Claude pour vos onglets"}})
    )
    result = subprocess.run(
        [*MATCH, "--manifest", str(folder)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["value"] == "abcdefghijklmnopabcdefghijklmnop"
    assert (record["heuristic"], record["confidence"]) == ("extension-name-token:claude", "medium")
    missing = subprocess.run(
        [*MATCH, "--manifest", str(tmp_path / "nowhere")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert missing.returncode == 1 and "no manifest.json" in missing.stderr
