"""Time and memory of importing the people directory from a 100,000-row CSV (the largest file
the import accepts), then of building the evidence pack over it; writes
bench/results/people_import.json.

    .venv/bin/python -m bench.bench_people_import [--rows 100000] [--backend sqlite|postgres]

Runs the product's own service functions in this process on a freshly migrated database: the
import (parse and check every row, then upsert in one transaction), a second import of the
same file (every row an update), and one evidence pack. Records wall and CPU seconds and the
growth of this process's peak resident set over the run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.serverproc import REPO, postgres_database
from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from server.exports.evidence_pack import build_evidence_pack
from server.people.service import import_directory
from signatures import load_catalogue

RESULTS = REPO / "bench" / "results" / "people_import.json"


def directory_csv(rows: int) -> bytes:
    lines = ["username,name,email,department,pseudonym"]
    lines += [
        f"user{n:06d},Person {n},user{n:06d}@example.org,Department {n % 60:02d},p-{n:08x}"
        for n in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(step: Callable[[], Any]) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    step()
    return {
        "wall_s": round(time.perf_counter() - wall, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
    }


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "postgres":
        with postgres_database() as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"


def run(rows: int, backend: str) -> dict[str, Any]:
    data = directory_csv(rows)
    baseline = _peak_rss_mb()
    with database(backend) as url:
        engine = make_engine(url)
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        catalogue = load_catalogue()

        def first() -> None:
            with transaction(sessions) as session:
                assert import_directory(session, actor="bench", data=data).rows == rows

        def again() -> None:
            with transaction(sessions) as session:
                import_directory(session, actor="bench", data=data)

        sizes: list[int] = []

        def pack() -> None:
            with transaction(sessions) as session:
                sizes.append(len(build_evidence_pack(session, catalogue=catalogue)))

        figures = {
            "rows": rows,
            "csv_bytes": len(data),
            "import": timed(first),
            "reimport_all_updates": timed(again),
            "evidence_pack": {**timed(pack), "bytes": sizes[0]},
            "peak_rss_growth_mb": round(_peak_rss_mb() - baseline, 1),
        }
        engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    figures = run(args.rows, args.backend)
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"runs": {}}
    existing["runs"][args.backend] = {
        **figures,
        "recorded_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 1),
    }
    RESULTS.write_text(json.dumps(existing, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
