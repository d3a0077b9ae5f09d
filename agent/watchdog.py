"""Keep the agent inside its CPU and memory budget by backing off, never by hurting the host.

The watchdog samples the agent's own CPU time and resident memory (psutil). Over the CPU
budget (averaged over a window) it lowers the process priority once and doubles the scan
interval (up to ``MAX_FACTOR``); back under half the budget it halves the factor again. Over
the memory budget it asks the runner to skip the next scan and collects garbage.
After every cycle the runner calls :func:`release_memory`, so an idle agent does not hold the
scan's peak.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import logging
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import psutil

log = logging.getLogger(__name__)

MAX_FACTOR = 32
NICE_INCREMENT = 10


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None (musl, macOS, Windows have none)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def release_memory() -> None:
    """Return the memory a scan cycle freed to the operating system.

    A cycle builds and drops tens of thousands of objects (process tables, parsed manifests,
    the report); glibc keeps freed heap pages for reuse unless asked, so without the trim an
    agent that scans once an hour would sit at its scan's peak for the whole hour.
    """
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@dataclass(frozen=True, slots=True)
class WatchdogReading:
    cpu_percent: float  # of one core, averaged over the window
    rss_mb: float
    interval_factor: int
    skip_next_scan: bool
    lowered_priority: bool

    @property
    def status(self) -> str:
        if self.skip_next_scan:
            return "over-memory"
        if self.interval_factor > 1:
            return "throttled"
        return "ok"


class Watchdog:
    """Measure the agent's own use and decide how far to back off."""

    def __init__(
        self,
        *,
        cpu_budget_percent: float,
        memory_budget_mb: float,
        window_seconds: float = 600.0,
        warmup_seconds: float = 60.0,
        process: psutil.Process | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cpu_budget_percent = cpu_budget_percent
        self.memory_budget_mb = memory_budget_mb
        self.window_seconds = window_seconds
        self.warmup_seconds = warmup_seconds
        self._process = process or psutil.Process()
        self._clock = clock
        self._samples: deque[tuple[float, float]] = deque()
        self.interval_factor = 1
        self.lowered_priority = False
        self.skip_next_scan = False
        self._sample()

    def _cpu_seconds(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)

    def _sample(self) -> tuple[float, float]:
        sample = (self._clock(), self._cpu_seconds())
        self._samples.append(sample)
        # Keep one sample older than the window, so the average always spans the window.
        while len(self._samples) > 2 and self._samples[1][0] <= sample[0] - self.window_seconds:
            self._samples.popleft()
        return sample

    def cpu_percent(self) -> float:
        """Return the average CPU use, in percent of one core, over the current window."""
        now, cpu = self._sample()
        then, cpu_then = self._samples[0]
        if now <= then:
            return 0.0
        return 100.0 * (cpu - cpu_then) / (now - then)

    def check(self) -> WatchdogReading:
        """Sample, adjust the back-off, and return what was measured and decided.

        CPU is judged only once the samples span ``warmup_seconds`` (osquery waits 60 s too):
        start-up and the first scan of a fresh process would otherwise always look expensive.
        """
        cpu = self.cpu_percent()
        judged = self._samples[-1][0] - self._samples[0][0] >= self.warmup_seconds
        rss_mb = self._process.memory_info().rss / (1024 * 1024)
        if judged and cpu > self.cpu_budget_percent:
            if not self.lowered_priority:
                self._lower_priority()
            if self.interval_factor < MAX_FACTOR:
                self.interval_factor *= 2
                log.warning(
                    "watchdog: CPU %.1f%% over the %.1f%% budget; scan interval x%d",
                    cpu,
                    self.cpu_budget_percent,
                    self.interval_factor,
                )
        elif judged and cpu < self.cpu_budget_percent / 2 and self.interval_factor > 1:
            self.interval_factor //= 2
        self.skip_next_scan = rss_mb > self.memory_budget_mb
        if self.skip_next_scan:
            release_memory()
            log.warning(
                "watchdog: resident memory %.0f MB over the %.0f MB budget; skipping a scan",
                rss_mb,
                self.memory_budget_mb,
            )
        return WatchdogReading(
            cpu_percent=round(cpu, 2),
            rss_mb=round(rss_mb, 1),
            interval_factor=self.interval_factor,
            skip_next_scan=self.skip_next_scan,
            lowered_priority=self.lowered_priority,
        )

    def _lower_priority(self) -> None:
        try:
            if os.name == "nt":
                self._process.nice(psutil.BELOW_NORMAL_PRIORITY_CLASS)  # type: ignore[attr-defined,unused-ignore]
            else:
                self._process.nice(min(19, self._process.nice() + NICE_INCREMENT))
        except (psutil.AccessDenied, OSError) as exc:
            log.warning("watchdog: cannot lower the agent's priority: %s", exc)
        self.lowered_priority = True
