"""The async runner: drives probe generators over one shared httpx client.

Concurrency is bounded by a semaphore (``--concurrency``), the request rate by a global
limiter (``--rate`` per second), and every endpoint has its own request budget
(``--budget``); a probe that would exceed it is stopped and reported in a note. Every
log line goes through the :class:`~cacheward.scan.credential.Redactor`.
"""

from __future__ import annotations

import asyncio
import collections.abc
import logging
import time
from collections.abc import Generator
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from .credential import Redactor
from .exchange import ProbeRequest, ProbeResponse, build_request
from .probes.base import who
from .raw import RawSender, RawUnavailable

if TYPE_CHECKING:
    from .context import ProbeContext
    from .oracle import Oracle

log = logging.getLogger("cacheward.scan")
T = TypeVar("T")


class BudgetExceeded(Exception):
    """An endpoint used up its request budget."""


class RateLimiter:
    """Spaces request starts ``1 / rate`` seconds apart (``rate <= 0``: unlimited).

    :param clock: the monotonic clock read (tests pass one they advance).
    :param sleep: how to wait (tests pass one that advances their clock).
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: collections.abc.Callable[[], float] = time.monotonic,
        sleep: collections.abc.Callable[[float], collections.abc.Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()
        self._clock = clock
        self._sleep = sleep

    async def wait(self) -> None:
        if not self._interval:
            return
        async with self._lock:
            now = self._clock()
            delay = self._next - now
            self._next = max(now, self._next) + self._interval
        if delay > 0:
            await self._sleep(delay)


@dataclass
class Budget:
    """Requests left for one endpoint (``ctx``: the endpoint the oracle files them under)."""

    limit: int
    used: int = 0
    ctx: ProbeContext | None = None

    def take(self) -> None:
        if self.used >= self.limit:
            raise BudgetExceeded
        self.used += 1


class Sender:
    """Sends :class:`ProbeRequest` objects: rate-limited, bounded, budgeted and logged.

    Every response is handed to the scan's :class:`~cacheward.scan.oracle.Oracle` (when
    given), filed under the budget's endpoint: no probe can bypass it. A ``raw`` request
    goes through ``raw`` (:class:`~cacheward.scan.raw.RawSender`), built the same way and
    under the same limits; without one (an in-process transport) it raises
    :class:`~cacheward.scan.raw.RawUnavailable`, an :class:`httpx.HTTPError`.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        redact: Redactor,
        concurrency: int = 8,
        rate: float = 50.0,
        oracle: Oracle | None = None,
        raw: RawSender | None = None,
    ) -> None:
        # No cookie jar: a Set-Cookie from one endpoint replayed on later requests would
        # make caches pass them (stock Varnish) or key on it, and hide real leaks. Each
        # request carries exactly the cookies its probe sets.
        client.cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        self._client = client
        self._redact = redact
        self._sem = asyncio.Semaphore(max(1, concurrency))
        self._limiter = RateLimiter(rate)
        self._oracle = oracle
        self._raw = raw

    @property
    def raw(self) -> bool:
        """Whether raw requests (:attr:`ProbeRequest.raw`) can be sent."""
        return self._raw is not None

    async def send(self, req: ProbeRequest, budget: Budget) -> ProbeResponse:
        request = build_request(self._client, req)
        if req.raw and self._raw is None:
            raise RawUnavailable(
                "a raw request (a duplicate Host) cannot go through an in-process"
                " transport: scan over the network to test it",
                request=request,
            )
        budget.take()
        await self._limiter.wait()
        async with self._sem:
            if req.raw and self._raw is not None:
                out = await self._raw.send(request)
            else:
                resp = await self._client.send(request)
                try:
                    out = ProbeResponse.from_httpx(resp)
                finally:
                    await resp.aclose()
        if self._oracle is not None and budget.ctx is not None:
            self._oracle.observe(budget.ctx, req, out)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(self._redact(f"{req.method} {req.url} as {who(req)} -> {out.status}"))
        return out


async def drive(
    gen: Generator[ProbeRequest, ProbeResponse, T], sender: Sender, budget: Budget
) -> T:
    """Run ``gen`` to its return value, sending every request it yields."""
    try:
        req = next(gen)
        while True:
            resp = await sender.send(req, budget)
            req = gen.send(resp)
    except StopIteration as stop:
        value: Any = stop.value
        return value  # type: ignore[no-any-return]
    finally:
        gen.close()
