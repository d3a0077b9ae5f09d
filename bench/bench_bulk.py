"""Time of one bulk triage action on 1,000 inventory items, and the statements it sends;
writes bench/results/bulk.json.

    .venv/bin/python -m bench.bench_bulk [--backend sqlite|postgres] [--hosts 3200]
        [--services 100] [--items 1000] [--rounds 3]

Seeds a fleet through the product's own functions (tests/e2e/fleet.py: agents enroll, one
report each goes through collector ingest; every host brings an unknown extension of its own, so
there are about as many open items as hosts). Each round takes ``--items`` new items and runs
server.inventory.service.bulk_triage on them, each action in its own committed transaction, as
the bulk form does: assign to me (new -> triaging), out of scope with a reason, reopen
(-> triaging), false positive with a reason (one suppression rule each), reopen again (the
rules are deleted). It reports, per action, the p50 and the worst of the rounds' wall times
(call plus commit), the p50 of this process's CPU time over the same span (the figure to compare
on a machine shared with other jobs) and the statements the database was sent for it (an
executemany counts once; SQLite is sent one INSERT per new suppression rule, as SQLAlchemy
cannot batch an INSERT whose generated ids it must read back there), then verifies the audit
chain.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

from bench.serverproc import REPO, postgres_database
from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.store import audit, users
from collector.store.inventory import InventoryItem
from server.inventory import service as inventory_service
from signatures import load_catalogue
from tests.e2e.fleet import seed_fleet

RESULTS = REPO / "bench" / "results" / "bulk.json"
ACTOR = "admin"
#: One round: (label, bulk action, reason), applied in this order to the same items.
STEPS = (
    ("assign_to_me", "assign_to_me", ""),
    ("out_of_scope", "out_of_scope", "lab machines, not used for work"),
    ("reopen_out_of_scope", "triaging", ""),
    ("false_positive", "false_positive", "a test extension, not an AI service"),
    ("reopen_false_positive", "triaging", ""),
)


def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        # The actor never signs in: a hash nothing matches.
        users.create_user(session, username=ACTOR, password_hash="!", role="admin")  # noqa: S106
    started = time.perf_counter()
    seed_fleet(sessions, load_catalogue(), hosts_count=args.hosts, services_count=args.services)
    seeded_in = time.perf_counter() - started
    with sessions() as session:
        new_ids = list(
            session.scalars(
                select(InventoryItem.id)
                .where(InventoryItem.state == "new")
                .order_by(InventoryItem.id)
            )
        )
        items = session.scalar(select(func.count()).select_from(InventoryItem)) or 0
    needed = args.items * args.rounds
    if len(new_ids) < needed:
        raise SystemExit(f"{len(new_ids)} new items, {needed} needed: raise --hosts")

    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine, "before_cursor_execute", count)
    times: dict[str, list[float]] = {label: [] for label, _action, _reason in STEPS}
    cpu: dict[str, list[float]] = {label: [] for label, _action, _reason in STEPS}
    sent: dict[str, list[int]] = {label: [] for label, _action, _reason in STEPS}
    for round_number in range(args.rounds):
        chosen = new_ids[round_number * args.items : (round_number + 1) * args.items]
        for label, action, reason in STEPS:
            statements = 0
            start, start_cpu = time.perf_counter(), time.process_time()
            with transaction(sessions) as session:
                changed = inventory_service.bulk_triage(
                    session, actor=ACTOR, item_ids=chosen, action=action, reason=reason
                )
            times[label].append(time.perf_counter() - start)
            cpu[label].append(time.process_time() - start_cpu)
            sent[label].append(statements)
            assert changed == len(chosen), (label, changed)
            print(f"round {round_number + 1} {label:22s} {times[label][-1]:6.2f} s  "
                  f"(CPU {cpu[label][-1]:5.2f} s)  {statements} statements")  # fmt: skip
    event.remove(engine, "before_cursor_execute", count)
    with sessions() as session:
        verdict = audit.verify_audit_chain(session)
    engine.dispose()
    return {
        "hosts": args.hosts,
        "items": items,
        "bulk_items": args.items,
        "rounds": args.rounds,
        "seeded_in_s": round(seeded_in, 1),
        "actions": {
            label: {
                "p50_s": round(statistics.median(times[label]), 3),
                "max_s": round(max(times[label]), 3),
                "p50_cpu_s": round(statistics.median(cpu[label]), 3),
                "statements": max(sent[label]),
            }
            for label in times
        },
        "audit_chain_ok": verdict.ok,
        "audit_events_checked": verdict.checked,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--hosts", type=int, default=3200)
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--label", default="", help="recorded under <backend>-<hosts><label>")
    args = parser.parse_args()
    if args.backend == "postgres":
        with postgres_database() as url:
            result = measure(url, args)
    else:
        with tempfile.TemporaryDirectory() as folder:
            result = measure(f"sqlite:///{Path(folder) / 'shadowmap.db'}", args)
    result.update(
        backend=args.backend,
        recorded_at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        python=platform.python_version(),
        cpus=os.cpu_count(),
        load_average=round(os.getloadavg()[0], 1),
    )
    recorded = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    recorded[f"{args.backend}-{args.hosts}{args.label}"] = result
    RESULTS.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
    worst = max(action["p50_s"] for action in result["actions"].values())
    print(f"worst p50 {worst} s; audit chain ok: {result['audit_chain_ok']}; -> {RESULTS}")


if __name__ == "__main__":
    main()
