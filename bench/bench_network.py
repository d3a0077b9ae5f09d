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
from agent.network.pcapfile import write_pcap  # noqa: E402
from agent.network.synth import benchmark_packets, dns_query  # noqa: E402
from signatures import Matcher, load_catalogue  # noqa: E402


def tshark_names(path: Path) -> tuple[list[str], float]:
    started = time.perf_counter()
    output = subprocess.run(
        ["tshark", "-r", str(path), "-Y", "dns.flags.response==0", "-T", "fields",
         "-E", "aggregator=\x1f", "-e", "dns.qry.name"],
        capture_output=True, check=True,
    ).stdout
    elapsed = time.perf_counter() - started
    names = [name for line in output.decode().splitlines() if line for name in line.split("\x1f")]
    return names, elapsed


def best_of(runs: int, func: object) -> tuple[object, float]:
    best = float("inf")
    result: object = None
    for _ in range(runs):
        started = time.perf_counter()
        result = func()  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    return result, best


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
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
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
    return {"rss_peak_mb": round(peak / 1024, 1), "vm_hwm_mb": round(hwm / 1024, 1),
            "queries_sent": sent, "child_report": out.strip()}


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
        path = Path(tmp) / "dns.pcap"
        written = write_pcap(path, benchmark_packets(args.packets))
        size = path.stat().st_size
        reference, tshark_seconds = tshark_names(path)
        for _ in range(args.runs - 1):
            _names, again = tshark_names(path)
            tshark_seconds = min(tshark_seconds, again)
        ours, names_seconds = best_of(args.runs, lambda: query_names(path))
        scan, scan_seconds = best_of(args.runs, lambda: scan_capture(path, matcher))
    same = collections.Counter(reference) == collections.Counter(ours)  # type: ignore[arg-type]
    findings = scan.findings  # type: ignore[attr-defined]
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "tshark": subprocess.run(["tshark", "--version"], capture_output=True,
                                             text=True).stdout.splitlines()[0]},
        "capture": {"packets": written, "bytes": size, "dns_queries": len(reference)},
        "tshark": {"seconds": round(tshark_seconds, 3),
                   "packets_per_second": round(written / tshark_seconds)},
        "shadowmap_query_names": {"seconds": round(names_seconds, 3),
                                  "packets_per_second": round(written / names_seconds)},
        "shadowmap_scan": {"seconds": round(scan_seconds, 3),
                           "packets_per_second": round(written / scan_seconds),
                           "findings": len(findings)},
        "ratio_scan_vs_tshark": round(tshark_seconds / scan_seconds, 2),
        "ratio_names_vs_tshark": round(tshark_seconds / names_seconds, 2),
        "names_equal_tshark": same,
        "live_capture_memory": capture_memory(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
