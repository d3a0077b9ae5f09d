"""Realistic seed data for the register journeys and screenshots: hosts, findings over twelve
weeks, and a register with entries in every state."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from collector.ingest import ingest_report
from collector.store.agents import enroll_agent
from server.register import service
from server.register.schemas import EntryInput
from signatures import FindingKind, load_catalogue
from tests.factories import finding, report

HOSTILE = '<img src=x onerror="window.__pwned=1">Evil AI <script>window.__pwned=2</script>'

# (host, user, service, weeks ago, kind, indicator)
_SIGHTINGS = [
    ("fin-laptop-01", "dana", "openai-chatgpt", 11, FindingKind.PROCESS, "ChatGPT"),
    ("fin-laptop-02", "lee", "openai-chatgpt", 9, FindingKind.DNS, "chatgpt.com"),
    ("mkt-mac-03", "sam", "openai-chatgpt", 7, FindingKind.PROCESS, "ChatGPT"),
    ("eng-ws-04", "ari", "github-copilot", 10, FindingKind.IDE_EXTENSION, "github.copilot"),
    ("eng-ws-05", "kim", "github-copilot", 8, FindingKind.IDE_EXTENSION, "github.copilot"),
    ("eng-ws-05", "kim", "cursor", 6, FindingKind.APP, "Cursor"),
    ("eng-ws-04", "ari", "ollama", 5, FindingKind.RUNTIME, "ollama"),
    ("hr-laptop-06", "jo", "anthropic-claude", 4, FindingKind.DNS, "claude.ai"),
    ("mkt-mac-03", "sam", "perplexity", 3, FindingKind.DNS, "perplexity.ai"),
    ("fin-laptop-02", "lee", "deepseek", 2, FindingKind.DNS, "chat.deepseek.com"),
    ("mkt-mac-07", "noa", "google-gemini", 1, FindingKind.DNS, "gemini.google.com"),
    ("eng-ws-08", "max", "huggingface", 1, FindingKind.DNS, "huggingface.co"),
    ("sales-lt-09", "ivy", "mistral-le-chat", 0, FindingKind.DNS, "chat.mistral.ai"),
]


def seed(session: Session, enrollment_secret: str, *, governed: bool = True) -> None:
    """Ingest findings from nine hosts and, when governed, build a register around them."""
    catalogue = load_catalogue()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    by_host: dict[str, list[object]] = {}
    for host, user, service_id, weeks, kind, indicator in _SIGHTINGS:
        seen = now - dt.timedelta(weeks=weeks, hours=3)
        by_host.setdefault(host, []).append(
            finding(
                service_id,
                kind=kind,
                indicator=indicator,
                indicator_kind=kind.value,
                user=user,
                seen=seen,
            )
        )
    by_host["mkt-mac-03"].append(
        finding(
            None,
            kind=FindingKind.BROWSER_EXTENSION,
            indicator=HOSTILE,
            indicator_kind="browser_extension",
            heuristic="host permission on claude.ai",
            seen=now - dt.timedelta(days=2),
            evidence={"browser": "chrome"},
        )
    )
    for index, (host, findings) in enumerate(sorted(by_host.items())):
        agent, _ = enroll_agent(
            session,
            enrollment_secret=enrollment_secret,
            agent_uid=f"agent-{index:02d}",
            hostname=host,
            os="linux",
        )
        ingest_report(
            session,
            agent=agent,
            catalogue=catalogue,
            report=report(findings, agent_id=f"agent-{index:02d}", hostname=host),
        )
    if governed:
        _register(session)


def _register(session: Session) -> None:
    def entry(title: str, system: str, unit: str, owner: str, risk: str, **extra: object) -> str:
        fields = EntryInput(
            title=title,
            ai_system=system,
            business_unit=unit,
            business_owner=owner,
            risk_level=risk,  # type: ignore[arg-type]
            purpose=f"{system} for {unit.lower()} work",
            risk_rationale="Assessed against the AI risk matrix",
            **extra,
        )
        return service.create_entry(session, actor="reviewer", fields=fields).register_id

    copilot = entry(
        "GitHub Copilot — code completion",
        "GitHub Copilot",
        "Engineering",
        "Priya Raman",
        "medium",
        supplier="GitHub",
        supplier_review="approved",
        data_classes=["source_code"],
        eu_ai_act_class="minimal",
    )
    service.decide_entry(
        session,
        actor="reviewer",
        register_id=copilot,
        expected_version=1,
        decision="approved",
        rationale="Business licence, no training on code",
    )
    claude = entry(
        "Claude — HR policy drafting",
        "Claude",
        "People",
        "Morgan Lee",
        "high",
        supplier="Anthropic",
        supplier_review="approved_with_conditions",
        data_classes=["employee_data"],
        dpia_screening="dpia_completed",
        eu_ai_act_class="transparency_art50",
    )
    service.decide_entry(
        session,
        actor="reviewer",
        register_id=claude,
        expected_version=1,
        decision="restricted",
        rationale="Useful, but employee data is involved",
        conditions="No candidate or performance data; enterprise workspace only",
    )
    deepseek = entry(
        "DeepSeek chat",
        "DeepSeek",
        "Finance",
        "Dana Whitfield",
        "critical",
        supplier="DeepSeek",
        supplier_review="rejected",
    )
    service.decide_entry(
        session,
        actor="reviewer",
        register_id=deepseek,
        expected_version=1,
        decision="prohibited",
        rationale="Data residency and no DPA",
    )
    entry("Ollama — local models", "Ollama", "Engineering", "", "unrated", supplier="")
