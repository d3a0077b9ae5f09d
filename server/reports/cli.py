"""`shadowmap report`: run a discovery report now, and list the history."""

from __future__ import annotations

import argparse

from collector.db import transaction
from collector.store import reports
from server.cli_support import Commands, sessions_for, settings_from
from server.reports.runner import REPORTS, run_report


def cmd_report_run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    run = run_report(
        sessions_for(settings),
        settings,
        name=args.name,
        trigger="schedule" if args.scheduled_period else "manual",
        deliver=args.deliver,
    )
    if run is None:
        print(f"the {args.name} report for this period has already run (see `report list`)")
        return 0
    files = ", ".join(str(output["filename"]) for output in run.outputs)
    print(f"report run #{run.id} {run.report} {run.period}: {run.status}; files: {files}")
    print(f"  in {settings.data_dir / 'reports' / str(run.id)}")
    for outcome in run.deliveries:
        state = "ok" if outcome["ok"] else "FAILED"
        print(f"  delivery {outcome['channel']}: {state} {outcome['detail']}")
    return 1 if any(not outcome["ok"] for outcome in run.deliveries) else 0


def cmd_report_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with transaction(sessions_for(settings)) as session:
        for run in reports.list_report_runs(session, limit=args.limit):
            headline = run.summary.get("headline", {})
            print(
                f"#{run.id}\t{run.report}\t{run.period}\t{run.trigger}\t{run.status}"
                f"\tnew {headline.get('new_services', '-')}"
                f"\tunreviewed {headline.get('unreviewed', '-')}"
            )
    return 0


def add_commands(commands: Commands, common: argparse.ArgumentParser) -> None:
    report = commands.add_parser("report", help="discovery reports").add_subparsers(
        dest="report_command", required=True, metavar="ACTION"
    )
    run = report.add_parser("run", parents=[common], help="run a report now")
    run.add_argument("--name", choices=sorted(REPORTS), default="weekly")
    run.add_argument(
        "--deliver", action="store_true", help="send it through the configured channels"
    )
    run.add_argument(
        "--scheduled-period",
        action="store_true",
        help="run it as the scheduler would: for the last whole week, at most once",
    )
    run.set_defaults(func=cmd_report_run)
    listing = report.add_parser("list", parents=[common], help="report history")
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(func=cmd_report_list)
