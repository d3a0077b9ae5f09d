"""Scanners declare their evidence; every built-in one emits only what it declares.

Every built-in scanner runs here over the OS layouts the image tests build (plus a browser
profile) and over real processes, sockets and connections of this host; each must produce
something, and the shared ``run`` helper fails on any field its declaration does not allow.
The documents and the spool read the same declarations.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.addressbook import AddressBook
from agent.config import AgentSettings
from agent.evidence import EvidenceField, undeclared_evidence
from agent.scanners.base import Observation, ScanContext, ScanItem
from agent.scanners.connections import ConnectionScanner
from agent.scanners.processes import ProcessScanner
from agent.scanners.reference import evidence_sources, render_reference
from agent.scanners.registry import build_scanners
from agent.scanners.runtimes import LocalRuntimeScanner
from agent.users import local_users
from signatures import Catalogue, FindingKind, IndicatorKind
from tests.agent.scanners.helpers import run
from tests.agent.scanners.test_browsers import chrome_profile, manifest, store_extension
from tests.agent.scanners.test_images import darwin_image, linux_image, windows_image

REPO = Path(__file__).resolve().parents[3]
EXTENSION_ID = "abcdefghijklmnopabcdefghijklmnop"


def _browser_profile(home: Path) -> None:
    profile = chrome_profile(home / ".config/google-chrome", "Default", prefs={})
    path = store_extension(profile, EXTENSION_ID, manifest())
    chrome_profile(
        home / ".config/google-chrome",
        "Default",
        prefs={EXTENSION_ID: {"path": path, "location": 1, "from_webstore": True, "state": 1}},
    )


@pytest.mark.usefixtures("claude_like", "connected")
def test_every_built_in_scanner_emits_only_declared_evidence(
    tmp_path: Path,
    catalogue: Catalogue,
    process_named_ollama: tuple[int, int],
) -> None:
    scanners = build_scanners(AgentSettings(), catalogue)
    emitted: dict[str, list[Observation]] = {scanner.name: [] for scanner in scanners}
    for layout, build in (
        ("linux", linux_image),
        ("darwin", darwin_image),
        ("windows", windows_image),
    ):
        root = tmp_path / layout
        build(root)
        home = root / {"linux": "home/alice"}.get(layout, "Users/alice")
        _browser_profile(home)
        (home / ".codex").mkdir()
        ctx = ScanContext(root=root, users=local_users(root), platform=layout)
        for scanner in scanners:
            if not scanner.live:
                observations, _errors = run(scanner, ctx)
                emitted[scanner.name] += observations
    # Live scanners read this host: the real processes, listener and connection above.
    book = AddressBook(["api.openai.com"], resolve=lambda name: (["127.0.0.1"], 300))
    for scanner in (
        ProcessScanner(book),
        ConnectionScanner(book, public_only=False),
        LocalRuntimeScanner(),
    ):
        observations, _errors = run(scanner, ScanContext())
        emitted[scanner.name] += observations
    assert {name for name, found in emitted.items() if not found} == set()
    # The live ones found what this test started, not just whatever else runs here.
    assert any(o.evidence["port"] == process_named_ollama[1] for o in emitted["local_runtimes"])
    assert any("claude-code" in str(o.hints["cmdline"]) for o in emitted["processes"])


def test_an_undeclared_or_mistyped_field_is_caught() -> None:
    declared = (
        EvidenceField("pid", "integer", "Process id.", volatile=True),
        EvidenceField("started_at", "timestamp", "Start time.", volatile=True),
        EvidenceField("args", "text list", "Arguments."),
    )
    assert undeclared_evidence(declared, {"pid": 7, "started_at": None, "args": ["-v"]}) == []
    assert undeclared_evidence(declared, {"pid": 7, "create_time": 1.5}) == ["create_time"]
    assert undeclared_evidence(declared, {"pid": True}) == ["pid (bool is not integer)"]
    assert undeclared_evidence(declared, {"started_at": "yesterday"}) == [
        "started_at (str is not timestamp)"
    ]
    assert undeclared_evidence(declared, {"args": "-v"}) == ["args (str is not text list)"]
    with pytest.raises(ValueError, match="unknown type"):
        EvidenceField("pid", "int", "Process id.")


class _Sloppy:
    """Declares what the processes scanner declares, and emits one field more."""

    name = "sloppy"
    platforms = frozenset({"linux"})
    live = False
    evidence = ProcessScanner.evidence

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        yield Observation(
            FindingKind.PROCESS, IndicatorKind.PROCESS, "tool", evidence={"local_port": 5000}
        )


def test_a_scanner_emitting_an_undeclared_field_fails_the_shared_check(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match=r"undeclared evidence \['local_port'\]"):
        run(_Sloppy(), ScanContext(root=tmp_path))


def test_a_field_name_means_one_thing_across_sources(catalogue: Catalogue) -> None:
    seen: dict[str, tuple[str, bool, str]] = {}
    for source, fields in evidence_sources(catalogue).items():
        names = [declared.name for declared in fields]
        assert len(names) == len(set(names)), source
        for declared in fields:
            known = seen.setdefault(declared.name, (declared.type, declared.volatile, source))
            assert (declared.type, declared.volatile) == known[:2], (
                f"{declared.name}: {source} and {known[2]} disagree"
            )
    volatile = {name for name, (_type, is_volatile, _src) in seen.items() if is_volatile}
    assert volatile == {
        "pid",
        "ppid",
        "started_at",
        "remote_address",
        "modified_at",
        "count",
        "addresses",
        "servers",
    }


@pytest.mark.parametrize("doc", ["docs/scanners.md", "docs/network.md"])
def test_the_documents_show_the_declarations(doc: str, catalogue: Catalogue) -> None:
    text = (REPO / doc).read_text()
    sources = evidence_sources(catalogue)
    assert text == render_reference(text, sources), (
        f"{doc} is out of date: run python -m agent.scanners.reference {doc}"
    )
    assert re.search(r"<!-- evidence: [a-z_]+ ", text)


def test_every_source_has_a_table_and_the_command_writes_them(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    documented = set()
    for doc in ("docs/scanners.md", "docs/network.md"):
        documented |= set(re.findall(r"<!-- evidence: ([a-z_]+) ", (REPO / doc).read_text()))
    assert documented == set(evidence_sources(catalogue))
    stale = tmp_path / "stale.md"
    stale.write_text(
        "# x\n\n<!-- evidence: environment (generated) -->\n| old |\n<!-- /evidence -->\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "agent.scanners.reference", str(stale)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "| `variable` | text |" in stale.read_text() and "| old |" not in stale.read_text()
