"""Realistic agent reports for the benchmarks: findings drawn from the real catalogue plus some
unknown candidates, several users per host, mostly the same state from one report to the next."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field

from signatures import (
    AgentInfo,
    Catalogue,
    Confidence,
    Finding,
    FindingKind,
    HostInfo,
    Report,
    ReportKind,
)

# Channel and indicator kind a service is typically seen through.
_CHANNELS = (
    (FindingKind.PROCESS, "process"),
    (FindingKind.APP, "desktop_entry"),
    (FindingKind.BROWSER_EXTENSION, "browser_extension"),
    (FindingKind.IDE_EXTENSION, "ide_extension"),
    (FindingKind.PACKAGE, "pypi"),
    (FindingKind.DNS, "domain"),
    (FindingKind.SNI, "domain"),
    (FindingKind.LOG, "domain"),
)
_BROWSERS = ("chrome", "edge", "firefox", "brave")


@dataclass
class SimulatedHost:
    """One endpoint's stable state; a few findings change between reports."""

    agent_id: str
    hostname: str
    findings: list[Finding] = field(default_factory=list)


def _finding(
    rng: random.Random, service_ids: list[str], users: list[str], now: dt.datetime
) -> Finding:
    kind, indicator_kind = rng.choice(_CHANNELS)
    user = rng.choice(users)
    if rng.random() < 0.1:  # an unknown candidate, grouped by the collector
        label = rng.choice(("api", "chat", "app"))
        brand = f"{rng.choice(('newai', 'llmhub', 'promptly', 'agentx'))}{rng.randrange(40)}"
        indicator = f"{label}.{brand}.{rng.choice(('io', 'co.uk', 'dev', 'ai'))}"
        return Finding(
            kind=FindingKind.DNS,
            indicator=indicator,
            indicator_kind="domain",
            service_id=None,
            confidence=Confidence.LOW,
            heuristic="AI-like domain name",
            user=user,
            evidence={"count": rng.randrange(1, 50)},
            first_seen=now,
            last_seen=now,
        )
    service = rng.choice(service_ids)
    evidence: dict[str, object] = {"count": rng.randrange(1, 50)}
    if kind is FindingKind.BROWSER_EXTENSION:
        evidence["browser"] = rng.choice(_BROWSERS)
    return Finding(
        kind=kind,
        indicator=f"{service}-{indicator_kind}",
        indicator_kind=indicator_kind,
        service_id=service,
        confidence=Confidence.HIGH,
        heuristic=None,
        user=user,
        evidence=evidence,  # type: ignore[arg-type]
        first_seen=now,
        last_seen=now,
    )


def make_hosts(
    count: int, catalogue: Catalogue, *, seed: int = 7, prefix: str = "bench"
) -> list[SimulatedHost]:
    """Build ``count`` hosts with 20-80 findings each and 1-4 users."""
    rng = random.Random(seed)
    service_ids = [service.id for service in catalogue.services]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    hosts = []
    for number in range(count):
        users = [f"user{number}-{index}" for index in range(rng.randint(1, 4))]
        wanted = rng.randint(20, 80)
        seen: dict[tuple[str, str, str, str], Finding] = {}
        while len(seen) < wanted:
            found = _finding(rng, service_ids, users, now)
            seen[(found.service_id or "", found.kind.value, found.indicator, found.user or "")] = (
                found
            )
        hosts.append(
            SimulatedHost(
                agent_id=f"{prefix}-agent-{number:06d}",
                hostname=f"{prefix}-{number}",
                findings=list(seen.values()),
            )
        )
    return hosts


def next_report(
    host: SimulatedHost,
    catalogue: Catalogue,
    rng: random.Random,
    *,
    change: float = 0.1,
    later: dt.timedelta = dt.timedelta(0),
) -> Report:
    """The host's next FULL report: the same state seen again (``later`` than now), with a few
    findings changed."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) + later
    if rng.random() < change:
        service_ids = [service.id for service in catalogue.services]
        users = sorted({found.user or "" for found in host.findings}) or ["user"]
        host.findings[rng.randrange(len(host.findings))] = _finding(rng, service_ids, users, now)
    findings = [
        Finding(
            kind=found.kind,
            indicator=found.indicator,
            indicator_kind=found.indicator_kind,
            service_id=found.service_id,
            confidence=found.confidence,
            heuristic=found.heuristic,
            user=found.user,
            evidence=found.evidence,
            first_seen=found.first_seen,
            last_seen=now,
        )
        for found in host.findings
    ]
    return Report(
        report_id=str(uuid.uuid4()),
        agent=AgentInfo(id=host.agent_id, version="0.1.0", catalogue_version=catalogue.version),
        host=HostInfo(hostname=host.hostname, os="linux", os_version="Debian 12", arch="x86_64"),
        generated_at=now,
        findings=findings,
        kind=ReportKind.FULL,
    )
