"""The offline spool: reports wait here, on disk, until the collector acknowledges them.

One SQLite database in WAL mode (``spool.db`` in the state directory) holds three things,
changed together in one transaction so that a crash (even ``kill -9``) never leaves them
out of step:

* ``reports``  the queue, oldest first; each row is a serialized report with its own id, so
  a retry after a lost acknowledgement is not counted twice by the collector;
* ``baseline`` the agent's current state as of the last queued report (one row per finding
  key), which the next scan is compared with to build a delta;
* ``meta``     small counters (scan cycles).

The queue is bounded in bytes. Over budget it is compacted: queued deltas and heartbeats are
replaced by one full-state report: the baseline (the latest state) merged with every finding the
queued reports carry that the latest scan no longer shows, so no finding produced is dropped.
Only when even that report would exceed the budget are the longest-unseen of those findings
left out, each one counted (``dropped_findings``) and logged; the latest state is always kept.
A heartbeat supersedes any heartbeat still queued.

Locking: one lock serialises the spool's own reads and writes, and is never held while code
outside the spool runs. Compaction reads under the lock, builds the replacement report with it
released (the builder asks the spool for its stats, for the report's health), then swaps it in
under the lock if the queue did not change meanwhile. A call back into the spool while the
calling thread holds the lock raises SpoolError instead of deadlocking.

A finding's fingerprint leaves out its times and its *volatile* evidence: the fields the
evidence sources declare as changing between scans without news (a pid, a start time).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from agent.errors import SpoolError
from signatures import Finding, Report, ReportKind

log = logging.getLogger(__name__)

SPOOL_FILE = "spool.db"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS reports (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        report_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        body BLOB NOT NULL,
        size INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS baseline (
        key TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        finding TEXT NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS rejected (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        report_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        body BLOB NOT NULL
    )""",
)

# Reports the collector refused for good are kept for inspection, the newest this many.
KEEP_REJECTED = 20


@dataclass(frozen=True, slots=True)
class QueuedReport:
    seq: int
    report_id: str
    kind: ReportKind
    body: bytes


@dataclass(frozen=True, slots=True)
class SpoolStats:
    reports: int
    bytes: int
    compactions: int
    rejected: int = 0
    dropped_findings: int = 0  # left out of compacted reports: the budget could not hold them


# Builds a full-state report from findings; the int is how many findings this compaction
# leaves out (0 unless the budget cannot hold them all), for the report's health.
FullReportBuilder = Callable[[list[Finding], int], Report]

# How long a spool call waits for the lock before it gives up with SpoolError: a stuck write
# must not silence the threads that report the agent's health.
LOCK_TIMEOUT_SECONDS = 30.0


def finding_key(finding: Finding) -> str:
    """Return the baseline key of a finding (what makes two findings the same sighting)."""
    return json.dumps(finding.key(), separators=(",", ":"))


def finding_fingerprint(finding: Finding, volatile: frozenset[str] = frozenset()) -> str:
    """Return what a finding says apart from its times and its ``volatile`` evidence fields.

    A change of the fingerprint makes the finding an update worth sending.
    """
    doc = finding.to_dict()
    doc.pop("first_seen")
    doc.pop("last_seen")
    doc["evidence"] = {
        name: value for name, value in doc["evidence"].items() if name not in volatile
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


class Spool:
    """A crash-safe, byte-bounded queue of reports plus the baseline they were built from.

    Raises SpoolError when the database cannot be opened or written (e.g. a full disk); the
    failed change is rolled back as a whole.
    """

    def __init__(
        self, state_dir: Path, *, max_bytes: int, volatile_evidence: frozenset[str] = frozenset()
    ) -> None:
        self.path = state_dir / SPOOL_FILE
        self.max_bytes = max_bytes
        self.volatile_evidence = volatile_evidence
        self._lock = threading.Lock()
        self._holder: int | None = None  # the thread holding the lock
        try:
            state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed report survives power loss, not only a killed process.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            for statement in _SCHEMA:
                self._db.execute(statement)
        except (OSError, sqlite3.Error) as exc:
            raise SpoolError(f"cannot open the spool {self.path}: {exc}") from exc
        self.path.chmod(0o600)

    def close(self) -> None:
        with self._locked():
            self._db.close()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the spool's lock; raises SpoolError on re-entry or after LOCK_TIMEOUT_SECONDS."""
        if self._holder == threading.get_ident():
            # A plain Lock would deadlock here and an RLock would hide the bug: say it.
            raise SpoolError("the spool was called back while this thread holds its lock")
        if not self._lock.acquire(timeout=LOCK_TIMEOUT_SECONDS):
            raise SpoolError(f"the spool has been busy for over {LOCK_TIMEOUT_SECONDS:g} s")
        self._holder = threading.get_ident()
        try:
            yield
        finally:
            self._holder = None
            self._lock.release()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._locked():
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise SpoolError(f"spool write failed: {exc}") from exc

    # The baseline ----------------------------------------------------------------------------

    def baseline(self) -> dict[str, tuple[str, Finding]]:
        """Return the last queued state: key -> (fingerprint, finding)."""
        with self._locked():
            rows = self._db.execute("SELECT key, fingerprint, finding FROM baseline").fetchall()
        return {
            key: (fingerprint, Finding.from_dict(json.loads(text)))
            for key, fingerprint, text in rows
        }

    def counter(self, name: str) -> int:
        with self._locked():
            row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    # The queue -------------------------------------------------------------------------------

    def enqueue(
        self,
        report: Report,
        *,
        state: list[Finding] | None = None,
        full_report: FullReportBuilder | None = None,
        counters: dict[str, int] | None = None,
    ) -> None:
        """Queue a report and, in the same transaction, make ``state`` the new baseline.

        Then, when ``full_report`` is given and the queue is over budget, compact it (see
        :meth:`compact`). Raises SpoolError; when the queueing transaction fails, neither the
        queue nor the baseline changed.
        """
        body = report.to_json()
        with self._transaction() as db:
            if report.kind is ReportKind.HEARTBEAT:
                db.execute("DELETE FROM reports WHERE kind = 'heartbeat'")
            db.execute(
                "INSERT INTO reports (report_id, kind, body, size) VALUES (?, ?, ?, ?)",
                (report.report_id, report.kind.value, body, len(body)),
            )
            if state is not None:
                db.execute("DELETE FROM baseline")
                db.executemany(
                    "INSERT OR REPLACE INTO baseline (key, fingerprint, finding) VALUES (?, ?, ?)",
                    [
                        (
                            finding_key(finding),
                            finding_fingerprint(finding, self.volatile_evidence),
                            json.dumps(finding.to_dict()),
                        )
                        for finding in state
                    ],
                )
            for name, value in (counters or {}).items():
                db.execute(
                    "INSERT INTO meta (name, value) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    (name, str(value)),
                )
        if full_report is not None:
            self.compact(full_report)

    def compact(self, full_report: FullReportBuilder) -> bool:
        """Over budget, replace the queue by one full-state report; return whether it did.

        The report holds the baseline plus every queued finding the baseline lacks (the latest
        version of each, with its earliest first sighting). ``full_report`` runs without the
        spool's lock held. Raises SpoolError.
        """
        try:
            with self._locked():
                rows = self._db.execute("SELECT seq, size FROM reports ORDER BY seq").fetchall()
                if sum(size for _seq, size in rows) <= self.max_bytes:
                    return False
                seqs = [seq for seq, _size in rows]
                current = self._baseline_findings()
                queued = self._queued_findings(seqs[-1])
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot read the spool to compact it: {exc}") from exc
        stale = [finding for key, finding in queued.items() if key not in current]
        replacement, body, dropped = self._fit(full_report, current, queued, stale)
        with self._transaction() as db:
            still = [
                row[0] for row in db.execute("SELECT seq FROM reports WHERE seq <= ?", (seqs[-1],))
            ]
            if still != seqs:  # delivered or changed meanwhile: the next enqueue tries again
                return False
            db.execute("DELETE FROM reports WHERE seq <= ?", (seqs[-1],))
            db.execute(
                "INSERT INTO reports (seq, report_id, kind, body, size) VALUES (?, ?, ?, ?, ?)",
                (seqs[0], replacement.report_id, replacement.kind.value, body, len(body)),
            )
            for name, increment in (("compactions", 1), ("dropped_findings", dropped)):
                db.execute(
                    "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) "
                    "DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value",
                    (name, str(increment)),
                )
        if dropped:
            log.warning(
                "spool over budget: %d finding(s) no longer seen left out of the compacted "
                "report (budget %d bytes)",
                dropped,
                self.max_bytes,
            )
        if len(body) > self.max_bytes:
            log.warning(
                "the full state (%d bytes) alone exceeds the spool budget of %d bytes; kept",
                len(body),
                self.max_bytes,
            )
        log.info(
            "spool over budget: %d queued report(s) compacted into one of %d finding(s)",
            len(seqs),
            len(replacement.findings),
        )
        return True

    def _baseline_findings(self) -> dict[str, Finding]:
        return {
            key: Finding.from_dict(json.loads(text))
            for key, text in self._db.execute("SELECT key, finding FROM baseline ORDER BY key")
        }

    def _queued_findings(self, last_seq: int) -> dict[str, Finding]:
        """Return the latest version of each finding queued up to ``last_seq``, by key.

        Bodies are read one at a time: only the distinct findings are held in memory.
        """
        found: dict[str, Finding] = {}
        for (body,) in self._db.execute(
            "SELECT body FROM reports WHERE seq <= ? ORDER BY seq", (last_seq,)
        ):
            for item in json.loads(body).get("findings", []):
                finding = Finding.from_dict(item)
                key = finding_key(finding)
                earlier = found.get(key)
                if earlier is not None and earlier.first_seen < finding.first_seen:
                    finding = replace(finding, first_seen=earlier.first_seen)
                found[key] = finding
        return found

    def _fit(
        self,
        full_report: FullReportBuilder,
        current: dict[str, Finding],
        queued: dict[str, Finding],
        stale: list[Finding],
    ) -> tuple[Report, bytes, int]:
        """Build the replacement; leave out the longest-unseen stale findings only if needed."""
        state = []
        for key, finding in current.items():
            earlier = queued.get(key)
            if earlier is not None and earlier.first_seen < finding.first_seen:
                finding = replace(finding, first_seen=earlier.first_seen)
            state.append(finding)
        # Most recently seen first: what is left out, when something must be, is the oldest.
        stale.sort(key=lambda finding: (finding.last_seen, finding_key(finding)), reverse=True)
        kept = len(stale)
        while True:
            replacement = full_report([*state, *stale[:kept]], len(stale) - kept)
            body = replacement.to_json()
            excess = len(body) - self.max_bytes
            if excess <= 0 or kept == 0:
                return replacement, body, len(stale) - kept
            while kept > 0 and excess > 0:  # leave out findings worth the excess, then rebuild
                kept -= 1
                excess -= len(json.dumps(stale[kept].to_dict()).encode()) + 1

    def reset(self) -> None:
        """Forget the queue and the baseline (after a rekey: the next report is a full one)."""
        with self._transaction() as db:
            db.execute("DELETE FROM reports")
            db.execute("DELETE FROM baseline")

    def peek(self) -> QueuedReport | None:
        """Return the oldest queued report, or None."""
        with self._locked():
            row = self._db.execute(
                "SELECT seq, report_id, kind, body FROM reports ORDER BY seq LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        return QueuedReport(seq=row[0], report_id=row[1], kind=ReportKind(row[2]), body=row[3])

    def acknowledge(self, report_id: str) -> None:
        """Remove a report the collector acknowledged."""
        with self._transaction() as db:
            db.execute("DELETE FROM reports WHERE report_id = ?", (report_id,))

    def reject(self, report_id: str, reason: str) -> None:
        """Move a report the collector refused for good (e.g. 422) out of the queue.

        It is kept aside (the newest KEEP_REJECTED) so the queue behind it can move on.
        """
        with self._transaction() as db:
            db.execute(
                "INSERT INTO rejected (report_id, reason, body) "
                "SELECT report_id, ?, body FROM reports WHERE report_id = ?",
                (reason[:1000], report_id),
            )
            db.execute("DELETE FROM reports WHERE report_id = ?", (report_id,))
            db.execute(
                "DELETE FROM rejected WHERE seq <= (SELECT MAX(seq) FROM rejected) - ?",
                (KEEP_REJECTED,),
            )
            db.execute(
                "INSERT INTO meta (name, value) VALUES ('rejected', '1') "
                "ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )

    def report_ids(self) -> list[str]:
        with self._locked():
            return [
                row[0] for row in self._db.execute("SELECT report_id FROM reports ORDER BY seq")
            ]

    def stats(self) -> SpoolStats:
        """Return the queue's size and the spool's counters. Raises SpoolError."""
        try:
            with self._locked():
                count, size = self._db.execute(
                    "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM reports"
                ).fetchone()
                meta = dict(
                    self._db.execute(
                        "SELECT name, value FROM meta "
                        "WHERE name IN ('compactions', 'rejected', 'dropped_findings')"
                    ).fetchall()
                )
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot read the spool: {exc}") from exc
        return SpoolStats(
            reports=int(count),
            bytes=int(size),
            compactions=int(meta.get("compactions", 0)),
            rejected=int(meta.get("rejected", 0)),
            dropped_findings=int(meta.get("dropped_findings", 0)),
        )
