"""Async cache backends: the interface the ASGI guard awaits, and the in-memory one.

The same entries, generations and single-flight as :mod:`cacheward.backends`, with every
call a coroutine so that a lookup never blocks the event loop. The in-memory backend
keeps its entries in a :class:`~cacheward.backends.memory.MemoryBackend` (whose calls
hold a lock for microseconds and never wait on I/O) and coordinates concurrent misses
with :class:`asyncio.Event`, so that a follower waits without holding a thread.
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from ..backends.base import Clock, Lookup, Stats
from ..backends.memory import DEFAULT_LIMIT, MemoryBackend
from ..backends.url import backend_for
from ..core.cachekey import CacheKey
from ..core.entry import Entry
from ..core.secret import Secrets


class AsyncBackend(abc.ABC):
    """A cache store the ASGI guard awaits.

    The guard treats any exception from it as "no cache" (invariant 7).

    :param clock: the epoch-seconds clock entry expiry is judged by (``time.time``),
        as :class:`cacheward.backends.base.Backend`'s: a test replaces it with one it
        advances.

    .. versionadded:: 0.1
    """

    name: str = ""
    #: The clock (a subclass that does not pass one to ``__init__`` keeps ``time.time``).
    clock: Clock = time.time

    def __init__(self, clock: Clock = time.time) -> None:
        self.stats = Stats()
        self.clock = clock

    @abc.abstractmethod
    async def lookup(self, key: CacheKey, tags: tuple[str, ...] = ()) -> Lookup:
        """The current entry for ``key`` (or ``None``), with the current generations."""

    @abc.abstractmethod
    async def store(self, key: CacheKey, entry: Entry) -> None:
        """Store ``entry`` (stamped with the generations of a previous lookup)."""

    @abc.abstractmethod
    async def purge(self, *, scope: str | None = None, tag: str | None = None) -> None:
        """Invalidate a scope's entries, a tag's entries, or (neither) everything."""

    def single_flight(
        self, key: CacheKey, timeout: float = 5.0
    ) -> AbstractAsyncContextManager[bool]:
        """Hold ``key`` while its view runs on a miss; yields ``True`` when the caller
        waited for another (and should look up again). The default does not coordinate."""
        return _no_flight()

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


@asynccontextmanager
async def _no_flight() -> AsyncIterator[bool]:
    yield False


class AsyncMemoryBackend(AsyncBackend):
    """Entries in one process (bounded by ``limit`` bytes, LRU + TTL), with concurrent
    misses of one key coordinated on the event loop.

    :param clock: see :class:`AsyncBackend`.

    .. versionadded:: 0.1
    """

    name = "memory"

    def __init__(self, limit: int = DEFAULT_LIMIT, clock: Clock = time.time) -> None:
        self.sync = MemoryBackend(limit, clock)
        self.stats = self.sync.stats
        self.clock = clock
        self._flights: dict[str, asyncio.Event] = {}

    def __len__(self) -> int:
        return len(self.sync)

    async def lookup(self, key: CacheKey, tags: tuple[str, ...] = ()) -> Lookup:
        return self.sync.lookup(key, tags)

    async def store(self, key: CacheKey, entry: Entry) -> None:
        self.sync.store(key, entry)

    async def purge(self, *, scope: str | None = None, tag: str | None = None) -> None:
        self.sync.purge(scope=scope, tag=tag)

    def single_flight(
        self, key: CacheKey, timeout: float = 5.0
    ) -> AbstractAsyncContextManager[bool]:
        return self._flight(key.digest, timeout)

    @asynccontextmanager
    async def _flight(self, digest: str, timeout: float) -> AsyncIterator[bool]:
        event = self._flights.get(digest)
        if event is None:  # the leader: no await between the check and the claim
            event = self._flights[digest] = asyncio.Event()
            try:
                yield False
            finally:
                if self._flights.get(digest) is event:
                    del self._flights[digest]
                event.set()
            return
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        yield True


def async_backend_from_url(url: str, secrets: Secrets, **options: Any) -> AsyncBackend:
    """The async backend ``url`` names: ``memory://``, ``redis://host:port/db``,
    ``rediss://...`` or ``redis+cluster://host:port`` (the same URLs as
    ``CACHEWARD_BACKEND``).

    :raises ConfigurationError: unknown scheme or bad option.
    """

    def redis() -> AsyncBackend:
        from .redis import AsyncRedisBackend

        return AsyncRedisBackend.from_url(url, secrets, **options)

    return backend_for(url, options, "backend", AsyncMemoryBackend, redis)
