"""The `shadowmap-agent` command: scan this endpoint and report to a collector."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from agent import __version__
from agent.catalogue import active_catalogue, update_signatures
from agent.config import AgentSettings, load_settings
from agent.errors import AgentError, ConfigError, NotEnrolled
from agent.hostinfo import host_of, this_host
from agent.identity import (
    Credential,
    agent_id,
    load_credential,
    machine_fingerprint,
    save_credential,
)
from agent.pushed import PushedConfig, load_pushed, refresh_pushed
from agent.reporter import Reporter
from agent.runner import ScanResult, pseudonymise_findings, run_scan
from agent.scanners import ScanContext, build_scanners
from agent.users import local_users, platform_of_root
from signatures import (
    AgentInfo,
    Catalogue,
    HostInfo,
    Matcher,
    Report,
    SignaturesError,
    utcnow,
)

log = logging.getLogger("shadowmap.agent")

if TYPE_CHECKING:
    from agent.network import LiveCapture, UnavailableCapture


def _settings(args: argparse.Namespace) -> AgentSettings:
    return load_settings(
        args.config,
        overrides={
            "server_url": getattr(args, "server", None),
            "state_dir": getattr(args, "state_dir", None),
        },
    )


def _verify(settings: AgentSettings) -> bool | str:
    if settings.ca_file:
        return settings.ca_file
    return settings.verify_tls


def scan_once(
    root: Path,
    only: str | None,
    settings: AgentSettings,
    catalogue: Catalogue | None = None,
    pushed: PushedConfig | None = None,
) -> tuple[ScanResult, str]:
    """Run one scan of this host (or of a mounted image at ``root``).

    The scanners are built from the settings and the catalogue exactly as `run` builds them;
    ``only`` (``--only``) overrides the ``scanners`` setting. ``pushed`` is what the collector
    last told the agent (default: the cache in the state folder).
    """
    if pushed is None:
        pushed = load_pushed(settings.state_path)
    catalogue = catalogue or active_catalogue(settings)
    scanners = build_scanners(settings, catalogue, only=only)
    if root != Path("/"):
        # A mounted image has no running processes of its own.
        scanners = tuple(scanner for scanner in scanners if not scanner.live)
    ctx = ScanContext(
        root=root, users=local_users(root), organisation_domains=pushed.organisation_domains
    )
    if root != Path("/"):
        ctx.platform = platform_of_root(root)
    result = run_scan(ctx, scanners, Matcher(catalogue))
    if settings.pseudonymise_users:
        result.findings = pseudonymise_findings(result.findings, settings.pseudonym_key)
    return result, catalogue.version


def build_report(
    result: ScanResult, catalogue_version: str, identity: str, host: HostInfo | None = None
) -> Report:
    return Report(
        report_id=Report.new_id(),
        agent=AgentInfo(id=identity, version=__version__, catalogue_version=catalogue_version),
        host=host or this_host(),
        generated_at=utcnow(),
        findings=result.findings,
        scanner_errors=result.errors,
    )


def cmd_scan(args: argparse.Namespace) -> int:
    if not args.once:
        print(
            "error: `scan` needs --once (use `shadowmap-agent run` for the schedule)",
            file=sys.stderr,
        )
        return 2
    root = Path(args.root)
    if not root.is_dir():
        print(f"error: --root {root} is not a directory", file=sys.stderr)
        return 2
    # The image's own name and OS for a --root scan; checked before scanning.
    host = host_of(root, hostname=args.hostname)
    if args.json:
        result, version = scan_once(root, args.only, _settings(args))
        document = {
            "agent_version": __version__,
            "catalogue_version": version,
            "host": host.to_dict(),
            "findings": [finding.to_dict() for finding in result.findings],
            "scanner_errors": [error.to_dict() for error in result.errors],
        }
        json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    settings = _settings(args)
    if not settings.server_url:
        print(
            "error: give --json to print the findings, or --server URL to send them",
            file=sys.stderr,
        )
        return 2
    state_dir = settings.state_path
    identity = agent_id(state_dir)
    with Reporter(
        settings.server_url, verify=_verify(settings), timeout=settings.timeout_seconds
    ) as reporter:
        if args.token:
            save_credential(
                state_dir,
                reporter.enroll(
                    token=args.token,
                    agent_id=identity,
                    host=this_host(),
                    current=_held_credential(state_dir),
                ),
            )
        credential = load_credential(state_dir)
        pushed = refresh_pushed(reporter, credential, state_dir)
        result, version = scan_once(root, args.only, settings, pushed=pushed)
        report = build_report(result, version, identity, host)
        answer = reporter.send(report, credential)
    print(
        f"sent report {report.report_id}: {len(report.findings)} finding(s), "
        f"{len(report.scanner_errors)} scanner error(s); collector: {answer.get('status')}"
    )
    return 0


def _held_credential(state_dir: Path) -> Credential | None:
    """The credential already stored, sent as proof when this agent id enrolls again."""
    try:
        return load_credential(state_dir)
    except NotEnrolled:
        return None


def _enrollment_token(args: argparse.Namespace) -> str:
    """Return the token given by --token, or read from --token-file ('-': standard input).

    Raises ConfigError naming the file when it cannot be read or holds no token.
    """
    if args.token is not None:
        return str(args.token)
    try:
        source = str(args.token_file)
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        raise ConfigError("enrollment_token_file", f"cannot read {args.token_file}: {exc}") from exc
    token = text.strip()
    if not token:
        raise ConfigError("enrollment_token_file", f"{args.token_file} holds no token")
    return token


def cmd_enroll(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not settings.server_url:
        print("error: give --server URL or set server_url in --config", file=sys.stderr)
        return 2
    state_dir = settings.state_path
    machine = machine_fingerprint()
    with Reporter(
        settings.server_url,
        verify=_verify(settings),
        timeout=settings.timeout_seconds,
        machine_fingerprint=machine,
    ) as reporter:
        credential = reporter.enroll(
            token=_enrollment_token(args),
            agent_id=agent_id(state_dir, machine=machine),
            host=this_host(),
            current=_held_credential(state_dir),
        )
    save_credential(state_dir, credential)
    print(
        f"enrolled agent {credential.agent_id} with {settings.server_url}; "
        f"credential stored in {state_dir}"
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from agent.service import AgentService

    settings = _settings(args)
    if not settings.server_url:
        print(
            "error: no collector: set server_url in the config file or give --server",
            file=sys.stderr,
        )
        return 2
    # One catalogue and one matcher for the scanners and the capture: loading and indexing
    # the catalogue is most of the agent's start-up and of its resident memory.
    catalogue = active_catalogue(settings)
    matcher = Matcher(catalogue)
    capture = start_capture(settings, matcher)
    try:
        service = AgentService(settings, catalogue=catalogue, matcher=matcher, capture=capture)
        cycles = service.run(max_cycles=args.cycles)
    finally:
        if capture is not None:
            capture.stop()
    if service.restart_requested:
        from agent.updates import RESTART_EXIT_CODE

        log.info(
            "exiting with %d so that the service manager restarts the agent", RESTART_EXIT_CODE
        )
        return RESTART_EXIT_CODE
    log.info("stopped after %d scan cycle(s)", cycles)
    return 0


def start_capture(
    settings: AgentSettings, matcher: Matcher | None = None
) -> LiveCapture | UnavailableCapture | None:
    """Start live DNS/SNI capture for `run`; without privilege, say why and carry on.

    ``matcher``: the one the scanners use (else one is built from the active catalogue).
    """
    if not settings.network_capture:
        return None
    from agent.network import CaptureError, LiveCapture, UnavailableCapture

    capture = LiveCapture(
        matcher or Matcher(active_catalogue(settings)),
        interface=settings.capture_interface or None,
    )
    try:
        capture.start()
    except CaptureError as exc:
        log.warning("network capture is off: %s (the other scanners carry on)", exc)
        return UnavailableCapture(str(exc))
    return capture


def cmd_update_signatures(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not settings.server_url:
        print("error: --server URL is required", file=sys.stderr)
        return 2
    with Reporter(
        settings.server_url, verify=_verify(settings), timeout=settings.timeout_seconds
    ) as reporter:
        info = update_signatures(settings, reporter, load_credential(settings.state_path))
    if info is None:
        print("catalogue bundle already current")
    else:
        print(
            f"installed catalogue bundle {info.bundle_version} "
            f"({len(info.catalogue.services)} services, {info.catalogue.version})"
        )
    return 0


def cmd_dns(args: argparse.Namespace) -> int:
    from agent.network import CaptureFileError, scan_capture

    catalogue = active_catalogue(_settings(args))
    try:
        scan = scan_capture(args.pcap, Matcher(catalogue))
    except CaptureFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(scan.to_dict(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for finding in scan.findings:
            print(f"{finding.kind.value}\t{finding.indicator}\t{finding.service_id or '-'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shadowmap-agent", description=__doc__)
    parser.add_argument("--version", action="version", version=f"shadowmap-agent {__version__}")
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scan = commands.add_parser("scan", help="scan this endpoint")
    scan.add_argument("--once", action="store_true", help="scan once and exit")
    scan.add_argument("--json", action="store_true", help="print findings; send nothing")
    scan.add_argument("--server", help="collector URL to send the findings to")
    scan.add_argument("--token", help="enroll with this token first")
    scan.add_argument("--state-dir", dest="state_dir", help="identity and credential directory")
    scan.add_argument("--only", help="comma-separated scanner names")
    scan.add_argument("--root", default="/", help="scan a mounted filesystem image at DIR")
    scan.add_argument(
        "--hostname",
        help="the host name to report (needed for a Windows image, whose name is in its "
        "registry; a Linux or macOS image's own name is read from the image)",
    )
    scan.set_defaults(func=cmd_scan)

    enroll = commands.add_parser("enroll", help="register this agent with a collector")
    enroll.add_argument("--server", help="collector URL (default: server_url of --config)")
    secret = enroll.add_mutually_exclusive_group(required=True)
    secret.add_argument(
        "--token-file",
        dest="token_file",
        help="file holding the enrollment token ('-' reads standard input); keeps the token "
        "out of the process list, unlike --token",
    )
    secret.add_argument("--token", help="enrollment token from an admin (visible in ps)")
    enroll.add_argument("--state-dir", dest="state_dir", help="identity and credential directory")
    enroll.set_defaults(func=cmd_enroll)

    dns = commands.add_parser("dns", help="AI names (DNS, TLS/QUIC SNI) in a capture file")
    dns.add_argument("--pcap", required=True, type=Path, help="pcap or pcapng file")
    dns.add_argument("--json", action="store_true", help="print a JSON document")
    dns.set_defaults(func=cmd_dns)

    run = commands.add_parser(
        "run", help="scan on a schedule and report to the collector (the service mode)"
    )
    run.add_argument("--server", help="collector URL (overrides server_url)")
    run.add_argument("--state-dir", dest="state_dir", help="identity, credential and spool")
    run.add_argument(
        "--cycles", type=int, help="stop after this many scan cycles (default: run until stopped)"
    )
    run.set_defaults(func=cmd_run)

    update = commands.add_parser(
        "update-signatures", help="fetch, verify and install the collector's newest catalogue"
    )
    update.add_argument("--server", help="collector URL")
    update.add_argument("--state-dir", dest="state_dir", help="identity and credential directory")
    update.set_defaults(func=cmd_update_signatures)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command == "run" and not args.verbose:
        # The service logs one line per enrollment, delivered report and error by default.
        for name in ("agent", "shadowmap"):
            logging.getLogger(name).setLevel(logging.INFO)
    try:
        code: int = args.func(args)
    except (AgentError, SignaturesError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # e.g. an unknown scanner name in --only
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
