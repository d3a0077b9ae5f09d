"""One DNS-name judge: live capture, the scanners' runner, log import and `signatures match` agree.

The same table of names goes through all four paths; each must give the same service, the
same confidence and the same reason (the catalogue indicator that matched, or the heuristic).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from agent.network.observe import NetworkObserver
from agent.runner import run_scan
from agent.scanners.base import Observation, ScanContext, ScanItem
from collector.logimport import import_log
from signatures import Finding, FindingKind, IndicatorKind, Matcher
from tests.packets import dns_query

REPO = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)

Verdict = tuple[str | None, str, str] | None  # (service id, confidence, reason) or dropped

# name -> what every path must say about it
NAMES: dict[str, Verdict] = {
    # Catalogue hits, the most specific entry winning.
    "chatgpt.com": ("openai-chatgpt", "medium", "domain:chatgpt.com"),
    "api.openai.com": ("openai-api", "high", "host:api.openai.com"),
    "claude.ai": ("anthropic-claude", "medium", "domain:claude.ai"),
    "gemini.google.com": ("google-gemini", "high", "host:gemini.google.com"),
    "generativelanguage.googleapis.com": (
        "google-gemini-api",
        "high",
        "host:generativelanguage.googleapis.com",
    ),
    "api.githubcopilot.com": ("github-copilot", "medium", "domain:githubcopilot.com"),
    "bedrock-runtime.us-east-1.amazonaws.com": (
        "aws-bedrock",
        "high",
        "host:bedrock-runtime.*.amazonaws.com",
    ),
    # The same names as people and logs write them.
    "ChatGPT.COM.": ("openai-chatgpt", "medium", "domain:chatgpt.com"),
    "API.OpenAI.com.": ("openai-api", "high", "host:api.openai.com"),
    "\uff43\uff48\uff41\uff54\uff47\uff50\uff54.com": (  # chatgpt in full-width letters
        "openai-chatgpt",
        "medium",
        "domain:chatgpt.com",
    ),
    # Heuristic hits: unknown to the catalogue, but the name says AI.
    "gpt-gateway.corp.example": (None, "low", "dns-name-token:gpt"),
    "LLM-Proxy.Corp.Example.": (None, "low", "dns-name-token:llm"),
    "ollama.lab.example": (None, "low", "dns-name-token:ollama"),
    "api.somestartup.ai": (None, "low", "dns-ai-api-label:api"),
    "api.b\u00fccher.ai": (None, "low", "dns-ai-api-label:api"),  # an international name
    "api.xn--bcher-kva.ai": (None, "low", "dns-ai-api-label:api"),  # ... in its ASCII form
    "gpt.b\u00fccher.example": (None, "low", "dns-name-token:gpt"),
    "ai.example.com": (None, "low", "dns-name-token:ai"),
    "openaiexports.blob.core.windows.net": (None, "low", "dns-name-prefix:openai"),
    # ... unless the catalogue names that exact host (v2fly's OpenAI list, resolved to the
    # service owning openai.com): the catalogue hit wins over the name rule.
    "openaiassets.blob.core.windows.net": (
        "openai-platform",
        "high",
        "host:openaiassets.blob.core.windows.net",
    ),
    # Traps: look-alikes and neighbours that are not AI (or not this AI).
    "gemini.com": None,  # a crypto exchange
    "api.github.com": None,
    "www.googleapis.com": None,
    "s3.us-east-1.amazonaws.com": None,
    "ch\u0430tgpt.com": None,  # a Cyrillic "a": a homograph of chatgpt.com
    "chatgpt.com.evil.example": (None, "low", "dns-name-token:chatgpt"),  # never ChatGPT's
    "evilchatgpt.com": None,
    "startup.ai": None,
    "mail.example.ai": None,  # "ai" only as the top-level domain
    "said.example.com": None,
    "egypt.example": None,
    "llama.example.com": None,
    "llm.local": None,
    "1.0.0.127.in-addr.arpa": None,
}


def _verdict(finding: Finding | None) -> Verdict:
    if finding is None:
        return None
    matched = finding.evidence.get("matched")
    reason = finding.heuristic or (matched if isinstance(matched, str) else "")
    return finding.service_id, finding.confidence.value, reason


def _wire_form(name: str) -> str:
    """The name as a resolver or a TLS client sends it: international names in ASCII."""
    return name if name.isascii() else name.encode("idna").decode("ascii")


def by_live_capture(matcher: Matcher) -> dict[str, Verdict]:
    verdicts: dict[str, Verdict] = {}
    for name in NAMES:
        observer = NetworkObserver(matcher, source="live")
        query = dns_query(_wire_form(name).rstrip("."))
        observer.dns_message(query, b"\x0a\x00\x00\x02", b"\x0a\x00\x00\x35", 1_764_244_800.0)
        findings = observer.drain()
        assert len(findings) <= 1
        verdicts[name] = _verdict(findings[0] if findings else None)
    return verdicts


class _Names:
    """A scanner that saw connections to every name of the table (as the connections scanner
    reports a host it knows an address by)."""

    name = "names"
    platforms = frozenset({"linux"})
    live = False
    evidence = ()

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        for index, name in enumerate(NAMES):
            yield Observation(
                FindingKind.CONNECTION,
                IndicatorKind.HOST,
                name,
                user=f"user-{index}",
                evidence={"remote_host": name},
            )


def by_runner(matcher: Matcher) -> dict[str, Verdict]:
    result = run_scan(ScanContext(platform="linux", now=NOW), [_Names()], matcher)
    assert result.errors == []
    by_user = {finding.user: finding for finding in result.findings}
    return {name: _verdict(by_user.get(f"user-{index}")) for index, name in enumerate(NAMES)}


def by_log_import(matcher: Matcher, tmp_path: Path) -> dict[str, Verdict]:
    log = tmp_path / "pihole.log"
    lines = [
        f"Nov 27 11:00:{index % 60:02d} dnsmasq[1]: query[A] {name} from 10.0.{index}.1\n"
        for index, name in enumerate(NAMES)
    ]
    log.write_text("".join(lines), encoding="utf-8")
    reports = import_log(log, "pihole", matcher, now=NOW)
    by_client = {report.host.hostname: report.findings for report in reports}
    verdicts: dict[str, Verdict] = {}
    for index, name in enumerate(NAMES):
        findings = by_client.get(f"10.0.{index}.1", [])
        assert len(findings) <= 1
        verdicts[name] = _verdict(findings[0] if findings else None)
    return verdicts


def by_signatures_match(tmp_path: Path) -> dict[str, Verdict]:
    names = tmp_path / "names.txt"
    names.write_text("".join(f"{name}\n" for name in NAMES), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "server", "signatures", "match", "--kind", "domain", str(names)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8"},
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [record["value"] for record in records] == list(NAMES)
    verdicts: dict[str, Verdict] = {}
    for name, record in zip(NAMES, records, strict=True):
        if record["confidence"] is None:
            verdicts[name] = None
            continue
        reason = record["heuristic"] or f"{record['indicator_kind']}:{record['indicator']}"
        verdicts[name] = (record["service_id"], record["confidence"], reason)
    return verdicts


def test_every_path_gives_every_name_the_same_verdict(matcher: Matcher, tmp_path: Path) -> None:
    paths = {
        "live capture": by_live_capture(matcher),
        "scanners (runner)": by_runner(matcher),
        "log import": by_log_import(matcher, tmp_path),
        "signatures match": by_signatures_match(tmp_path),
    }
    for path, verdicts in paths.items():
        wrong = {
            name: (verdicts[name], expected)
            for name, expected in NAMES.items()
            if verdicts[name] != expected
        }
        assert wrong == {}, f"{path} (got, expected): {wrong}"
