"""Benchmark the signature matcher and catalogue loading; write bench/results/matcher.json.

Run from the repository root: ``python bench/bench_matcher.py [--lookups N]``.
The domain workload mixes catalogue hits (exact hosts, subdomains of catalogued domains,
wildcard hosts) with misses (popular non-AI sites, cloud hosts near AI hosts, look-alikes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from signatures import (  # noqa: E402
    IndicatorKind,
    Matcher,
    build_bundle,
    generate_keypair,
    load_catalogue,
    load_private_key,
    load_public_key,
    verify_bundle,
)

MISSES = [
    "www.google.com",
    "mail.google.com",
    "www.googleapis.com",
    "storage.googleapis.com",
    "s3.amazonaws.com",
    "ec2.us-east-1.amazonaws.com",
    "api.github.com",
    "github.com",
    "www.microsoft.com",
    "login.microsoftonline.com",
    "outlook.office365.com",
    "gemini.com",
    "www.wikipedia.org",
    "cdn.jsdelivr.net",
    "fonts.gstatic.com",
    "www.youtube.com",
    "i.ytimg.com",
    "slack.com",
    "zoom.us",
    "www.salesforce.com",
    "updates.example.com",
    "evilchatgpt.com",
    "chatgpt.com.evil.example",
    "time.apple.com",
    "ocsp.digicert.com",
    "a1234.akamaiedge.net",
    "www.bbc.co.uk",
    "api.stripe.com",
    "registry.npmjs.org",
    "pypi.org",
    "files.pythonhosted.org",
    "dl.google.com",
    "teams.microsoft.com",
]


def domain_workload(matcher: Matcher, size: int, hit_ratio: float, seed: int) -> list[str]:
    rng = random.Random(seed)
    hits: list[str] = []
    for service in matcher.catalogue.services:
        for value in service.indicators.get(IndicatorKind.DOMAIN, ()):
            hits.extend([value, f"www.{value}", f"api.{value}"])
        for value in service.indicators.get(IndicatorKind.HOST, ()):
            hits.append(value.replace("*", "us-east-1"))
    misses = list(MISSES) + [f"host{i}.corp{i % 97}.example.net" for i in range(500)]
    return [
        rng.choice(hits) if rng.random() < hit_ratio else rng.choice(misses) for _ in range(size)
    ]


def time_lookups(
    matcher: Matcher, names: list[str], rounds: int
) -> tuple[list[float], list[float]]:
    """Return lookups per second of wall-clock time and of this process's CPU time.

    CPU time is the one-core figure that matters; wall-clock also counts time other
    processes on a busy machine took from us.
    """
    lookup = matcher.match_domain
    wall_rates, cpu_rates = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        for name in names:
            lookup(name)
        cpu_rates.append(len(names) / (time.process_time() - cpu))
        wall_rates.append(len(names) / (time.perf_counter() - wall))
    return wall_rates, cpu_rates


def time_call(function: Callable[[], object], rounds: int) -> list[float]:
    """Return the CPU milliseconds each call took."""
    timings = []
    for _ in range(rounds):
        start = time.process_time()
        function()
        timings.append((time.process_time() - start) * 1000)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lookups", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hit-ratio", type=float, default=0.3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "matcher.json")
    args = parser.parse_args()

    catalogue = load_catalogue()
    matcher = Matcher(catalogue)
    names = domain_workload(matcher, args.lookups, args.hit_ratio, seed=42)
    hit_share = sum(1 for name in names if matcher.match_domain(name)) / len(names)
    wall_rates, cpu_rates = time_lookups(matcher, names, args.rounds)

    private_pem, public_pem = generate_keypair()
    bundle = build_bundle(catalogue, load_private_key(private_pem), bundle_version=1)
    public = load_public_key(public_pem)
    yaml_ms = time_call(lambda: load_catalogue(reuse=False), args.rounds)
    bundle_ms = time_call(lambda: verify_bundle(bundle, public), args.rounds)
    bundle_and_index_ms = time_call(
        lambda: Matcher(verify_bundle(bundle, public).catalogue), args.rounds
    )
    index_ms = time_call(lambda: Matcher(catalogue), args.rounds)

    results = {
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "catalogue": {
            "version": catalogue.version,
            "services": len(catalogue.services),
            "bundle_bytes": len(bundle),
        },
        "domain_lookups": {
            "lookups_per_round": len(names),
            "rounds": args.rounds,
            "hit_share": round(hit_share, 3),
            "per_cpu_second_median": round(statistics.median(cpu_rates)),
            "per_cpu_second_min": round(min(cpu_rates)),
            "per_wall_second_median": round(statistics.median(wall_rates)),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "cpus": os.cpu_count(),
        },
        "load_cpu_ms_median": {
            "yaml_catalogue": round(statistics.median(yaml_ms), 1),
            "signed_bundle_verify_and_parse": round(statistics.median(bundle_ms), 1),
            "signed_bundle_plus_matcher_index": round(statistics.median(bundle_and_index_ms), 1),
            "matcher_index_only": round(statistics.median(index_ms), 1),
        },
        "targets": {"domain_lookups_per_second": 1_000_000, "catalogue_load_ms": 200},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
