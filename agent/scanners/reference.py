"""The scanner reference: what the agent declares, as tables in the docs.

``python -m agent.scanners.reference docs/scanners.md docs/network.md`` rewrites each
``<!-- evidence: NAME ... -->`` block of those files from NAME's evidence declaration, and the
``<!-- mcp-clients ... -->`` block from the MCP clients the agent reads; a test fails when a
block is out of date.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path

from agent.config import AgentSettings
from agent.evidence import EvidenceField, render_evidence_tables
from agent.network.observe import EVIDENCE as CAPTURE_EVIDENCE
from agent.runner import EVIDENCE as RUNNER_EVIDENCE
from agent.scanners.mcp import CLIENT_SERVICES, CONFIGS
from agent.scanners.registry import build_scanners
from signatures import Catalogue, load_catalogue


def evidence_sources(catalogue: Catalogue | None = None) -> Mapping[str, tuple[EvidenceField, ...]]:
    """Return every evidence declaration the agent ships, by source name.

    Each built-in scanner's under its name, network capture's as ``capture`` and what the
    runner adds to every finding as ``runner``.
    """
    scanners = build_scanners(AgentSettings(), catalogue or load_catalogue())
    sources = {scanner.name: scanner.evidence for scanner in scanners}
    sources["capture"] = CAPTURE_EVIDENCE
    sources["runner"] = RUNNER_EVIDENCE
    return sources


_CLIENTS = re.compile(
    r"(?P<open><!-- mcp-clients [^>]*-->\n).*?(?P<close><!-- /mcp-clients -->)", re.S
)


def mcp_client_table() -> str:
    """Return the MCP clients whose configuration is read, with their catalogue services."""
    files: dict[str, int] = {}
    for config in CONFIGS:
        files[config.client] = files.get(config.client, 0) + 1
    lines = ["| client | catalogue service | configuration files looked for |", "|---|---|---|"]
    for client, count in files.items():
        lines.append(f"| `{client}` | `{CLIENT_SERVICES[client]}` | {count} |")
    return "\n".join(lines) + "\n"


def render_reference(text: str, sources: Mapping[str, tuple[EvidenceField, ...]]) -> str:
    """Rewrite the evidence and MCP-client blocks of a Markdown text."""
    text = render_evidence_tables(text, sources)
    return _CLIENTS.sub(lambda found: found["open"] + mcp_client_table() + found["close"], text)


def main(argv: list[str]) -> int:
    """Rewrite the reference blocks of the given Markdown files in place."""
    sources = evidence_sources()
    for name in argv:
        path = Path(name)
        path.write_text(render_reference(path.read_text(), sources))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
