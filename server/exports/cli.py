"""`shadowmap evidence-pack`: write the ISO/IEC 42001 evidence pack, or verify one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from collector.db import transaction
from server.cli_support import Commands, sessions_for, settings_from


def cmd_evidence_pack(args: argparse.Namespace) -> int:
    """Write the ISO/IEC 42001 evidence pack (a zip) to --out."""
    from server.exports.evidence_pack import build_evidence_pack
    from signatures import load_catalogue

    if not args.out:
        print("error: give --out FILE (or: shadowmap evidence-pack verify FILE)", file=sys.stderr)
        return 2
    settings = settings_from(args)
    with transaction(sessions_for(settings)) as session:
        pack = build_evidence_pack(session, catalogue=load_catalogue(settings.catalogue_dir))
    Path(args.out).write_bytes(pack)
    print(f"evidence pack written to {args.out} ({len(pack)} bytes)")
    return 0


def cmd_evidence_pack_verify(args: argparse.Namespace) -> int:
    """Recompute an evidence pack's file hashes and audit chain; exit 1 naming each failure."""
    from server.exports.evidence_pack import verify_evidence_pack

    verdict = verify_evidence_pack(Path(args.file))
    if verdict.ok:
        print(
            f"evidence pack intact: {verdict.files_checked} files and "
            f"{verdict.events_checked} audit events verified; audit head {verdict.head}"
        )
        return 0
    print(f"evidence pack FAILED verification ({len(verdict.problems)} problems):", file=sys.stderr)
    for problem in verdict.problems:
        print(f"  - {problem}", file=sys.stderr)
    return 1


def add_commands(commands: Commands, common: argparse.ArgumentParser) -> None:
    evidence = commands.add_parser(
        "evidence-pack",
        parents=[common],
        help="write the ISO/IEC 42001 evidence pack, or verify one",
    )
    evidence.add_argument("--out", type=Path, help="where to write the pack (a .zip)")
    evidence.set_defaults(func=cmd_evidence_pack)
    evidence_actions = evidence.add_subparsers(dest="evidence_command", metavar="ACTION")
    evidence_verify = evidence_actions.add_parser(
        "verify", help="recompute a pack's hashes and audit chain; name what was changed"
    )
    evidence_verify.add_argument("file", type=Path)
    evidence_verify.set_defaults(func=cmd_evidence_pack_verify)
