"""A circuit breaker, so that a dead cache server is not hammered on every request.

After ``threshold`` consecutive failures the circuit *opens*: calls are refused at once
for ``reset_after`` seconds. Then it is *half-open*: one caller may try; its success
closes the circuit, its failure opens it for another period. One log line says when the
circuit opens and one when it closes again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import Enum

log = logging.getLogger("cacheward.backends")


class BreakerState(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Counts consecutive failures of one dependency.

    :param name: what the log lines call the dependency (never a URL with a password).
    :param threshold: consecutive failures that open the circuit.
    :param reset_after: seconds the circuit stays open before one trial call.
    :param clock: monotonic clock, replaceable in tests.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        name: str,
        threshold: int = 5,
        reset_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threshold < 1 or reset_after <= 0:
            raise ValueError("threshold must be >= 1 and reset_after > 0")
        self.name = name
        self.threshold = threshold
        self.reset_after = reset_after
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at = 0.0
        self._state = BreakerState.CLOSED
        self._trial = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            opened_for = self._clock() - self._opened_at
            if self._state is BreakerState.OPEN and opened_for >= self.reset_after:
                return BreakerState.HALF_OPEN
            return self._state

    def allow(self) -> bool:
        """Whether a call may go out now."""
        state = self._state
        if state is BreakerState.CLOSED:  # the hot path: one attribute read, no lock
            return True
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self._trial or self._clock() - self._opened_at < self.reset_after:
                return False
            self._trial = True  # half-open: exactly one caller tries
            return True

    def success(self) -> None:
        failures, state = self._failures, self._state
        if failures == 0 and state is BreakerState.CLOSED:  # the hot path: no lock
            return
        with self._lock:
            self._failures = 0
            self._trial = False
            if self._state is not BreakerState.CLOSED:
                self._state = BreakerState.CLOSED
                log.warning("cacheward: %s is reachable again; caching resumes.", self.name)

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state is not BreakerState.CLOSED:
                # The half-open trial failed: open for another period.
                self._opened_at = self._clock()
                self._trial = False
                return
            if self._failures >= self.threshold:
                self._state = BreakerState.OPEN
                self._opened_at = self._clock()
                log.warning(
                    "cacheward: %s failed %d times in a row; serving uncached and"
                    " retrying in %.1f s.",
                    self.name,
                    self._failures,
                    self.reset_after,
                )
