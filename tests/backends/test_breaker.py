"""The circuit breaker opens, refuses, lets one trial through, and closes."""

from __future__ import annotations

import logging

import pytest

from cacheward.backends.breaker import BreakerState, CircuitBreaker


def test_open_half_open_close(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    breaker = CircuitBreaker("Redis at test", threshold=2, reset_after=5.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="cacheward.backends"):
        breaker.failure()
        assert breaker.allow() and breaker.state is BreakerState.CLOSED
        breaker.failure()
        assert breaker.state is BreakerState.OPEN and not breaker.allow()
        now[0] = 5.0
        assert breaker.state is BreakerState.HALF_OPEN
        assert breaker.allow()  # one trial
        assert not breaker.allow()  # and only one
        breaker.failure()  # the trial failed: open for another period
        assert not breaker.allow()
        now[0] = 10.0
        assert breaker.allow()
        breaker.success()
        assert breaker.state is BreakerState.CLOSED and breaker.allow()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "failed 2 times" in messages[0] and "reachable again" in messages[1]


def test_bad_settings() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker("x", threshold=0)
