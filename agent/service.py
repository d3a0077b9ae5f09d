"""`shadowmap-agent run`: scan on a jittered schedule, spool reports, deliver them, stay small.

One cycle: scan (and drain the optional capture source) -> compare with the baseline ->
queue a delta, a periodic full state, or a heartbeat -> try to deliver. Cycles, delivery retries
and watchdog checks run as apscheduler jobs on one worker thread, so they never overlap.

The agent never goes silent: a monitor thread, outside the scheduler, notices a cycle that runs
past ``cycle_timeout_seconds`` (a hung scanner, a stuck disk), logs it as an error and, every
scan interval until the cycle ends, sends a heartbeat straight to the collector (past the
spool) whose health says where the cycle is stuck.

The capture hook: network capture runs continuously elsewhere; pass any object with
``drain() -> Iterable[Observation]`` and ``status() -> str`` as ``capture`` and each cycle
matches what it drained like any scanner's observations, and reports its status in the health.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from agent import __version__
from agent.catalogue import active_catalogue, update_signatures
from agent.config import AgentSettings
from agent.delivery import Delivery
from agent.errors import (
    AgentError,
    CollectorRefused,
    CollectorUnreachable,
    ConfigError,
    NotEnrolled,
    SpoolError,
)
from agent.evidence import EvidenceField, volatile_fields
from agent.hostinfo import host_of
from agent.identity import (
    Credential,
    agent_id,
    forget_credential,
    load_credential,
    machine_fingerprint,
    rekey,
    save_credential,
)
from agent.pushed import load_pushed, refresh_pushed
from agent.reporter import Reporter
from agent.runner import EVIDENCE as RUNNER_EVIDENCE
from agent.runner import ScanResult, pseudonymise_findings, run_scan, to_finding
from agent.scanners import ScanContext, Scanner, build_scanners
from agent.scanners.base import Observation
from agent.spool import Spool, SpoolStats, finding_fingerprint, finding_key
from agent.updates import Updater
from agent.users import local_users
from agent.watchdog import Watchdog, WatchdogReading, release_memory
from signatures import (
    AgentInfo,
    BundleError,
    Catalogue,
    EvidenceValue,
    Finding,
    Matcher,
    Report,
    ReportKind,
    ScannerError,
    SignaturesError,
    ed25519_public_bytes,
    fit_finding,
    utcnow,
)

log = logging.getLogger(__name__)

WATCHDOG_CHECK_SECONDS = 30.0
# The collector's answer to a report from a known agent id on another machine.
REKEY_STATUS = 409


class CaptureSource(Protocol):
    """A continuous evidence source (network capture) the runner drains once per cycle.

    It yields raw observations (matched here) or findings it already matched itself.
    """

    evidence: tuple[EvidenceField, ...]  # what its findings' evidence may hold

    def drain(self) -> Iterable[Observation | Finding]: ...

    def status(self) -> str: ...


@dataclass(slots=True)
class CycleResult:
    kind: ReportKind | None  # None: the cycle was skipped by the watchdog
    report_id: str | None
    findings: int
    delivered: list[str] = field(default_factory=list)


def plan_report(
    baseline: dict[str, tuple[str, Finding]],
    scanned: Sequence[Finding],
    *,
    full: bool,
    volatile: frozenset[str] = frozenset(),
) -> tuple[ReportKind, list[Finding], list[Finding]]:
    """Return (kind, findings to send, new baseline state) for one scan.

    First sightings keep the time the agent first saw them; a finding is sent in a delta when
    it is new or what it says changed (times and ``volatile`` evidence fields aside).
    """
    state: list[Finding] = []
    changed: list[Finding] = []
    for finding in scanned:
        key = finding_key(finding)
        known = baseline.get(key)
        if known is not None and known[1].first_seen < finding.first_seen:
            finding = replace(finding, first_seen=known[1].first_seen)
        state.append(finding)
        if known is None or known[0] != finding_fingerprint(finding, volatile):
            changed.append(finding)
    if full:
        return ReportKind.FULL, state, state
    if changed:
        return ReportKind.DELTA, changed, state
    return ReportKind.HEARTBEAT, [], state


class AgentService:
    """The long-running agent: owns the spool, the delivery state and the watchdog."""

    def __init__(
        self,
        settings: AgentSettings,
        *,
        scanners: Sequence[Scanner] | None = None,
        catalogue: Catalogue | None = None,
        matcher: Matcher | None = None,
        capture: CaptureSource | None = None,
        reporter_factory: Callable[[str], Reporter] | None = None,
        machine: str | None = None,
        scan_root: Path = Path("/"),
        watchdog: Watchdog | None = None,
    ) -> None:
        self.settings = settings
        self.state_dir = settings.state_path
        # The newest verified signature bundle when one is installed, else the shipped one.
        self.catalogue = catalogue or active_catalogue(settings)
        # ``matcher``: one the caller built over ``catalogue`` (`run` shares it with the capture).
        self.matcher = matcher if matcher is not None else Matcher(self.catalogue)
        # Built here from the settings and the catalogue (and again when the catalogue is
        # updated), unless a caller passes its own.
        self._builds_scanners = scanners is None
        self.scanners = (
            tuple(scanners) if scanners is not None else build_scanners(settings, self.catalogue)
        )
        self.capture = capture
        self.machine = machine or machine_fingerprint()
        self.scan_root = scan_root
        declarations = [scanner.evidence for scanner in self.scanners] + [RUNNER_EVIDENCE]
        if capture is not None:
            declarations.append(capture.evidence)
        self.spool = Spool(
            self.state_dir,
            max_bytes=settings.spool_max_bytes,
            volatile_evidence=volatile_fields(declarations),
        )
        self.delivery = Delivery(
            self.spool,
            initial_delay=settings.retry_initial_seconds,
            max_delay=settings.retry_max_seconds,
        )
        self.watchdog = watchdog or Watchdog(
            cpu_budget_percent=settings.cpu_budget_percent,
            memory_budget_mb=settings.memory_budget_mb,
        )
        self._reporter_factory = reporter_factory or self._default_reporter
        self._reporter: Reporter | None = None
        self._identity = agent_id(self.state_dir, machine=self.machine)
        self._cycles_run = 0
        self._last_reading: WatchdogReading | None = None
        self._last_errors: list[ScannerError] = []
        self.enrollment_status = "enrolled"
        self._scheduler: Any = None
        # What the collector last pushed (the organisation's domains), from the cache until
        # the first full cycle fetches it.
        self.pushed = load_pushed(self.state_dir)
        self._reporter_lock = threading.Lock()  # the cycle monitor may send from its thread
        # The running cycle, as the monitor sees it.
        self._clock: Callable[[], float] = time.monotonic
        self._cycle_started: float | None = None
        self._cycle_stage = ""
        self._cycle_overran = False
        self._overrun_beat: float | None = None
        self.cycle_overruns = 0
        self.updater = self._updater()
        self.restart_requested = False

    # Identity and enrollment -----------------------------------------------------------------

    @property
    def identity(self) -> str:
        return self._identity

    def _default_reporter(self, server_url: str) -> Reporter:
        verify: bool | str = self.settings.ca_file or self.settings.verify_tls
        return Reporter(
            server_url,
            verify=verify,
            timeout=self.settings.timeout_seconds,
            machine_fingerprint=self.machine,
        )

    def _reporter_for(self, server_url: str) -> Reporter:
        with self._reporter_lock:
            if self._reporter is None or self._reporter.server_url != server_url.rstrip("/"):
                if self._reporter is not None:
                    self._reporter.close()
                self._reporter = self._reporter_factory(server_url)
            return self._reporter

    def _enrollment_token(self) -> str:
        if not self.settings.enrollment_token_file:
            return ""
        try:
            return Path(self.settings.enrollment_token_file).read_text().strip()
        except OSError as exc:
            log.warning("cannot read the enrollment token file: %s", exc)
            return ""

    def credential(self) -> Credential:
        """Return the stored credential, enrolling with the token file if there is none.

        Raises NotEnrolled when there is neither a credential nor a usable token.
        """
        try:
            return load_credential(self.state_dir)
        except NotEnrolled:
            token = self._enrollment_token()
            if not token or not self.settings.server_url:
                self.enrollment_status = "needs-enrollment-token"
                raise
        reporter = self._reporter_for(self.settings.server_url)
        credential = reporter.enroll(
            token=token, agent_id=self._identity, host=host_of(self.scan_root)
        )
        save_credential(self.state_dir, credential)
        self.enrollment_status = "enrolled"
        log.info("enrolled as agent %s with %s", credential.agent_id, credential.server_url)
        return credential

    def rekey(self) -> None:
        """Take a new identity (this one is used by a clone), then re-enroll when possible."""
        old = self._identity
        rekey(self.state_dir)
        self.spool.reset()
        self._identity = agent_id(self.state_dir, machine=self.machine)
        self._cycles_run = 0  # the next report is a full one under the new identity
        log.warning(
            "agent id %s is in use on another machine; new identity %s", old, self._identity
        )

    # One cycle -------------------------------------------------------------------------------

    def refresh_pushed(self) -> None:
        """Before each full report, fetch what the collector pushes (organisation domains).

        Not enrolled yet, or the collector unreachable: the cached answer stays in use.
        """
        if not self.settings.server_url:
            return
        try:
            credential = load_credential(self.state_dir)
        except NotEnrolled:
            return
        reporter = self._reporter_for(credential.server_url or self.settings.server_url)
        self.pushed = refresh_pushed(reporter, credential, self.state_dir)

    def scan(self) -> ScanResult:
        ctx = ScanContext(
            root=self.scan_root,
            users=local_users(self.scan_root),
            organisation_domains=self.pushed.organisation_domains,
        )
        result = run_scan(ctx, self.scanners, self.matcher, progress=self._scanning)
        if self.capture is not None:
            self._cycle_stage = "capture"
            seen = {finding.key() for finding in result.findings}
            try:
                for item in self.capture.drain():
                    finding = (
                        fit_finding(item)
                        if isinstance(item, Finding)
                        else to_finding(ctx, self.matcher, item)
                    )
                    if finding is not None and finding.key() not in seen:
                        seen.add(finding.key())
                        result.findings.append(finding)
            except Exception as exc:  # the top of a job: a broken capture must not stop scans
                log.exception("draining the capture source failed")
                result.errors.append(ScannerError(scanner="capture", message=f"crashed: {exc!r}"))
        if self.settings.pseudonymise_users:
            result.findings = pseudonymise_findings(result.findings, self.settings.pseudonym_key)
        return result

    def health(self, *, dropping: int = 0) -> dict[str, EvidenceValue]:
        """Return what every report says about the agent itself.

        ``dropping``: findings the compaction building this report leaves out (not yet counted
        in the spool's stats).
        """
        spool_error = ""
        stats: SpoolStats | None
        try:
            stats = self.spool.stats()
        except SpoolError as exc:  # a stuck or broken spool must not silence the health
            stats, spool_error = None, str(exc)
        reading = self._last_reading
        overrun = self.cycle_overrun_seconds()
        health: dict[str, EvidenceValue] = {
            "agent_version": __version__,
            "catalogue_version": self.catalogue.version,
            "scanner_errors": len(self._last_errors),
            "capture_status": self.capture.status() if self.capture is not None else "off",
            "spool_bytes": stats.bytes if stats else None,
            "spool_reports": stats.reports if stats else None,
            "spool_compactions": stats.compactions if stats else None,
            "spool_rejected": stats.rejected if stats else None,
            "spool_dropped_findings": stats.dropped_findings + dropping if stats else None,
            "cycle_status": "ok" if overrun is None else "overrun",
            "cycle_stage": "" if overrun is None else self._cycle_stage,
            "cycle_overrun_seconds": None if overrun is None else round(overrun),
            "cycle_overruns": self.cycle_overruns,
            "delivery_failures": self.delivery.failures,
            "last_delivery_error": self.delivery.last_error[:500],
            "cpu_percent": reading.cpu_percent if reading else None,
            "rss_mb": reading.rss_mb if reading else None,
            "watchdog": reading.status if reading else "ok",
            "interval_seconds": round(self.current_interval(), 1),
            "enrollment": self.enrollment_status,
        }
        if spool_error:
            health["spool_error"] = spool_error[:500]
        return health

    def _report(
        self,
        kind: ReportKind,
        findings: list[Finding],
        errors: list[ScannerError],
        *,
        dropping: int = 0,
    ) -> Report:
        return Report(
            report_id=Report.new_id(),
            kind=kind,
            agent=AgentInfo(
                id=self._identity, version=__version__, catalogue_version=self.catalogue.version
            ),
            host=host_of(self.scan_root),
            generated_at=utcnow(),
            findings=findings,
            scanner_errors=errors,
            health=self.health(dropping=dropping),
        )

    def refresh_signatures(self) -> None:
        """Before each full report, install the collector's newest verified catalogue bundle.

        Without a configured public key this does nothing; a failure keeps the last good one.
        """
        if not self.settings.signature_public_key:
            return
        try:
            credential = load_credential(self.state_dir)
            reporter = self._reporter_for(credential.server_url or self.settings.server_url)
            info = update_signatures(self.settings, reporter, credential)
        except (AgentError, SignaturesError) as exc:
            log.warning("catalogue update failed, keeping %s: %s", self.catalogue.version, exc)
            return
        if info is not None:
            self.catalogue = info.catalogue
            self.matcher = Matcher(self.catalogue)
            if self._builds_scanners:  # the footprints and host names come from the catalogue
                self.scanners = build_scanners(self.settings, self.catalogue)
            log.info("now scanning with catalogue bundle %s", info.bundle_version)

    def run_cycle(self) -> CycleResult:
        """Scan once, queue what changed, and try to deliver; never raises for a bad collector."""
        self._cycle_started, self._cycle_stage = self._clock(), "start"
        try:
            return self._run_cycle()
        finally:
            self._cycle_ended()

    def _run_cycle(self) -> CycleResult:
        if self._last_reading is not None and self._last_reading.skip_next_scan:
            self._last_reading = self.watchdog.check()
            if self._last_reading.skip_next_scan:
                log.warning("watchdog: scan skipped (memory over budget)")
                return CycleResult(kind=None, report_id=None, findings=0)
        total = self.spool.counter("cycles")
        full = self._cycles_run == 0 or total % self.settings.full_report_every == 0
        if full:
            self._cycle_stage = "catalogue update"
            self.refresh_signatures()
            self.refresh_pushed()
        result = self.scan()
        self._cycle_stage = "spool"
        self._last_errors = result.errors
        kind, to_send, state = plan_report(
            self.spool.baseline(),
            result.findings,
            full=full,
            volatile=self.spool.volatile_evidence,
        )

        def full_state(findings: list[Finding], dropping: int) -> Report:
            return self._report(ReportKind.FULL, findings, result.errors, dropping=dropping)

        report = self._report(kind, to_send, result.errors)
        try:
            self.spool.enqueue(
                report, state=state, full_report=full_state, counters={"cycles": total + 1}
            )
        except SpoolError as exc:
            # Nothing was written: the baseline is unchanged, so the next cycle's delta
            # carries these changes again.
            log.error("cannot queue the report: %s", exc)
            self.delivery.last_error = str(exc)
            self._cycles_run += 1
            return CycleResult(kind=kind, report_id=None, findings=len(to_send))
        self._cycles_run += 1
        self._last_reading = self.watchdog.check()
        self._cycle_stage = "delivery"
        delivered = self.deliver()
        return CycleResult(
            kind=kind, report_id=report.report_id, findings=len(to_send), delivered=delivered
        )

    def deliver(self) -> list[str]:
        """Deliver what is queued when a retry is due; returns the report ids acknowledged."""
        if not self.settings.server_url or not self.delivery.due():
            return []
        try:
            credential = self.credential()
        except NotEnrolled as exc:
            self.delivery.last_error = str(exc)
            return []
        except CollectorRefused as exc:
            self.enrollment_status = f"enrollment refused: {exc.detail}"[:200]
            self.delivery.last_error = str(exc)
            return []
        except Exception as exc:  # the top of a job: unreachable while enrolling, etc.
            self.delivery.last_error = str(exc)
            return []
        outcome = self.delivery.deliver(self._reporter_for(credential.server_url), credential)
        error = outcome.error
        if isinstance(error, CollectorRefused) and not error.retryable:
            if error.status == REKEY_STATUS:
                self.rekey()
            elif error.status == 401:
                # The credential was revoked or the collector lost it: enroll again if we can.
                forget_credential(self.state_dir)
                self.enrollment_status = "credential refused"
            else:
                log.error("collector refused a queued report: %s", error)
        return outcome.delivered

    # Overrunning cycles ----------------------------------------------------------------------

    def _scanning(self, scanner: str) -> None:
        self._cycle_stage = f"scan:{scanner}"

    def cycle_overrun_seconds(self) -> float | None:
        """Return how long the running cycle has run, if past cycle_timeout_seconds; else None."""
        started = self._cycle_started
        if started is None:
            return None
        running = self._clock() - started
        return running if running > self.settings.cycle_timeout_seconds else None

    def check_cycle(self) -> bool:
        """Report a cycle that overruns; return whether the running cycle overruns.

        The first time, log an error; then, at most once per scan interval, send a heartbeat
        straight to the collector whose health says so.
        """
        running = self.cycle_overrun_seconds()
        if running is None:
            return False
        if not self._cycle_overran:
            self._cycle_overran = True
            self.cycle_overruns += 1
            log.error(
                "scan cycle overrun: running for %.0f s (cycle_timeout_seconds is %g), stuck at "
                "%s; the agent keeps sending its health",
                running,
                self.settings.cycle_timeout_seconds,
                self._cycle_stage,
            )
        now = self._clock()
        if self._overrun_beat is None or now - self._overrun_beat >= self.current_interval():
            self._overrun_beat = now
            self._send_heartbeat_now()
        return True

    def _send_heartbeat_now(self) -> None:
        """Send a heartbeat past the spool (the stuck cycle may be holding it)."""
        if not self.settings.server_url:
            return
        report = self._report(ReportKind.HEARTBEAT, [], self._last_errors)
        try:
            credential = self.credential()
            reporter = self._reporter_for(credential.server_url or self.settings.server_url)
            reporter.send(report, credential)
        except AgentError as exc:
            log.warning("cannot send the heartbeat of an overrunning cycle: %s", exc)

    def _cycle_ended(self) -> None:
        started, overran = self._cycle_started, self._cycle_overran
        self._cycle_started, self._cycle_stage = None, ""
        self._cycle_overran, self._overrun_beat = False, None
        if overran and started is not None:
            log.warning("the overrunning scan cycle ended after %.0f s", self._clock() - started)

    def _watch_cycles(self, stopped: threading.Event) -> None:
        """The monitor thread: check the running cycle until ``stopped`` is set."""
        period = min(30.0, max(0.2, self.settings.cycle_timeout_seconds / 4))
        while not stopped.wait(period):
            try:
                self.check_cycle()
            except Exception:  # the top of a job: the monitor must outlive any one failure
                log.exception("the cycle monitor failed")

    # Scheduling ------------------------------------------------------------------------------

    def _updater(self) -> Updater | None:
        """The self-updater when an update key is configured (ConfigError if unreadable).

        The key is checked here but read into a key object only when an update is offered.
        """
        if not self.settings.update_public_key:
            return None
        try:
            key = Path(self.settings.update_public_key).read_bytes()
            ed25519_public_bytes(key)
        except (OSError, BundleError) as exc:
            raise ConfigError("update_public_key", str(exc)) from exc
        return Updater(
            updates_dir=self.state_dir / "updates",
            public_key=key,
            running_version=__version__,
            tags=self.settings.tags,
            confirm_seconds=self.settings.update_confirm_seconds,
        )

    def check_for_update(self, delivered: bool) -> bool:
        """Confirm, roll back or install an agent update; True when `run` should restart."""
        if self.updater is None or not self.settings.server_url:
            return False
        try:
            credential = self.credential()
        except (NotEnrolled, CollectorRefused, CollectorUnreachable):
            return False
        reporter = self._reporter_for(credential.server_url)
        return self.updater.after_cycle(reporter, credential, delivered)

    def current_interval(self) -> float:
        return self.settings.scan_interval_seconds * self.watchdog.interval_factor

    def run(self, *, max_cycles: int | None = None) -> int:
        """Run the schedule until SIGTERM/SIGINT (or ``max_cycles`` scans); returns cycles run."""
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.blocking import BlockingScheduler
        from apscheduler.triggers.date import DateTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        executor = ThreadPoolExecutor(1)
        scheduler = BlockingScheduler(
            executors={"default": executor},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=dt.UTC,
        )
        cycles = 0
        applied_factor = self.watchdog.interval_factor

        def interval_trigger() -> Any:
            interval = self.current_interval()
            return IntervalTrigger(
                seconds=interval, jitter=interval * self.settings.scan_jitter_fraction
            )

        def schedule_retry() -> None:
            if self.spool.peek() is None or not self.delivery.failures:
                return
            when = dt.datetime.now(dt.UTC) + dt.timedelta(
                seconds=max(0.0, self.delivery.next_attempt - self.delivery.clock())
            )
            scheduler.add_job(
                retry_job, DateTrigger(run_date=when), id="deliver", replace_existing=True
            )

        def retry_job() -> None:
            try:
                self.deliver()
            except Exception:  # the top of a job
                log.exception("delivery failed")
            schedule_retry()

        def cycle_job() -> None:
            nonlocal cycles, applied_factor
            delivered = False
            try:
                delivered = bool(self.run_cycle().delivered)
            except Exception:  # the top of a job: one bad cycle must not stop the agent
                log.exception("scan cycle failed")
            try:
                if self.check_for_update(delivered):
                    self.restart_requested = True
                    scheduler.shutdown(wait=False)
                    return
            except Exception:  # the top of a job: an update problem must not stop scanning
                log.exception("agent update check failed")
            release_memory()  # idle until the next cycle: hand the scan's peak back
            cycles += 1
            if max_cycles is not None and cycles >= max_cycles:
                scheduler.shutdown(wait=False)
                return
            schedule_retry()
            if self.watchdog.interval_factor != applied_factor:
                applied_factor = self.watchdog.interval_factor
                scheduler.reschedule_job("scan", trigger=interval_trigger())

        def watchdog_job() -> None:
            nonlocal applied_factor
            self._last_reading = self.watchdog.check()
            if self.watchdog.interval_factor != applied_factor:
                applied_factor = self.watchdog.interval_factor
                scheduler.reschedule_job("scan", trigger=interval_trigger())

        # The first scan soon after start, spread over a short window so a fleet rebooted
        # together does not report together.
        first_delay = random.uniform(  # noqa: S311 - spreading load, not security
            0, min(60.0, self.settings.scan_interval_seconds * self.settings.scan_jitter_fraction)
        )
        scheduler.add_job(
            cycle_job,
            interval_trigger(),
            id="scan",
            next_run_time=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=first_delay),
        )
        scheduler.add_job(
            watchdog_job,
            IntervalTrigger(seconds=max(WATCHDOG_CHECK_SECONDS, 1.0)),
            id="watchdog",
        )

        def stop(signum: int, frame: object) -> None:
            self.stop()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        self._scheduler = scheduler
        stopped = threading.Event()
        monitor = threading.Thread(
            target=self._watch_cycles, args=(stopped,), name="cycle-monitor", daemon=True
        )
        monitor.start()
        try:
            scheduler.start()
        finally:
            # A stop (signal, or stop()) shuts the scheduler down without waiting; the job
            # under way (a scan, a delivery) finishes before the spool and reporter close,
            # else it would write to a closed spool.
            executor.shutdown(wait=True)
            stopped.set()
            monitor.join(timeout=5)
        self._scheduler = None
        self.close()
        return cycles

    def stop(self) -> None:
        """Stop `run` from another thread or a signal handler (e.g. a Windows service stop)."""
        scheduler = self._scheduler
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)

    def close(self) -> None:
        if self._reporter is not None:
            self._reporter.close()
            self._reporter = None
        self.spool.close()
