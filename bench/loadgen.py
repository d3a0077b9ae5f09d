"""Simulated agents speaking real HTTP to one or more Shadowmap servers.

    /work/venv/bin/python -m bench.loadgen --url http://127.0.0.1:8000 --token smet_... \\
        --agents 2000 --rate 111 --duration 300

Enrolls ``--agents`` agents first, then sends reports at a fixed open-loop rate (a report is
sent on schedule whether or not earlier ones were answered, so a slow server shows up as
latency, not as a lower rate), spread round-robin over the ``--url`` replicas. Each agent has
20-80 findings drawn from the real catalogue plus some unknown candidates and 1-4 users; most
reports repeat the agent's state (new report id, same findings), some change a finding, and a
share are heartbeats. Prints and optionally writes latency percentiles and error counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.workload import SimulatedHost, make_hosts, next_report
from signatures import Catalogue, load_catalogue


@dataclass
class EnrolledAgent:
    host: SimulatedHost
    credential: str
    bodies: list[bytes] = field(default_factory=list)  # report JSON with a placeholder id
    heartbeat: bytes = b""


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    findings: int = 0

    def error(self, reason: str) -> None:
        self.errors[reason] = self.errors.get(reason, 0) + 1


_PLACEHOLDER = "00000000-0000-4000-8000-000000000000"


def _bodies(
    host: SimulatedHost, catalogue: Catalogue, rng: random.Random
) -> tuple[list[bytes], bytes]:
    """A few FULL report variants (same state, one with a change) and a heartbeat."""
    variants = []
    for change in (0.0, 0.0, 0.0, 1.0):
        report = next_report(host, catalogue, rng, change=change)
        doc = report.to_dict()
        doc["report_id"] = _PLACEHOLDER
        variants.append(json.dumps(doc, separators=(",", ":")).encode())
    doc["findings"] = []
    doc["kind"] = "heartbeat"
    return variants, json.dumps(doc, separators=(",", ":")).encode()


async def enroll_all(
    urls: list[str], token: str, hosts: list[SimulatedHost], concurrency: int
) -> list[EnrolledAgent]:
    limit = asyncio.Semaphore(concurrency)
    rng = random.Random(3)
    catalogue = load_catalogue()  # once: loading it per agent took most of the enrollment
    agents: list[EnrolledAgent] = []
    async with httpx.AsyncClient(timeout=60) as client:

        async def enroll(index: int, host: SimulatedHost) -> None:
            async with limit:
                answer = await client.post(
                    f"{urls[index % len(urls)]}/api/v1/agents/enroll",
                    json={
                        "token": token,
                        "agent_id": host.agent_id,
                        "host": {"hostname": host.hostname, "os": "linux"},
                    },
                )
                answer.raise_for_status()
                bodies, heartbeat = _bodies(host, catalogue, rng)
                agents.append(EnrolledAgent(host, answer.json()["credential"], bodies, heartbeat))

        await asyncio.gather(*(enroll(index, host) for index, host in enumerate(hosts)))
    return agents


async def send_reports(
    urls: list[str],
    agents: list[EnrolledAgent],
    *,
    rate: float,
    duration: float,
    heartbeat_share: float,
    change_share: float,
    first_full: bool = True,
    count: int | None = None,
) -> Outcome:
    """Send reports at ``rate`` per second for ``duration`` seconds (or exactly ``count``
    reports); return what happened once every answer is in."""
    outcome = Outcome()
    rng = random.Random(5)
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def send(
            number: int, agent: EnrolledAgent, body: bytes, findings: int, started: float
        ) -> None:
            # Latency counts from when the report was due, not from when the task ran, so a
            # late load generator cannot hide a slow server (no coordinated omission).
            url = f"{urls[number % len(urls)]}/api/v1/agents/reports"
            body = body.replace(_PLACEHOLDER.encode(), str(uuid.uuid4()).encode(), 1)
            try:
                answer = await client.post(
                    url,
                    content=body,
                    headers={
                        "Authorization": f"Bearer {agent.credential}",
                        "Content-Type": "application/json",
                    },
                )
            except httpx.HTTPError as exc:
                outcome.error(type(exc).__name__)
                return
            outcome.latencies_ms.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                outcome.error(f"HTTP {answer.status_code}")
            else:
                outcome.findings += findings

        tasks = []
        start = time.perf_counter()
        number = 0
        while number < count if count is not None else time.perf_counter() - start < duration:
            due = start + number / rate
            # Always yield, so that requests in flight progress even when sending is late.
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            agent = agents[number % len(agents)]
            first_round = number < len(agents) and first_full
            if not first_round and rng.random() < heartbeat_share:
                body, findings = agent.heartbeat, 0
            else:
                variant = len(agent.bodies) - 1 if rng.random() < change_share else 0
                body, findings = agent.bodies[variant], len(agent.host.findings)
            tasks.append(asyncio.create_task(send(number, agent, body, findings, due)))
            outcome.sent += 1
            number += 1
        await asyncio.gather(*tasks)
    return outcome


def summarise(outcome: Outcome, duration: float) -> dict[str, Any]:
    latencies = sorted(outcome.latencies_ms)

    def percentile(share: float) -> float:
        if not latencies:
            return 0.0
        return round(latencies[min(len(latencies) - 1, int(share * len(latencies)))], 1)

    return {
        "reports_sent": outcome.sent,
        "reports_per_s": round(outcome.sent / duration, 1),
        "findings_ingested": outcome.findings,
        "findings_per_s": round(outcome.findings / duration),
        "errors": outcome.errors,
        "error_count": sum(outcome.errors.values()),
        "latency_ms": {
            "p50": percentile(0.50),
            "p90": percentile(0.90),
            "p99": percentile(0.99),
            "max": round(latencies[-1], 1) if latencies else 0.0,
            "mean": round(statistics.fmean(latencies), 1) if latencies else 0.0,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", action="append", required=True, help="a server; repeatable")
    parser.add_argument("--token", required=True, help="an enrollment token")
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=111.0, help="reports per second")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds")
    parser.add_argument("--heartbeat-share", type=float, default=0.25)
    parser.add_argument("--change-share", type=float, default=0.1)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    hosts = make_hosts(args.agents, load_catalogue(), prefix=f"load{uuid.uuid4().hex[:6]}")
    agents = asyncio.run(enroll_all(args.url, args.token, hosts, concurrency=32))
    outcome = asyncio.run(
        send_reports(
            args.url,
            agents,
            rate=args.rate,
            duration=args.duration,
            heartbeat_share=args.heartbeat_share,
            change_share=args.change_share,
        )
    )
    summary = summarise(outcome, args.duration)
    print(json.dumps(summary, indent=2))
    if args.output:
        args.output.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
