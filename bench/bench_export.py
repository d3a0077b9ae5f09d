"""Memory and time of inventory exports of 20,000 items; writes bench/results/export.json.

    .venv/bin/python -m bench.bench_export [--items 20000] [--backend sqlite|postgres]
        [--formats cyclonedx,json,csv] [--root PATH --label before]

Seeds the inventory through the product's own path: simulated agents enroll and send full
reports over HTTP to a real `shadowmap serve`: one naming two catalogue services, then
reports of 500 new unknown tools each (the per-report limit), 1,500 per agent (within the
hourly limit): 20,002 items for --items 20000. Then starts a fresh server process on that
database (so that the ingest's memory is not counted), warms it up with an empty export,
and downloads each export while sampling the server's resident set (psutil, every 20 ms).
Records the time to the last byte, the size, the server's peak RSS and its growth over the
warmed-up baseline. ``--root``/``--label`` as in bench_outbound.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.serverproc import REPO, cli, enroll, finding, postgres_database, report_body, serve

RESULTS = REPO / "bench" / "results" / "export.json"
PER_REPORT = 500
PER_AGENT = 1500  # within the hourly limit (2,000) with the catalogue services
MB = 1024 * 1024


def seed(url: str, token: str, items: int) -> dict[str, Any]:
    """Create ``items`` inventory items by agent reports; return what the server answered."""
    started = time.perf_counter()
    stored = 0
    limited = 0
    with httpx.Client(timeout=300) as client:
        for agent_number in range(-(-items // PER_AGENT)):
            agent_id = f"export-agent-{agent_number:04d}"
            credential = enroll(client, url, token, agent_id, agent_id)
            first = agent_number * PER_AGENT
            # The catalogue services this host uses, then its unknown tools, 500 a report.
            known = [finding("ChatGPT", "openai-chatgpt"), finding("Claude", "anthropic-claude")]
            reports = [known] + [
                [
                    finding(f"unknown-tool-{n:06d}")
                    for n in range(start, min(start + PER_REPORT, items))
                ]
                for start in range(first, min(first + PER_AGENT, items), PER_REPORT)
            ]
            for findings in reports:
                answer = client.post(
                    f"{url}/api/v1/agents/reports",
                    content=report_body(agent_id, agent_id, findings),
                    headers={"Authorization": f"Bearer {credential}"},
                )
                answer.raise_for_status()
                body = answer.json()
                stored += body["findings"]
                limited += len(body.get("limited", []))
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "findings_stored": stored,
        "reports_limited": limited,
    }


@contextmanager
def sampling(pid: int) -> Iterator[dict[str, float]]:
    """Sample the resident set of process ``pid`` every 20 ms; yield the figures (filled in
    when the block ends): baseline and peak, in MB."""
    process = psutil.Process(pid)
    figures = {"baseline_rss_mb": process.memory_info().rss / MB, "peak_rss_mb": 0.0}
    stop = threading.Event()

    def sample() -> None:
        peak = 0
        while not stop.is_set():
            peak = max(peak, process.memory_info().rss)
            stop.wait(0.02)
        figures["peak_rss_mb"] = max(peak, process.memory_info().rss) / MB

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield figures
    finally:
        stop.set()
        thread.join()


def count_items(fmt: str, body: bytes) -> int:
    if fmt == "cyclonedx":
        return len(json.loads(body)["services"])
    if fmt == "json":
        return len(json.loads(body)["items"])
    return body.count(b"\n") - 1


def measure(args: argparse.Namespace, data_dir: Path, database_url: str | None) -> dict[str, Any]:
    root = args.root
    cli(root, data_dir, database_url, "db", "upgrade")
    enroll_token = cli(root, data_dir, database_url, "enroll-token", "create", "--quiet")
    reader = cli(
        root, data_dir, database_url, "api-token", "create", "--name", "bench",
        "--scope", "inventory:read", "--quiet",
    )  # fmt: skip
    settings = {"scheduler_enabled": "false"}
    with serve(root, data_dir, database_url, settings) as (_process, url):
        seeded = seed(url, enroll_token, args.items)
    exports: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {reader}"}
    with serve(root, data_dir, database_url, settings) as (process, url):
        with httpx.Client(timeout=1800, headers=headers) as client:
            # Warm-up: the export code and its libraries loaded, no rows read.
            for fmt in args.formats:
                client.get(f"{url}/api/v1/exports/inventory.{fmt}", params={"state": "none"})
            for fmt in args.formats:
                with sampling(process.pid) as memory:
                    started = time.perf_counter()
                    answer = client.get(f"{url}/api/v1/exports/inventory.{fmt}")
                    seconds = time.perf_counter() - started
                answer.raise_for_status()
                exports[fmt] = {
                    "seconds": round(seconds, 2),
                    "bytes": len(answer.content),
                    "items": count_items(fmt, answer.content),
                    "streamed": "content-length" not in answer.headers,
                    "baseline_rss_mb": round(memory["baseline_rss_mb"], 1),
                    "peak_rss_mb": round(memory["peak_rss_mb"], 1),
                    "rss_growth_mb": round(memory["peak_rss_mb"] - memory["baseline_rss_mb"], 1),
                }
                print(fmt, json.dumps(exports[fmt]), flush=True)
    return {"seed": seeded, "exports": exports}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--formats", default="cyclonedx,json,csv")
    parser.add_argument("--root", type=Path, default=REPO, help="checkout to run the server from")
    parser.add_argument("--label", default="after", help="name of this run in the results")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.formats = args.formats.split(",")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        if args.backend == "postgres":
            with postgres_database() as database_url:
                figures = measure(args, Path(directory), database_url)
        else:
            figures = measure(args, Path(directory), None)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    figures["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_end": [round(load, 2) for load in os.getloadavg()],
    }
    figures["command"] = (
        f"python -m bench.bench_export --items {args.items} --backend {args.backend} "
        f"--formats {','.join(args.formats)}"
        + (f" --root {args.root} --label {args.label}" if args.root != REPO else "")
    )
    results: dict[str, Any] = (
        json.loads(args.output.read_text()) if args.output.exists() else {"runs": {}}
    )
    results["runs"][f"{args.label}/{args.backend}"] = figures
    results["benchmark"] = "server memory and time of inventory exports"
    results["target"] = {"rss_growth_mb_at_most": 100, "items": 20_000}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
