"""Benchmark network discovery against tshark on the same generated capture, in the same run.

Usage: python bench/bench_network.py [--packets 200000] [--output bench/results/network.json]

Measures (1) pcap throughput: tshark extracting DNS query names vs. our full pipeline (read,
decode, parse, match against the catalogue, aggregate) and our bare query-name extraction;
checks that both sides extract the same multiset of names; (2) the resident memory of a
process running live capture while loopback DNS traffic flows (needs CAP_NET_RAW; skipped
otherwise). Writes a JSON record of the figures.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.network.offline import query_names, scan_capture  # noqa: E402
from signatures import Matcher, load_catalogue  # noqa: E402
from tests.packets import (  # noqa: E402
    benchmark_packets,
    dns_query,
    write_pcap,
)


def tshark_names(path: Path) -> tuple[list[str], float, float]:
    """Run tshark; return its query names, wall seconds and CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    output = subprocess.run(
        [
            "tshark",
            "-r",
            str(path),
            "-Y",
            "dns.flags.response==0",
            "-T",
            "fields",
            "-E",
            "aggregator=\x1f",
            "-e",
            "dns.qry.name",
        ],
        capture_output=True,
        check=True,
    ).stdout
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    names = [name for line in output.decode().splitlines() if line for name in line.split("\x1f")]
    return names, elapsed, cpu


def best_of(runs: int, func: object) -> tuple[object, float, float]:
    """Run ``func`` ``runs`` times; return its result and the best wall and CPU seconds."""
    best = best_cpu = float("inf")
    result: object = None
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = func()  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - started_cpu)
    return result, best, best_cpu


def measure(path: Path, runs: int, matcher: Matcher) -> dict[str, object]:
    """Time tshark and our pipeline on one capture, interleaved, best of ``runs``."""
    tshark_wall = tshark_cpu = float("inf")
    reference: list[str] = []
    for _ in range(runs):
        reference, wall, cpu = tshark_names(path)
        tshark_wall, tshark_cpu = min(tshark_wall, wall), min(tshark_cpu, cpu)
    ours, names_wall, names_cpu = best_of(runs, lambda: query_names(path))
    scan, scan_wall, scan_cpu = best_of(runs, lambda: scan_capture(path, matcher))
    packets = scan.stats.packets  # type: ignore[attr-defined]
    return {
        "packets": packets,
        "dns_queries": len(reference),
        "names_equal_tshark": collections.Counter(reference) == collections.Counter(ours),  # type: ignore[arg-type]
        "tshark": {
            "wall_seconds": round(tshark_wall, 3),
            "cpu_seconds": round(tshark_cpu, 3),
            "packets_per_second_wall": round(packets / tshark_wall),
            "packets_per_second_cpu": round(packets / tshark_cpu),
        },
        "shadowmap_scan": {
            "wall_seconds": round(scan_wall, 3),
            "cpu_seconds": round(scan_cpu, 3),
            "packets_per_second_wall": round(packets / scan_wall),
            "packets_per_second_cpu": round(packets / scan_cpu),
            "findings": len(scan.findings),
        },  # type: ignore[attr-defined]
        "shadowmap_query_names": {
            "wall_seconds": round(names_wall, 3),
            "cpu_seconds": round(names_cpu, 3),
        },
        "ratio_scan_vs_tshark_wall": round(tshark_wall / scan_wall, 2),
        "ratio_scan_vs_tshark_cpu": round(tshark_cpu / scan_cpu, 2),
        "ratio_names_vs_tshark_wall": round(tshark_wall / names_wall, 2),
    }


_CAPTURE_CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from agent.network.capture import LiveCapture
from signatures import Matcher, load_catalogue
capture = LiveCapture(Matcher(load_catalogue()), interface="lo")
capture.start()
print("ready", flush=True)
total = 0
deadline = time.time() + {seconds}
while time.time() < deadline:
    time.sleep(0.5)
    total += len(capture.drain())
capture.stop()
print("findings", total, capture.stats.packets, flush=True)
"""


def capture_memory(seconds: float = 6.0) -> dict[str, object]:
    """Run live capture in a child process on loopback under DNS load; report its RSS."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CAPTURE_CHILD.format(root=str(ROOT), seconds=seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    first = child.stdout.readline()
    if not first.startswith("ready"):
        child.wait()
        return {"skipped": (child.stderr.read() if child.stderr else "").strip()[-300:]}
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    names = ["chatgpt.com", "www.example.org", "api.openai.com", "cdn.example.net"]
    sent = 0
    peak = 0
    deadline = time.time() + seconds - 1
    while time.time() < deadline:
        for index in range(200):
            # Loopback only: the port is closed, the kernel drops the datagrams after capture.
            sender.sendto(dns_query(names[index % 4], ident=index), ("127.0.0.1", 53))
            sent += 1
        status = Path(f"/proc/{child.pid}/status").read_text()
        peak = max(peak, int(status.split("VmRSS:")[1].split()[0]))
        time.sleep(0.01)
    sender.close()
    hwm = int(Path(f"/proc/{child.pid}/status").read_text().split("VmHWM:")[1].split()[0])
    out, _err = child.communicate(timeout=30)
    return {
        "rss_peak_mb": round(peak / 1024, 1),
        "vm_hwm_mb": round(hwm / 1024, 1),
        "queries_sent": sent,
        "child_report": out.strip(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=200_000)
    parser.add_argument("--output", type=Path, default=ROOT / "bench/results/network.json")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("tshark") is None:
        print("tshark is not installed: apt-get install tshark")
        return 2
    matcher = Matcher(load_catalogue())
    with tempfile.TemporaryDirectory() as tmp:
        realistic = Path(tmp) / "dns.pcap"
        write_pcap(realistic, benchmark_packets(args.packets))
        worst = Path(tmp) / "dns-unique.pcap"
        write_pcap(worst, benchmark_packets(args.packets, distinct_names=None))
        size = realistic.stat().st_size
        main_run = measure(realistic, args.runs, matcher)
        worst_run = measure(worst, args.runs, matcher)
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": [round(load, 2) for load in os.getloadavg()],
            "tshark": subprocess.run(
                ["tshark", "--version"], capture_output=True, text=True
            ).stdout.splitlines()[0],
        },
        "capture": {
            "packets": args.packets,
            "bytes": size,
            "names": "Zipf-like over 20,000 names, query then response, 20% IPv6",
        },
        "realistic": main_run,
        "worst_case_unique_names": worst_run,
        "live_capture_memory": capture_memory(),
    }
    same = bool(main_run["names_equal_tshark"]) and bool(worst_run["names_equal_tshark"])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
