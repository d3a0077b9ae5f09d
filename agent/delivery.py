"""Deliver spooled reports in order, with capped exponential backoff and jitter on failure.

A report leaves the spool only when the collector acknowledged it ("stored" or "duplicate"),
so a lost answer means a resend of the same report id, which the collector counts once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.errors import CollectorRefused, CollectorUnreachable, ReportError
from agent.identity import Credential
from agent.reporter import Reporter
from agent.spool import Spool

log = logging.getLogger(__name__)

# A report refused with one of these will never be accepted as it is: set it aside, go on.
UNACCEPTABLE = frozenset({400, 413, 422})


def backoff_delay(
    failures: int, *, initial: float, maximum: float, rng: Callable[[], float] = random.random
) -> float:
    """Return the wait before the next attempt after ``failures`` consecutive failures.

    Doubles from ``initial`` up to ``maximum``, then takes a random point in its upper half
    ("equal jitter"), so a fleet that lost its collector together does not retry in step.
    """
    base = min(maximum, initial * 2 ** max(0, failures - 1))
    return float(base / 2 + base / 2 * rng())


@dataclass(slots=True)
class DeliveryOutcome:
    delivered: list[str] = field(default_factory=list)
    error: ReportError | None = None
    retry_in: float | None = None


@dataclass(slots=True)
class Delivery:
    """Drain a spool into a collector; remembers consecutive failures for the backoff."""

    spool: Spool
    initial_delay: float = 5.0
    max_delay: float = 3600.0
    batch_limit: int = 1000
    failures: int = 0
    next_attempt: float = 0.0  # time.monotonic() before which no attempt is made
    last_error: str = ""
    clock: Callable[[], float] = time.monotonic

    def due(self) -> bool:
        return self.clock() >= self.next_attempt

    def deliver(self, reporter: Reporter, credential: Credential) -> DeliveryOutcome:
        """Send queued reports oldest first until the queue is empty or a send fails.

        A retryable failure (unreachable, 5xx, 429) schedules the next attempt and returns.
        A refusal that a retry cannot fix (401, 409, 422...) is returned in ``error`` with the
        report left queued; the caller decides (re-enroll, rekey, quarantine).
        """
        outcome = DeliveryOutcome()
        for _ in range(self.batch_limit):
            queued = self.spool.peek()
            if queued is None:
                break
            try:
                reporter.send_body(queued.body, credential)
            except CollectorUnreachable as exc:
                return self._failed(outcome, exc)
            except CollectorRefused as exc:
                if exc.retryable:
                    return self._failed(outcome, exc)
                if exc.status in UNACCEPTABLE:
                    log.error("collector rejected report %s: %s", queued.report_id, exc)
                    self.spool.reject(queued.report_id, str(exc))
                    self.last_error = str(exc)
                    continue
                outcome.error = exc
                self.last_error = str(exc)
                return outcome
            self.spool.acknowledge(queued.report_id)
            outcome.delivered.append(queued.report_id)
            log.info("delivered report %s to %s", queued.report_id, reporter.server_url)
        self.failures = 0
        self.next_attempt = 0.0
        self.last_error = ""
        return outcome

    def _failed(self, outcome: DeliveryOutcome, exc: ReportError) -> DeliveryOutcome:
        self.failures += 1
        delay = backoff_delay(self.failures, initial=self.initial_delay, maximum=self.max_delay)
        self.next_attempt = self.clock() + delay
        self.last_error = str(exc)
        outcome.error = exc
        outcome.retry_in = delay
        log.warning("delivery failed (%s); next attempt in %.0f s", exc, delay)
        return outcome
