"""A fleet at the size issue 16 names (100,000 hosts, 5,000 inventory items, 10 million
sightings), made only through the product's own functions: each agent enrolls with an
enrollment token and sends one full report that goes through collector ingest, and departments
are set the way the hosts page sets them. Several worker processes ingest at once, as several
server workers would.

    .venv/bin/python -m bench.fleet_scale --database-url URL [--hosts 100000] [--workers 3]

The shape, deterministic per host number:
* 5,000 items: the first ``--services`` catalogue services (real indicators: the service's own
  domains, process names and extension ids where the catalogue has them) and unknown
  candidates (browser extensions named by their manifest, AI-like domains) for the rest.
* Popularity follows Zipf's law (rank r is on about hosts/(r+1)**0.9 hosts), so a few services
  are on nearly every host and most on a handful; each host has ~66 items, each seen through
  one to five channel/user combinations: ~100 sightings per host.
* Each host has one to three users of its own, a department (or none), an OS, an agent version,
  and a last report spread over the last 60 days (a share of hosts are stale).
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import itertools
import multiprocessing
import random
import time
import traceback
from collections.abc import Sequence

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.store import agents
from signatures import (
    Catalogue,
    Confidence,
    Finding,
    FindingKind,
    IndicatorKind,
    load_catalogue,
)
from tests.e2e.fleet import enroll_and_report

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
DEPARTMENTS = ("Finance", "Engineering", "Sales", "Legal", "Marketing", "Support", "")
ITEMS_PER_HOST = 66
ZIPF = 0.9
_LETTERS = str.maketrans("0123456789", "abcdefghij")


def _extension_id(number: int) -> str:
    return f"{number:08d}".translate(_LETTERS) * 4


def _known_findings(catalogue: Catalogue, service_id: str) -> list[tuple[FindingKind, str, str]]:
    """The (kind, indicator, indicator kind) a known service is seen through, from its own
    catalogue indicators; a process named after it where the catalogue has none."""
    service = catalogue.get(service_id)
    assert service is not None
    channels: list[tuple[FindingKind, str, str]] = []
    for domain in service.indicators.get(IndicatorKind.DOMAIN, ())[:2]:
        channels.append((FindingKind.DNS, domain, "domain"))
    for process in service.indicators.get(IndicatorKind.PROCESS, ())[:1]:
        channels.append((FindingKind.PROCESS, process, "process"))
    for extension in service.indicators.get(IndicatorKind.BROWSER_EXTENSION, ())[:1]:
        channels.append((FindingKind.BROWSER_EXTENSION, extension, "browser_extension"))
    if not channels:
        channels.append((FindingKind.PROCESS, f"{service_id}-helper", "process"))
    return channels


class Universe:
    """The 5,000 items and their popularity."""

    def __init__(self, catalogue: Catalogue, items: int, services: int) -> None:
        chosen = [service.id for service in catalogue.services][:services]
        self.catalogue = catalogue
        self.known = {sid: _known_findings(catalogue, sid) for sid in chosen}
        # Interleave known services and unknown candidates in popularity order, so that
        # both the most widespread and the long tail hold some of each.
        rng = random.Random(42)
        slots: list[str | int] = [*chosen, *range(items - len(chosen))]
        rng.shuffle(slots)
        self.slots = slots
        weights = [1 / (rank + 1) ** ZIPF for rank in range(len(slots))]
        self.cumulative = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random, count: int) -> list[str | int]:
        total = self.cumulative[-1]
        picked: dict[int, None] = {}
        while len(picked) < count:
            picked[bisect.bisect(self.cumulative, rng.random() * total)] = None
        return [self.slots[index] for index in picked]


def host_findings(universe: Universe, number: int, seen: dt.datetime) -> list[Finding]:
    rng = random.Random(number)
    users = [f"u{number:06d}"] + [f"u{number:06d}-{k}" for k in range(rng.randrange(0, 3))]
    found: list[Finding] = []
    for slot in universe.pick(rng, ITEMS_PER_HOST):
        if isinstance(slot, str):
            channels = universe.known[slot]
            for _ in range(rng.randrange(1, 6)):
                kind, indicator, indicator_kind = rng.choice(channels)
                evidence: dict[str, object] = {"count": rng.randrange(1, 50)}
                if kind is FindingKind.BROWSER_EXTENSION:
                    evidence["browser"] = rng.choice(("chrome", "edge", "brave"))
                found.append(
                    Finding(
                        kind=kind,
                        indicator=indicator,
                        indicator_kind=indicator_kind,
                        service_id=slot,
                        confidence=Confidence.HIGH,
                        user=rng.choice(users),
                        evidence=evidence,  # type: ignore[arg-type]
                        first_seen=seen,
                        last_seen=seen,
                    )
                )
        elif slot % 2:
            for user in users[: rng.randrange(1, len(users) + 1)]:
                found.append(
                    Finding(
                        kind=FindingKind.BROWSER_EXTENSION,
                        indicator=_extension_id(slot),
                        indicator_kind="browser_extension",
                        service_id=None,
                        confidence=Confidence.LOW,
                        heuristic="host permission on an AI domain",
                        user=user,
                        evidence={"browser": "chrome", "name": f"Writing helper {slot}"},
                        first_seen=seen,
                        last_seen=seen,
                    )
                )
        else:
            for user in users[: rng.randrange(1, len(users) + 1)]:
                found.append(
                    Finding(
                        kind=FindingKind.DNS,
                        indicator=f"api.llmhub{slot}.ai",
                        indicator_kind="domain",
                        service_id=None,
                        confidence=Confidence.LOW,
                        heuristic="AI-like domain name",
                        user=user,
                        evidence={"count": rng.randrange(1, 50)},
                        first_seen=seen,
                        last_seen=seen,
                    )
                )
    # One finding per (channel, indicator, user) as an agent's merge would send.
    unique = {(f.kind, f.indicator, f.user): f for f in found}
    return list(unique.values())


def _worker(url: str, numbers: Sequence[int], args: argparse.Namespace) -> int:
    try:
        return _ingest_hosts(url, numbers, args)
    except BaseException:
        traceback.print_exc()  # a pool hides a worker's error until every worker has ended
        raise


def _ingest_hosts(url: str, numbers: Sequence[int], args: argparse.Namespace) -> int:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    # A token per worker: enrollment counts a token's uses in its row, which would otherwise
    # serialise the workers (a real fleet enrolls over days, not all at once).
    with transaction(sessions) as session:
        _token, secret = agents.create_enrollment_token(
            session, name=f"scale-{numbers[0]}", expires_at=None, max_uses=None
        )
    catalogue = load_catalogue()
    universe = Universe(catalogue, args.items, args.services)
    sent = 0
    # One report per transaction, as the collector ingests them: a transaction of several
    # reports would lock items in no single order and deadlock with the other workers.
    for start in range(0, len(numbers), args.batch):
        with transaction(sessions) as session:
            for number in numbers[start : start + args.batch]:
                seen = NOW - dt.timedelta(days=number % 60, minutes=number % 1440)
                sent += enroll_and_report(
                    session,
                    catalogue=catalogue,
                    secret=secret,
                    uid=f"scale-{number:06d}",
                    hostname=f"host-{number:06d}",
                    report_id=f"00000000-0000-4000-9000-{number:012d}",
                    os=("linux", "windows", "macos")[number % 3],
                    agent_version=f"0.{1 + number % 4}.0",
                    seen=seen,
                    findings=host_findings(universe, number, seen),
                    department=DEPARTMENTS[number % len(DEPARTMENTS)],
                )
    engine.dispose()
    return sent


def seed(url: str, args: argparse.Namespace) -> dict[str, float]:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    numbers = list(range(args.first, args.first + args.hosts))
    shares = [numbers[k :: args.workers] for k in range(args.workers)]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        sent = sum(pool.starmap(_worker, [(url, share, args) for share in shares]))
    seconds = time.perf_counter() - started
    return {"hosts": args.hosts, "findings_sent": sent, "seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--hosts", type=int, default=100_000)
    parser.add_argument("--first", type=int, default=0, help="first host number (to add more)")
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--services", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1, help="reports per transaction")
    args = parser.parse_args()
    result = seed(args.database_url, args)
    per_s = result["hosts"] / max(result["seconds"], 0.001)
    print(f"{result} ({per_s:.0f} hosts/s)")


if __name__ == "__main__":
    main()
