"""The `shadowmap` command: run the server and administer it."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy.orm import Session

from collector.db import current_revision, make_engine, make_sessionmaker, transaction, upgrade
from collector.errors import CollectorError
from collector.store import agents, reports, tokens, users
from server import __version__, signatures_cli
from server.config import ServerSettings, load_settings
from server.deps import ROLES
from server.errors import ServerError
from server.passwords import MIN_PASSWORD_LENGTH, generate_password, hash_password

_DURATION = re.compile(r"^(\d+)([mhd])$")


def parse_duration(text: str) -> dt.timedelta:
    """Parse "30m", "12h" or "7d"."""
    found = _DURATION.match(text.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 12h or 7d")
    amount, unit = int(found.group(1)), found.group(2)
    return {
        "m": dt.timedelta(minutes=amount),
        "h": dt.timedelta(hours=amount),
        "d": dt.timedelta(days=amount),
    }[unit]


def _settings(args: argparse.Namespace) -> ServerSettings:
    overrides: dict[str, object] = {}
    for name in ("data_dir", "database_url", "host", "port"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return load_settings(**overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app

    settings = _settings(args)
    engine = make_engine(settings.resolved_database_url())
    if args.migrate:
        upgrade(engine)
    from alembic.script import ScriptDirectory

    from collector.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    if current_revision(engine) != head:
        print(
            "error: the database schema is not up to date; run `shadowmap db upgrade` "
            "(or `shadowmap serve --migrate`)",
            file=sys.stderr,
        )
        return 2
    engine.dispose()
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=args.log_level,
        proxy_headers=True,
        server_header=False,
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings(args)
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine, args.revision)
    print(f"database at revision {current_revision(engine)}")
    return 0


def cmd_db_prune(args: argparse.Namespace) -> int:
    from collector.retention import run_retention

    settings = _settings(args)
    days = args.days if args.days is not None else settings.sighting_retention_days
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url()))
    result = run_retention(sessions, retention_days=days)
    print(
        f"pruned {result.sightings} sightings and {result.reports} report records older than "
        f"{days} days, and {result.daily_rows} trend rows; inventory roll-ups kept"
    )
    return 0


def cmd_user_create(args: argparse.Namespace) -> int:
    settings = _settings(args)
    password = args.password
    generated = password is None
    if generated:
        password = generate_password()
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url()))
    with transaction(sessions) as session:
        if args.if_no_users and users.count_users(session) > 0:
            print("users already exist; nothing created")
            return 0
        user = users.create_user(
            session, username=args.username, password_hash=password_hash, role=args.role
        )
        _audit_cli_user_create(session, user_id=user.id, username=user.username, role=user.role)
    print(f"created {args.role} {args.username!r}")
    if generated:
        print(f"password: {password}  (shown once; store it now)")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    settings = _settings(args)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url()))
    expires = dt.datetime.now(dt.UTC) + args.expires if args.expires else None
    with transaction(sessions) as session:
        token, secret = agents.create_enrollment_token(
            session, name=args.name, expires_at=expires, max_uses=args.uses
        )
        token_id = token.id
    if args.quiet:
        print(secret)
    else:
        print(f"enrollment token #{token_id} {args.name!r}: {secret}")
        print("  shown once; give it to `shadowmap-agent enroll --token ...`")
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url()))
    with transaction(sessions) as session:
        for token in agents.list_enrollment_tokens(session):
            status = "revoked" if token.revoked_at else "active"
            limit = "unlimited" if token.max_uses is None else str(token.max_uses)
            expires = token.expires_at.isoformat() if token.expires_at else "never"
            print(
                f"#{token.id}\t{token.name}\t{status}\tuses {token.uses}/{limit}\texpires {expires}"
            )
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    settings = _settings(args)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url()))
    with transaction(sessions) as session:
        agents.revoke_enrollment_token(session, token_id=args.id)
    print(f"revoked enrollment token #{args.id}")
    return 0


def _audit_cli_user_create(session: Session, *, user_id: int, username: str, role: str) -> None:
    """Record an account created from the command line in the audit trail."""
    from collector.store.audit import append_audit_event

    append_audit_event(
        session,
        actor="cli",
        action="user.create",
        object_type="user",
        object_id=str(user_id),
        before=None,
        after={"username": username, "role": role, "disabled": False},
    )


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Walk the audit hash chain; exit 1 and name the first broken link if it does not hold."""
    from collector.store.audit import verify_audit_chain

    settings = _settings(args)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url()))
    with transaction(sessions) as session:
        verdict = verify_audit_chain(session)
    if verdict.ok:
        print(f"audit chain intact: {verdict.checked} events verified; head {verdict.head}")
        return 0
    print(
        f"audit chain BROKEN at event #{verdict.broken_at}: {verdict.reason} "
        f"({verdict.checked} events before it verified)",
        file=sys.stderr,
    )
    return 1


def cmd_register_mark_due(args: argparse.Namespace) -> int:
    """Move approved/restricted entries whose review date has come to review due."""
    from server.register.service import mark_reviews_due

    settings = _settings(args)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url()))
    with transaction(sessions) as session:
        moved = mark_reviews_due(session, today=dt.datetime.now(dt.UTC).date())
    print(f"{len(moved)} entries now due for review" + (f": {', '.join(moved)}" if moved else ""))
    return 0


def cmd_evidence_pack(args: argparse.Namespace) -> int:
    """Write the ISO/IEC 42001 evidence pack (a zip) to --out."""
    from server.register.evidence_pack import build_evidence_pack
    from signatures import load_catalogue

    if not args.out:
        print("error: give --out FILE (or: shadowmap evidence-pack verify FILE)", file=sys.stderr)
        return 2
    settings = _settings(args)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url()))
    with transaction(sessions) as session:
        pack = build_evidence_pack(session, catalogue=load_catalogue(settings.catalogue_dir))
    Path(args.out).write_bytes(pack)
    print(f"evidence pack written to {args.out} ({len(pack)} bytes)")
    return 0


def cmd_evidence_pack_verify(args: argparse.Namespace) -> int:
    """Recompute an evidence pack's file hashes and audit chain; exit 1 naming each failure."""
    from server.register.evidence_pack import verify_evidence_pack

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


def _progress_bar(label: str) -> Callable[[int, int], None]:
    """Return a progress callback drawing a bar on stderr (only when it is a terminal)."""
    last = [-1]

    def update(done: int, total: int) -> None:
        if not sys.stderr.isatty() or total <= 0:
            return
        percent = min(100, done * 100 // total)
        if percent == last[0]:
            return
        last[0] = percent
        filled = percent // 4
        sys.stderr.write(
            f"\r{label} [{'#' * filled}{' ' * (25 - filled)}] {percent:3d}% "
            f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
        )
        if percent == 100:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return update


def cmd_import_logs(args: argparse.Namespace) -> int:
    from collector.ingest import ingest_report
    from collector.logimport import read_log
    from signatures import Matcher, load_catalogue

    settings = _settings(args)
    catalogue = load_catalogue(settings.catalogue_dir)
    imported = read_log(
        args.file,
        args.format,
        Matcher(catalogue),
        progress=_progress_bar(f"importing {args.file.name}"),
    )
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url()))
    findings = 0
    with transaction(sessions) as session:
        for report in imported.reports:
            agent = agents.get_or_create_log_source(
                session,
                source_uid=f"{report.agent.id}:{report.host.hostname}",
                hostname=report.host.hostname,
            )
            findings += ingest_report(
                session, agent=agent, report=report, catalogue=catalogue
            ).findings
    print(
        f"imported {args.file}: {len(imported.reports)} client(s), {findings} AI finding(s); "
        f"{imported.stats}"
    )
    return 0


# API tokens (server/api_auth.py) ------------------------------------------------------------


def cmd_api_token_create(args: argparse.Namespace) -> int:
    settings = _settings(args)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url()))
    expires = dt.datetime.now(dt.UTC) + args.expires if args.expires else None
    with transaction(sessions) as session:
        token, secret = tokens.create_api_token(
            session, name=args.name, scopes=args.scope, expires_at=expires, created_by="cli"
        )
        token_id, scopes = token.id, token.scopes
    if args.quiet:
        print(secret)
    else:
        print(f"API token #{token_id} {args.name!r} scopes {' '.join(scopes)}: {secret}")
        print("  shown once; send it as `Authorization: Bearer <token>`")
    return 0


def cmd_api_token_list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url()))
    with transaction(sessions) as session:
        for token in tokens.list_api_tokens(session):
            status = "revoked" if token.revoked_at else "active"
            expires = token.expires_at.isoformat() if token.expires_at else "never"
            used = token.last_used_at.isoformat() if token.last_used_at else "never"
            print(
                f"#{token.id}\t{token.name}\t{status}\t{' '.join(token.scopes)}"
                f"\texpires {expires}\tlast used {used}"
            )
    return 0


def cmd_api_token_revoke(args: argparse.Namespace) -> int:
    settings = _settings(args)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url()))
    with transaction(sessions) as session:
        tokens.revoke_api_token(session, token_id=args.id)
    print(f"revoked API token #{args.id}")
    return 0


def _add_api_token_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    from collector.store.tokens import SCOPES

    api_token = commands.add_parser("api-token", help="API tokens with scopes").add_subparsers(
        dest="api_token_command", required=True, metavar="ACTION"
    )
    create = api_token.add_parser("create", parents=[common], help="create a token")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--scope", action="append", required=True, choices=SCOPES, help="repeat for several"
    )
    create.add_argument("--expires", type=parse_duration, help="lifetime, e.g. 90d")
    create.add_argument("--quiet", action="store_true", help="print only the token")
    create.set_defaults(func=cmd_api_token_create)
    listing = api_token.add_parser("list", parents=[common], help="list tokens (never secrets)")
    listing.set_defaults(func=cmd_api_token_list)
    revoke = api_token.add_parser("revoke", parents=[common], help="revoke a token")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=cmd_api_token_revoke)


# Discovery reports (server/reports/) ---------------------------------------------------------


def cmd_report_run(args: argparse.Namespace) -> int:
    from server.reports.runner import run_report

    settings = _settings(args)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url()))
    run = run_report(
        sessions,
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
    settings = _settings(args)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url()))
    with transaction(sessions) as session:
        for run in reports.list_report_runs(session, limit=args.limit):
            headline = run.summary.get("headline", {})
            print(
                f"#{run.id}\t{run.report}\t{run.period}\t{run.trigger}\t{run.status}"
                f"\tnew {headline.get('new_services', '-')}"
                f"\tunreviewed {headline.get('unreviewed', '-')}"
            )
    return 0


def _add_report_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    from server.reports.runner import REPORTS

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


# Integrations (server/integrations/) ---------------------------------------------------------


def cmd_ciso_assistant_push(args: argparse.Namespace) -> int:
    """Push approved and restricted register entries to CISO Assistant."""
    from server.integrations.ciso_assistant import CisoAssistantConnector

    settings = _settings(args)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url()))
    connector = CisoAssistantConnector.from_settings(settings, sessions)
    try:
        report = connector.push(dry_run=args.dry_run)
    finally:
        connector.close()
    for action in report.actions:
        print(action.describe(dry_run=report.dry_run))
    print(report.summary())
    return 0


def _add_integration_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    integrations = commands.add_parser(
        "integrations", help="push the register to other systems"
    ).add_subparsers(dest="integration", required=True, metavar="SYSTEM")
    ciso = integrations.add_parser(
        "ciso-assistant", help="CISO Assistant (docs/integrations.md)"
    ).add_subparsers(dest="ciso_assistant_command", required=True, metavar="ACTION")
    push = ciso.add_parser(
        "push",
        parents=[common],
        help="create or update assets, applied controls and evidence for approved and "
        "restricted entries",
    )
    push.add_argument(
        "--dry-run", action="store_true", help="only read CISO Assistant; say what would change"
    )
    push.set_defaults(func=cmd_ciso_assistant_push)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", dest="data_dir", help="overrides SHADOWMAP_DATA_DIR")
    common.add_argument(
        "--database-url", dest="database_url", help="overrides SHADOWMAP_DATABASE_URL"
    )

    parser = argparse.ArgumentParser(prog="shadowmap", description=__doc__)
    parser.add_argument("--version", action="version", version=f"shadowmap {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", parents=[common], help="run the server")
    serve.add_argument("--host", help="overrides SHADOWMAP_HOST")
    serve.add_argument("--port", type=int, help="overrides SHADOWMAP_PORT")
    serve.add_argument("--migrate", action="store_true", help="upgrade the schema first")
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.set_defaults(func=cmd_serve)

    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    db_upgrade = db.add_parser("upgrade", parents=[common], help="migrate to the newest schema")
    db_upgrade.add_argument("--revision", default="head")
    db_upgrade.set_defaults(func=cmd_db_upgrade)
    db_prune = db.add_parser(
        "prune", parents=[common], help="delete raw sightings past the retention period"
    )
    db_prune.add_argument(
        "--days", type=int, help="overrides SHADOWMAP_SIGHTING_RETENTION_DAYS for this run"
    )
    db_prune.set_defaults(func=cmd_db_prune)

    user = commands.add_parser("user", help="local accounts").add_subparsers(
        dest="user_command", required=True, metavar="ACTION"
    )
    user_create = user.add_parser("create", parents=[common], help="create a local account")
    user_create.add_argument("--username", required=True)
    user_create.add_argument("--role", choices=ROLES, default="viewer")
    user_create.add_argument(
        "--password", help=f"at least {MIN_PASSWORD_LENGTH} characters; generated if omitted"
    )
    user_create.add_argument(
        "--if-no-users",
        action="store_true",
        help="do nothing when any account exists (first-run setup)",
    )
    user_create.set_defaults(func=cmd_user_create)

    token = commands.add_parser("enroll-token", help="agent enrollment tokens").add_subparsers(
        dest="token_command", required=True, metavar="ACTION"
    )
    token_create = token.add_parser("create", parents=[common], help="create a token")
    token_create.add_argument("--name", default="default")
    token_create.add_argument("--uses", type=int, help="how many agents may use it")
    token_create.add_argument("--expires", type=parse_duration, help="lifetime, e.g. 7d")
    token_create.add_argument("--quiet", action="store_true", help="print only the token")
    token_create.set_defaults(func=cmd_token_create)
    token_list = token.add_parser("list", parents=[common], help="list tokens (never secrets)")
    token_list.set_defaults(func=cmd_token_list)
    token_revoke = token.add_parser("revoke", parents=[common], help="revoke a token")
    token_revoke.add_argument("id", type=int)
    token_revoke.set_defaults(func=cmd_token_revoke)
    signatures_cli.register(commands)

    from collector.logimport import FORMATS

    import_logs = commands.add_parser(
        "import-logs",
        parents=[common],
        help="import a DNS or proxy log; its AI lookups land in the inventory by client",
    )
    import_logs.add_argument("--format", required=True, choices=sorted(FORMATS))
    import_logs.add_argument("file", type=Path)
    import_logs.set_defaults(func=cmd_import_logs)

    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit_command", required=True, metavar="ACTION"
    )
    audit_verify = audit.add_parser(
        "verify", parents=[common], help="check the hash chain; report the first broken link"
    )
    audit_verify.set_defaults(func=cmd_audit_verify)

    register = commands.add_parser("register", help="the AI register").add_subparsers(
        dest="register_command", required=True, metavar="ACTION"
    )
    register_due = register.add_parser(
        "mark-due", parents=[common], help="move entries whose review date has come to review due"
    )
    register_due.set_defaults(func=cmd_register_mark_due)

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

    _add_api_token_commands(commands, common)
    _add_report_commands(commands, common)
    _add_integration_commands(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (ServerError, CollectorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
