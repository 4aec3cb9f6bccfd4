"""A clock tests advance by hand, for everything that takes ``clock=``."""

from __future__ import annotations


class FakeClock:
    """Callable like ``time.time``: returns seconds that move only on :meth:`advance`.

    Starts at a realistic epoch second (entries' ETags and ``Age`` are computed from it).
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds``; returns the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self.now += seconds
        return self.now
