"""What an attacker gets from the sign-in form, and what anonymous sign-ins cost the server;
writes bench/results/login.json.

    .venv/bin/python -m bench.bench_login [--backend sqlite|postgres] [--parallel 40]
        [--root PATH --label before]

Starts a real `shadowmap serve` (default settings) with one account, then:

* guessing: one client posts wrong passwords for that account as fast as the server answers,
  for ``--guess-seconds``; counted: the guesses that got a password check (401) before the
  lockout (429), their rate, and how many got checked in the whole window (the rest were
  refused unchecked). Then the same against many accounts from one address (the per-address
  lock). A guess is "checked" when the answer says "wrong password", not "locked".
* memory: a second server whose per-address limit is lifted (so that every sign-in reaches
  the password check, as from 40 different addresses), ``--parallel`` clients each post one
  sign-in with an unknown username at the same moment, three rounds; sampled: the server's
  RSS (peak over baseline) and /healthz latency during the burst.

``--root`` runs the server from another checkout (the tree before the fix, made with
``git archive``), so that both are measured the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.serverproc import REPO, cli, postgres_database, serve

RESULTS = REPO / "bench" / "results" / "login.json"
MB = 1024 * 1024
PASSWORD = "the right password 1"  # noqa: S105 - the benchmark account's


def _login_form(client: httpx.Client, url: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(f"{url}/login").text)
    assert found, "no sign-in form"
    return found.group(1)


def _try(client: httpx.Client, url: str, csrf: str, username: str, password: str) -> int:
    answer = client.post(
        f"{url}/login",
        data={"username": username, "password": password, "csrf": csrf},
        follow_redirects=False,
    )
    return answer.status_code


def guessing(url: str, seconds: float) -> dict[str, Any]:
    """Wrong passwords for one account, then for many accounts, as fast as answered."""
    figures: dict[str, Any] = {}
    with httpx.Client(timeout=60) as client:
        csrf = _login_form(client, url)
        statuses: Counter[int] = Counter()
        started = time.perf_counter()
        first_refusal = None
        while time.perf_counter() - started < seconds:
            status = _try(client, url, csrf, "victim", "wrong guess 0000")
            statuses[status] += 1
            if status != 401 and first_refusal is None:
                first_refusal = time.perf_counter() - started
        elapsed = time.perf_counter() - started
        checked = statuses[401]
        figures["one_account"] = {
            "window_seconds": round(elapsed, 1),
            "statuses": {str(code): count for code, count in sorted(statuses.items())},
            "guesses_checked": checked,
            "seconds_until_lockout": round(first_refusal, 2) if first_refusal else None,
            "checked_guesses_per_second_before_lockout": round(checked / first_refusal, 1)
            if first_refusal
            else round(checked / elapsed, 1),
            "checked_guesses_per_second_over_window": round(checked / elapsed, 2),
        }
        statuses = Counter()
        started = time.perf_counter()
        number = 0
        while time.perf_counter() - started < seconds:
            number += 1
            statuses[_try(client, url, csrf, f"user{number:05d}", "wrong guess 0000")] += 1
        elapsed = time.perf_counter() - started
        figures["many_accounts_one_address"] = {
            "window_seconds": round(elapsed, 1),
            "statuses": {str(code): count for code, count in sorted(statuses.items())},
            "guesses_checked": statuses[401],
            "checked_guesses_per_second_over_window": round(statuses[401] / elapsed, 2),
        }
    return figures


@contextmanager
def sampling(pid: int, url: str) -> Iterator[dict[str, Any]]:
    """Sample RSS every 20 ms and /healthz every 100 ms while the block runs."""
    process = psutil.Process(pid)
    figures: dict[str, Any] = {"baseline_rss_mb": process.memory_info().rss / MB}
    stop = threading.Event()
    peak = [0]
    health: list[float] = []

    def rss() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            stop.wait(0.02)

    def healthz() -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                started = time.perf_counter()
                client.get(f"{url}/healthz")
                health.append(time.perf_counter() - started)
                stop.wait(0.1)

    threads = [threading.Thread(target=rss), threading.Thread(target=healthz)]
    for thread in threads:
        thread.start()
    try:
        yield figures
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        figures["peak_rss_mb"] = max(peak[0], process.memory_info().rss) / MB
        figures["healthz_max_seconds"] = round(max(health, default=0.0), 3)
        figures["healthz_median_seconds"] = round(statistics.median(health or [0.0]), 3)


def burst(url: str, pid: int, parallel: int, rounds: int) -> dict[str, Any]:
    """``parallel`` anonymous sign-ins at once, ``rounds`` times; memory and latency."""
    clients = [httpx.Client(timeout=120) for _ in range(parallel)]
    forms = [_login_form(client, url) for client in clients]
    # One warm-up sign-in: argon2 and the sign-in path loaded before the baseline.
    _try(clients[0], url, forms[0], "warm-up", "wrong guess 0000")
    time.sleep(1)
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    with sampling(pid, url) as memory:
        for round_number in range(rounds):
            barrier = threading.Barrier(parallel)

            def one(
                index: int, round_number: int = round_number, start: threading.Barrier = barrier
            ) -> None:
                start.wait()
                began = time.perf_counter()
                status = _try(
                    clients[index], url, forms[index], f"nobody-{round_number}-{index}", "x" * 16
                )
                latencies.append(time.perf_counter() - began)
                statuses[status] += 1

            threads = [threading.Thread(target=one, args=(n,)) for n in range(parallel)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    for client in clients:
        client.close()
    return {
        "parallel": parallel,
        "rounds": rounds,
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
        "baseline_rss_mb": round(memory["baseline_rss_mb"], 1),
        "peak_rss_mb": round(memory["peak_rss_mb"], 1),
        "rss_growth_mb": round(memory["peak_rss_mb"] - memory["baseline_rss_mb"], 1),
        "sign_in_seconds_median": round(statistics.median(latencies), 2),
        "sign_in_seconds_max": round(max(latencies), 2),
        "healthz_median_seconds": memory["healthz_median_seconds"],
        "healthz_max_seconds": memory["healthz_max_seconds"],
    }


def _prepare(root: Path, data_dir: Path, database_url: str | None) -> None:
    cli(root, data_dir, database_url, "db", "upgrade")
    cli(
        root, data_dir, database_url, "user", "create", "--username", "victim",
        "--role", "admin", "--password", PASSWORD,
    )  # fmt: skip


def measure_guessing(
    args: argparse.Namespace, data_dir: Path, database_url: str | None
) -> dict[str, Any]:
    _prepare(args.root, data_dir, database_url)
    settings = {"scheduler_enabled": "false"}
    with serve(args.root, data_dir, database_url, settings) as (_process, url):
        figures = guessing(url, args.guess_seconds)
    print("guessing", json.dumps(figures), flush=True)
    return figures


def measure_burst(
    args: argparse.Namespace, data_dir: Path, database_url: str | None
) -> dict[str, Any]:
    _prepare(args.root, data_dir, database_url)
    lifted = {"scheduler_enabled": "false", "login_max_failures_per_source": "10000"}
    with serve(args.root, data_dir, database_url, lifted) as (process, url):
        figures = burst(url, process.pid, args.parallel, args.rounds)
    print("burst", json.dumps(figures), flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--parallel", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--guess-seconds", type=float, default=20.0)
    parser.add_argument("--root", type=Path, default=REPO, help="checkout to run the server from")
    parser.add_argument("--label", default="after", help="name of this run in the results")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.perf_counter()
    figures: dict[str, Any] = {}
    # Each part on a database of its own: the guessing leaves the address locked.
    for name, part in (("guessing", measure_guessing), ("anonymous_burst", measure_burst)):
        with tempfile.TemporaryDirectory() as directory:
            if args.backend == "postgres":
                with postgres_database() as database_url:
                    figures[name] = part(args, Path(directory), database_url)
            else:
                figures[name] = part(args, Path(directory), None)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    figures["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_end": [round(load, 2) for load in os.getloadavg()],
    }
    figures["command"] = (
        f"python -m bench.bench_login --backend {args.backend} --parallel {args.parallel} "
        f"--rounds {args.rounds} --guess-seconds {args.guess_seconds:g}"
        + (f" --root {args.root} --label {args.label}" if args.root != REPO else "")
    )
    results: dict[str, Any] = (
        json.loads(args.output.read_text()) if args.output.exists() else {"runs": {}}
    )
    results["runs"][f"{args.label}/{args.backend}"] = figures
    results["benchmark"] = (
        "sign-in guesses an attacker gets, and server memory of anonymous sign-ins"
    )
    results["target"] = {
        "rss_growth_mb_at_most": 200,
        "parallel_anonymous_sign_ins": 40,
        "guesses_checked_per_account_per_lockout": "login_max_failures (5)",
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
