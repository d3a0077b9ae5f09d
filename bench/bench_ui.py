"""Server time of every list page and its JSON twin at fleet scale, and of a bulk action on
1,000 items; writes bench/results/ui.json.

    .venv/bin/python -m bench.bench_ui [--backend sqlite|postgres] [--hosts 10000]
        [--services 400] [--rounds 20]
    .venv/bin/python -m bench.bench_ui --database-url URL --label NAME [--rounds 20]

Seeds through the product's own functions (tests/e2e/fleet.py: agents enroll, one report each
goes through collector ingest; departments set as the hosts page sets them; a few items
promoted to the register), or, with ``--database-url``, measures a database already seeded by
bench/fleet_scale.py (100,000 hosts, 5,000 items, 10 million sightings: too long to seed on
every run; it is upgraded to the head revision first, and a few items promoted if none are).
Then it serves the app in process (FastAPI's TestClient, a signed-in
admin) and times each URL ``--rounds`` times after one warm-up: the time from the request to
the last byte of the answer, which is the server's time plus the in-process transport (no
network). Reports p50 and p95 per URL, in milliseconds. The bulk action is
server.inventory.service.bulk_triage (assign to me) over 1,000 open items, in one transaction.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bench.serverproc import REPO, postgres_database
from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.store import users
from collector.store.hosts import Host
from collector.store.inventory import InventoryItem, Sighting
from server.accounts.passwords import hash_password
from server.app import create_app
from server.config import ServerSettings
from server.inventory import service as inventory_service
from signatures import load_catalogue
from tests.e2e.fleet import promote_some, seed_fleet

RESULTS = REPO / "bench" / "results" / "ui.json"
PASSWORD = "bench password 1234"  # noqa: S105 - the throwaway admin of a temporary database
PAGES = (
    "/triage",
    "/triage?sort=hosts&dir=desc",
    "/triage?sort=risk&dir=desc&per_page=200",
    "/inventory",
    "/inventory?evidence=browser_extension&q=helper+1&page=3",
    "/inventory?category=chat_assistant&sort=users&dir=desc",
    "/hosts",
    "/hosts?sort=items&dir=desc",
    "/hosts?stale=yes&os=linux&department=Finance&page=5",
    "/hosts?violations=no&sort=last_report&dir=desc",
    "/hosts?sort=risk&dir=desc",
    "/hosts?sort=risk&dir=asc",
    "/hosts?sort=risk&dir=desc&os=windows&page=40",
    "/register",
    "/register?sort=risk&dir=desc",
    "/reviews",
    "/audit",
    "/admin/users",
    "/reports",
    "/dashboard",
    "{widest_item}",
    "{busiest_host}",
    "/api/v1/inventory?limit=50",
    "/api/v1{widest_item}",
    "/api/v1{widest_item}/sightings?limit=50",
    "/api/v1/hosts?limit=50",
    "/api/v1/hosts?sort=risk&dir=desc&limit=50",
    "/api/v1/hosts?sort=risk&dir=asc&limit=50",
    "/api/v1/hosts?stale=false&os=linux&department=Finance&offset=100&limit=50",
    "/api/v1/register",
    "/api/v1/audit?limit=100",
)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(url: str, args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    catalogue = load_catalogue()
    with transaction(sessions) as session:
        if users.get_user_by_username(session, username="admin") is None:
            users.create_user(
                session, username="admin", password_hash=hash_password(PASSWORD), role="admin"
            )
    started = time.perf_counter()
    if not args.database_url:
        seed_fleet(sessions, catalogue, hosts_count=args.hosts, services_count=args.services)
    with sessions() as session:
        promoted = session.scalar(
            select(func.count()).select_from(InventoryItem).where(InventoryItem.state == "promoted")
        )
    if not promoted:
        promote_some(sessions, actor="admin", count=5)
    seeded_in = time.perf_counter() - started
    with sessions() as session:
        items = session.scalar(select(func.count()).select_from(InventoryItem)) or 0
        sightings = session.scalar(select(func.count()).select_from(Sighting)) or 0
        host_total = session.scalar(select(func.count()).select_from(Host)) or 0
        widest = session.scalar(
            select(InventoryItem.id).order_by(InventoryItem.host_count.desc()).limit(1)
        )
        busiest = session.scalar(select(Host.id).order_by(Host.item_count.desc()).limit(1))
    paths = [
        path.format(widest_item=f"/inventory/{widest}", busiest_host=f"/hosts/{busiest}")
        for path in PAGES
    ]
    settings = ServerSettings(
        data_dir=data_dir, database_url=url if url.startswith("postgresql") else None,
        scheduler_enabled=False,
        # A bench of server time, not of the API's rate limit (tests/server check that).
        api_rate_per_minute=1_000_000,
        api_burst=1_000_000,
    )  # fmt: skip
    pages: dict[str, Any] = {}
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        login = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
        assert csrf
        signed = client.post(
            "/login",
            data={"username": "admin", "password": PASSWORD, "csrf": csrf.group(1)},
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text
        for path in paths:
            first = client.get(path)
            assert first.status_code == 200, (path, first.status_code, first.text[:300])
            times = []
            for _round in range(args.rounds):
                start = time.perf_counter()
                answer = client.get(path)
                answer.read()
                times.append((time.perf_counter() - start) * 1000)
            pages[path] = {
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(_percentile(times, 0.95), 1),
                "bytes": len(first.content),
            }
            figures = pages[path]
            print(f"{path:60s} p50 {figures['p50_ms']:7.1f} ms  p95 {figures['p95_ms']:7.1f} ms")
    with sessions() as session:
        open_ids = list(
            session.scalars(
                select(InventoryItem.id)
                .where(InventoryItem.state == "new")
                .order_by(InventoryItem.id)
                .limit(1000)
            )
        )
    start = time.perf_counter()
    with transaction(sessions) as session:
        changed = inventory_service.bulk_triage(
            session, actor="admin", item_ids=open_ids, action="assign_to_me"
        )
    bulk_s = time.perf_counter() - start
    print(f"bulk assign of {changed} items: {bulk_s:.2f} s")
    engine.dispose()
    return {
        "hosts": host_total,
        "items": items,
        "sightings": sightings,
        "seeded_in_s": round(seeded_in, 1),
        "rounds": args.rounds,
        "pages": pages,
        "worst_p95_ms": max(page["p95_ms"] for page in pages.values()),
        "bulk_items": changed,
        "bulk_s": round(bulk_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--services", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--database-url", help="a database seeded by bench.fleet_scale (not seeded again)"
    )
    parser.add_argument("--label", help="the key of the result in ui.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        if args.database_url:
            result = measure(args.database_url, args, data_dir)
        elif args.backend == "postgres":
            with postgres_database() as url:
                result = measure(url, args, data_dir)
        else:
            result = measure(f"sqlite:///{data_dir / 'shadowmap.db'}", args, data_dir)
    result.update(
        backend="postgres" if (args.database_url or "").startswith("postgresql") else args.backend,
        recorded_at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        python=platform.python_version(),
        cpus=os.cpu_count(),
        load_average=round(os.getloadavg()[0], 1),
    )
    recorded = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    recorded[args.label or f"{args.backend}-{args.hosts}"] = result
    RESULTS.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
    print(f"worst p95 {result['worst_p95_ms']} ms; bulk {result['bulk_s']} s; -> {RESULTS}")


if __name__ == "__main__":
    main()
