"""A fleet for the UI at scale, made only through the product's own functions: agents enroll
and their reports go through collector ingest; departments are set the way the hosts page sets
them; register entries are made by promoting items (server.inventory.service).

Service rank r (0 = the most widespread) is seen on about hosts/(r+1) hosts; the first host does
not report the most widespread service, so it is not the first item inserted. Catalogue services
with Chinese names are among them (the PDF and the pages must draw them), and every host has an
unknown browser extension of its own, named from its manifest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector.db import transaction
from collector.ingest import ingest_report
from collector.store import agents, hosts
from collector.store.inventory import InventoryItem
from server.inventory import service as inventory_service
from signatures import (
    AgentInfo,
    Catalogue,
    Confidence,
    Finding,
    FindingKind,
    HostInfo,
    Report,
)

CJK_SERVICES = ("doubao", "alibaba-qwen", "baidu-ernie", "zhipu-chatglm", "tencent-hunyuan")
DEPARTMENTS = ("Finance", "Engineering", "Sales", "Legal", "")
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Fleet:
    hosts: int
    services: tuple[str, ...]  # by rank: services[0] is on every host but the first
    widest_name: str


def fleet_services(catalogue: Catalogue, count: int) -> tuple[str, ...]:
    """Return ``count`` catalogue services (no malicious ones), Chinese-named ones among them."""
    chosen = [sid for sid in CJK_SERVICES if catalogue.get(sid)]
    for service in catalogue.services:
        if len(chosen) >= count:
            break
        if service.malicious is None and service.id not in chosen:
            chosen.append(service.id)
    # The widest is a Chinese-named service, so that the top of every list shows CJK.
    return tuple(chosen[:count])


def _findings(rank_ids: tuple[str, ...], number: int, seen: dt.datetime) -> list[Finding]:
    found = []
    for rank, service_id in enumerate(rank_ids):
        on_host = number % (rank + 1) == 0 if rank else number > 0
        if on_host:
            found.append(
                Finding(
                    kind=FindingKind.PROCESS,
                    indicator=f"{service_id}-helper",
                    indicator_kind="process",
                    service_id=service_id,
                    confidence=Confidence.HIGH,
                    user=f"user{number % 97}",
                    evidence={"pid": 1000 + rank},
                    first_seen=seen,
                    last_seen=seen,
                )
            )
    extension_id = f"{number:04d}".translate(str.maketrans("0123456789", "abcdefghij")) * 8
    found.append(
        Finding(
            kind=FindingKind.BROWSER_EXTENSION,
            indicator=extension_id,
            indicator_kind="browser_extension",
            service_id=None,
            confidence=Confidence.LOW,
            heuristic="host permission on an AI domain",
            user=f"user{number % 97}",
            evidence={"browser": "chrome", "name": f"Writing helper {number}"},
            first_seen=seen,
            last_seen=seen,
        )
    )
    return found


def enroll_and_report(
    session: Session,
    *,
    catalogue: Catalogue,
    secret: str,
    uid: str,
    hostname: str,
    report_id: str,
    os: str,
    agent_version: str,
    seen: dt.datetime,
    findings: list[Finding],
    department: str,
) -> int:
    """Enroll one agent, ingest its full report and set its host's department, as the
    enrollment endpoint, the report endpoint and the hosts page do; return the findings sent."""
    agent, _credential = agents.enroll_agent(
        session, enrollment_secret=secret, agent_uid=uid, hostname=hostname, os="linux"
    )
    ingest_report(
        session,
        agent=agent,
        catalogue=catalogue,
        report=Report(
            report_id=report_id,
            agent=AgentInfo(id=uid, version=agent_version, catalogue_version="fleet"),
            host=HostInfo(hostname=hostname, os=os, os_version="", arch="x86_64"),
            generated_at=seen,
            findings=findings,
        ),
    )
    if department:
        hosts.update_host(session, host_id=agent.host_id, department=department)
    return len(findings)


def seed_fleet(
    sessions: sessionmaker[Session],
    catalogue: Catalogue,
    *,
    hosts_count: int,
    services_count: int,
    batch: int = 50,
) -> Fleet:
    """Enroll ``hosts_count`` agents and ingest one report from each (``batch`` per commit)."""
    rank_ids = fleet_services(catalogue, services_count)
    with transaction(sessions) as session:
        _token, secret = agents.create_enrollment_token(
            session, name="fleet", expires_at=None, max_uses=None
        )
    for start in range(0, hosts_count, batch):
        with transaction(sessions) as session:
            for number in range(start, min(start + batch, hosts_count)):
                seen = NOW - dt.timedelta(days=number % 60)
                enroll_and_report(
                    session,
                    catalogue=catalogue,
                    secret=secret,
                    uid=f"fleet-{number:05d}",
                    hostname=f"host-{number:05d}",
                    report_id=f"00000000-0000-4000-8000-{number:012d}",
                    os=("linux", "windows", "macos")[number % 3],
                    agent_version=f"0.{1 + number % 3}.0",
                    seen=seen,
                    findings=_findings(rank_ids, number, seen),
                    department=DEPARTMENTS[number % len(DEPARTMENTS)],
                )
    widest = catalogue.get(rank_ids[0])
    return Fleet(hosts=hosts_count, services=rank_ids, widest_name=widest.name if widest else "")


def promote_some(
    sessions: sessionmaker[Session], *, actor: str, count: int, skip: int = 10
) -> list[str]:
    """Promote ``count`` items to the register (after the ``skip`` most widespread, which stay
    in the triage queue); return their register ids."""
    ids: list[str] = []
    with transaction(sessions) as session:
        items = session.scalars(
            select(InventoryItem)
            .order_by(InventoryItem.host_count.desc(), InventoryItem.id)
            .offset(skip)
            .limit(count)
        ).all()
        for item in items:
            inventory_service.assign_item(session, actor=actor, item_id=item.id, assignee=actor)
            entry = inventory_service.promote_item(
                session, actor=actor, item_id=item.id, business_unit="Finance"
            )
            ids.append(entry.register_id)
    return ids
