"""Ingest latency while three webhook receivers hang; writes bench/results/outbound.json.

    .venv/bin/python -m bench.bench_outbound [--backend sqlite|postgres|both] [--rate 10]
        [--agents 20] [--duration 60] [--root PATH --label before]

Starts a real `shadowmap serve` (scheduler on, webhook deliveries polled every second) on a
fresh SQLite or PostgreSQL database, three HTTP receivers on loopback that accept every
request and never answer, and three webhook endpoints on them subscribed to every event.
Simulated agents then report over HTTP at a fixed open-loop rate; every report names new
unknown tools, so every report makes inventory events for the hanging receivers. Records
the latency of each report (from when it was due), its status, and what the receivers saw.

``--root`` runs the server from another checkout (e.g. the tree before issue 20's fix, made
with ``git archive``) so that both are measured the same way; ``--label`` names the run in
the results file, which keeps every label's runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bench.serverproc import REPO, cli, enroll, finding, postgres_database, report_body, serve

RESULTS = REPO / "bench" / "results" / "outbound.json"
# Catalogue services every simulated host shows (their items exist after the first report).
KNOWN = (
    ("ChatGPT", "openai-chatgpt"),
    ("Claude", "anthropic-claude"),
    ("ollama", "ollama"),
)


class HangingReceiver:
    """An HTTP server on loopback that reads each request and never answers."""

    def __init__(self) -> None:
        self.requests = 0
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests += 1
                receiver.release.wait(3600)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1) if ordered else 0.0


async def drive(
    url: str, agents: list[tuple[str, str]], *, rate: float, duration: float, new_per_report: int
) -> tuple[list[float], Counter[str]]:
    """Send reports at ``rate`` per second for ``duration`` seconds; return latencies (ms,
    counted from when each report was due) and outcomes by status."""
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def send(number: int, due: float) -> None:
            agent_id, credential = agents[number % len(agents)]
            findings = [finding(indicator, service) for indicator, service in KNOWN]
            findings += [finding(f"tool-{number}-{n}") for n in range(new_per_report)]
            body = report_body(agent_id, agent_id, findings)
            try:
                answer = await client.post(
                    f"{url}/api/v1/agents/reports",
                    content=body,
                    headers={"Authorization": f"Bearer {credential}"},
                )
                outcomes[f"HTTP {answer.status_code}"] += 1
            except httpx.HTTPError as exc:
                outcomes[type(exc).__name__] += 1
            latencies.append((time.perf_counter() - due) * 1000)

        tasks = []
        start = time.perf_counter()
        number = 0
        while time.perf_counter() - start < duration:
            due = start + number / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(send(number, due)))
            number += 1
        await asyncio.gather(*tasks)
    return latencies, outcomes


def run(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    receivers = [HangingReceiver() for _ in range(3)]
    try:
        with tempfile.TemporaryDirectory() as directory:
            data_dir = Path(directory)
            if backend == "postgres":
                with postgres_database() as database_url:
                    return measure(args, data_dir, database_url, receivers)
            return measure(args, data_dir, None, receivers)
    finally:
        for receiver in receivers:
            receiver.close()


def measure(
    args: argparse.Namespace,
    data_dir: Path,
    database_url: str | None,
    receivers: list[HangingReceiver],
) -> dict[str, Any]:
    root = args.root
    cli(root, data_dir, database_url, "db", "upgrade")
    enroll_token = cli(root, data_dir, database_url, "enroll-token", "create", "--quiet")
    admin = cli(
        root, data_dir, database_url, "api-token", "create", "--name", "bench",
        "--scope", "webhooks:admin", "--quiet",
    )  # fmt: skip
    settings = {
        "scheduler_enabled": "true",
        "webhook_poll_seconds": "1",
        "outbound_allow": "127.0.0.1/32",
    }
    with serve(root, data_dir, database_url, settings) as (_process, url):
        with httpx.Client(timeout=30) as client:
            for index, receiver in enumerate(receivers):
                created = client.post(
                    f"{url}/api/v1/webhooks",
                    json={"name": f"hanging-{index}", "url": receiver.url, "event_types": ["*"]},
                    headers={"Authorization": f"Bearer {admin}"},
                )
                created.raise_for_status()
            agents = []
            for number in range(args.agents):
                agent_id = f"bench-agent-{number:04d}"
                agents.append((agent_id, enroll(client, url, enroll_token, agent_id, agent_id)))
        # Each agent's first report, then time for the receivers to be called and hang.
        asyncio.run(drive(url, agents, rate=args.rate, duration=args.agents / args.rate,
                          new_per_report=0))  # fmt: skip
        time.sleep(3)
        hanging_before = sum(receiver.requests for receiver in receivers)
        latencies, outcomes = asyncio.run(
            drive(url, agents, rate=args.rate, duration=args.duration,
                  new_per_report=args.new_items)
        )  # fmt: skip
        delivery_log: dict[str, int] = {}
        try:
            with httpx.Client(timeout=120) as client:
                log = client.get(
                    f"{url}/api/v1/webhooks/deliveries",
                    params={"limit": 500},
                    headers={"Authorization": f"Bearer {admin}"},
                ).json()
            delivery_log = dict(Counter(f"{e['status']}: {e['last_error']}" for e in log))
        except httpx.HTTPError as exc:  # a server stuck behind its receivers
            delivery_log = {f"unreadable: {type(exc).__name__}": 1}
    server_errors = sum(count for status, count in outcomes.items() if status.startswith("HTTP 5"))
    return {
        "reports": sum(outcomes.values()),
        "outcomes": dict(outcomes),
        "server_errors_5xx": server_errors,
        "latency_ms": {
            "p50": percentile(latencies, 0.50),
            "p90": percentile(latencies, 0.90),
            "p99": percentile(latencies, 0.99),
            "max": round(max(latencies), 1) if latencies else 0.0,
            "mean": round(statistics.fmean(latencies), 1) if latencies else 0.0,
        },
        "receiver_requests_before_load": hanging_before,
        "receiver_requests_total": sum(receiver.requests for receiver in receivers),
        "delivery_log_last_500": delivery_log,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rate", type=float, default=10.0, help="reports per second")
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--new-items", type=int, default=3, help="new unknown tools per report")
    parser.add_argument("--root", type=Path, default=REPO, help="checkout to run the server from")
    parser.add_argument("--label", default="after", help="name of this run in the results")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    results: dict[str, Any] = (
        json.loads(args.output.read_text()) if args.output.exists() else {"runs": {}}
    )
    for backend in backends:
        started = time.perf_counter()
        figures = run(backend, args)
        figures["seconds"] = round(time.perf_counter() - started, 1)
        figures["machine"] = {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_end": [round(load, 2) for load in os.getloadavg()],
        }
        figures["command"] = (
            f"python -m bench.bench_outbound --backend {backend} --rate {args.rate:g} "
            f"--agents {args.agents} --duration {args.duration:g} --new-items {args.new_items}"
            + (f" --root {args.root} --label {args.label}" if args.root != REPO else "")
        )
        results["runs"][f"{args.label}/{backend}"] = figures
        print(json.dumps({f"{args.label}/{backend}": figures}, indent=2))
    results["benchmark"] = "agent report latency while three webhook receivers never answer"
    results["target"] = {"server_errors_5xx": 0}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
