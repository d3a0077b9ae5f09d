"""What the change-feed trigger costs ingest on PostgreSQL: concurrent transactions that
upsert inventory items, with the commit-time trigger installed and with it dropped.

Run from the repository root:
    PYTHONPATH=. /work/venv/bin/python bench/sync_trigger_overhead.py [admin URL]
Writes bench/results/sync_trigger_overhead.json.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from collector.db import make_engine, upgrade
from collector.store.base import dialect_insert
from collector.store.inventory import InventoryItem

ADMIN = sys.argv[1] if len(sys.argv) > 1 else "postgresql+psycopg://postgres@127.0.0.1:5432/test"
THREADS, TRANSACTIONS, ITEMS = 8, 150, 20


def run(url: str) -> float:
    engine = make_engine(url)
    now = dt.datetime.now(dt.UTC)

    def worker(number: int) -> None:
        for step in range(TRANSACTIONS):
            with Session(engine) as session, session.begin():
                rows = [
                    {
                        "key": f"k{(number * 7 + step + n) % 300}",
                        "name": "x",
                        "state": "new",
                        "first_seen_at": now,
                        "last_seen_at": now,
                        "created_at": now,
                        "updated_at": dt.datetime.now(dt.UTC),
                    }
                    for n in range(ITEMS)
                ]
                rows.sort(key=lambda row: row["key"])
                unique = {row["key"]: row for row in rows}
                statement = dialect_insert(session, InventoryItem)
                statement = statement.on_conflict_do_update(
                    index_elements=["key"], set_={"updated_at": statement.excluded.updated_at}
                )
                session.execute(statement.values(list(unique.values())))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    engine.dispose()
    return THREADS * TRANSACTIONS / elapsed


def main() -> int:
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    results = {}
    for variant in ("with_trigger", "without_trigger"):
        name = f"shadowmap_bench_{secrets.token_hex(4)}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(ADMIN).set(database=name).render_as_string(hide_password=False)
        try:
            engine = make_engine(url)
            upgrade(engine)
            if variant == "without_trigger":
                with engine.begin() as connection:
                    connection.execute(
                        text("DROP TRIGGER trg_inventory_items_change ON inventory_items")
                    )
            engine.dispose()
            results[variant] = round(run(url), 1)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    record = {
        "benchmark": "sync_trigger_overhead",
        "threads": THREADS,
        "transactions_per_thread": TRANSACTIONS,
        "items_per_transaction": ITEMS,
        "transactions_per_second": results,
        "overhead_percent": round(
            100 * (1 - results["with_trigger"] / results["without_trigger"]), 1
        ),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    out = Path(__file__).parent / "results" / "sync_trigger_overhead.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
