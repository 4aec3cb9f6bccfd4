"""The Redis and Redis Cluster backend for the ASGI guard, on redis-py's asyncio client.

The same key layout, entry codec, random-token generations, Lua scripts and
single-flight lock as :class:`cacheward.backends.redis.RedisBackend` (whose module
documents them; both take every decision in :mod:`cacheward.backends.redisbase`), so a
Flask app and an ASGI app can share one store: each lookup is one
``MGET``, every reply is decoded by :class:`~cacheward.backends.codec.EntryCodec` (a
tampered entry is a miss), every Redis error becomes
:class:`~cacheward.errors.BackendError` quickly (short timeouts, no retry loop), and a
circuit breaker stops asking a dead server for a while.

A client belongs to one event loop; the backend makes its client on first use in the
running loop, and a new one if it is later awaited from another loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry

from ..backends.base import Clock, Lookup
from ..backends.connection import ConnectorBase
from ..backends.redisbase import ACQUIRE, LOOKUP, RELEASE, RedisBase, Step, token
from ..core.cachekey import CacheKey
from ..core.entry import Entry
from ..core.secret import Secrets
from ..errors import BackendError
from .backends import AsyncBackend

log = logging.getLogger("cacheward.backends")
T = TypeVar("T")
AsyncClient = Redis | RedisCluster


class AsyncConnector(ConnectorBase):
    """Makes the asyncio client for one URL on first use in the running event loop.

    :raises ConfigurationError: a malformed URL or option (nothing is contacted here).
    """

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self._client: AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def client(self) -> AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._client
        if client is None or self._loop is not loop:
            client = self._client = self._make()
            self._loop = loop
        return client

    def _make(self) -> AsyncClient:
        client: AsyncClient = self._build(Redis, RedisCluster, Retry)
        return client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
            if isinstance(client, Redis):
                await client.connection_pool.disconnect()
            else:  # the startup nodes' connections outlive aclose() (redis-py 8.1)
                await client.nodes_manager.aclose("startup_nodes")


class AsyncRedisBackend(RedisBase, AsyncBackend):
    """Entries shared by every process (Flask or ASGI) that uses one Redis or Cluster.

    :param clock: see :class:`~cacheward.asgi.backends.AsyncBackend`; Redis also expires
        each entry itself (``PX``, the entry's remaining lifetime by this clock).
    :param monotonic: the clock ``generation_ttl`` is measured by (``time.monotonic``).

    .. versionadded:: 0.1
    """

    name = "redis"

    def __init__(
        self,
        connector: AsyncConnector,
        secrets: Secrets,
        *,
        clock: Clock = time.time,
        monotonic: Clock = time.monotonic,
    ) -> None:
        super().__init__(clock)
        self._monotonic = monotonic
        self._conn = connector
        self._configure(connector.options, connector.cluster, connector.name, secrets)

    @classmethod
    def from_url(
        cls,
        url: str,
        secrets: Secrets,
        *,
        clock: Clock = time.time,
        monotonic: Clock = time.monotonic,
        **options: Any,
    ) -> AsyncRedisBackend:
        """A backend for ``redis://host:port/db``, ``rediss://...`` or
        ``redis+cluster://host:port``; nothing is contacted until the first lookup."""
        return cls(AsyncConnector(url, **options), secrets, clock=clock, monotonic=monotonic)

    # -- calling Redis ------------------------------------------------------------------

    async def _call(self, fn: Callable[[AsyncClient], Awaitable[T]]) -> T:
        refused = self._refused()
        if refused is not None:
            raise refused
        try:
            result = await fn(self._conn.client())
        except Exception as e:  # every redis-py and cluster error, whatever its base
            raise self._failed(e) from e
        self.breaker.success()
        return result

    async def _run(self, source: str, keys: Sequence[str], args: Sequence[str]) -> Any:
        # EVAL with every key on one slot (the hash tags see to it); Cluster routes by key.
        return await self._call(lambda c: c.eval(source, len(keys), *keys, *args))

    async def _get_or_create(self, name: str) -> Any:
        async def run(c: AsyncClient) -> Any:
            old = await c.set(name, token(), nx=True, get=True)
            if old is None:
                return await c.get(name)
            return old

        return await self._call(run)

    async def _shared_generations(self, names: Sequence[str]) -> list[int]:
        now = self._monotonic()
        out: list[int] = []
        for name in names:
            cached = self._shared_fresh(name, now)
            if cached is None:
                out.append(self._remember_shared(name, await self._get_or_create(name), now))
            else:
                out.append(cached[0])
        return out

    async def _fetch(self, keys: list[str]) -> list[Any]:
        values: list[Any] = await self._call(lambda c: c.mget(keys))
        if None in values[1:]:
            values = await self._run(LOOKUP, keys, [token() for _ in keys[1:]])
        return values

    async def _read(
        self, key: CacheKey, tags: Sequence[str]
    ) -> tuple[bytes | None, tuple[int, ...]]:
        values = await self._fetch(self._read_keys(key, tags))
        shared = await self._shared_generations(self._shared_names(tags)) if self.cluster else None
        return self._generations(values, shared)

    # -- the AsyncBackend interface -----------------------------------------------------

    async def lookup(self, key: CacheKey, tags: tuple[str, ...] = ()) -> Lookup:
        blob, current = await self._read(key, tags)
        entry = None if blob is None else self._entry_of(key, blob)
        if entry is not None:
            stamped = current
            if entry.tags != tags:
                stamped = (await self._read(key, entry.tags))[1]
            if self._fresh(entry, stamped):
                self.stats.hits += 1
                return Lookup(entry, stamped)
        self.stats.misses += 1
        return Lookup(None, current)

    async def store(self, key: CacheKey, entry: Entry) -> None:
        encoded = self._encoded(key, entry)
        if encoded is None:
            return
        name, blob, px = encoded
        await self._call(lambda c: c.set(name, blob, px=px))
        self.stats.stores += 1

    async def purge(self, *, scope: str | None = None, tag: str | None = None) -> None:
        for name in self._purge_names(scope, tag):
            value = token()
            await self._call(lambda c, n=name, v=value: c.set(n, v))  # type: ignore[misc]
            self._purged(name, value)

    def single_flight(
        self, key: CacheKey, timeout: float = 5.0
    ) -> AbstractAsyncContextManager[bool]:
        """One computation per key across every process: a Redis lock (``SET NX PX``
        with a random token); the others poll with backoff (``asyncio.sleep``) until the
        entry appears, the lock is free again, or ``timeout``."""
        return self._hold(key, timeout)

    @asynccontextmanager
    async def _hold(self, key: CacheKey, timeout: float) -> AsyncIterator[bool]:
        flight = self._flight(key, timeout, time.monotonic())
        while True:
            state = await self._run(ACQUIRE, flight.keys, flight.args)
            step = self._step(flight, state, time.monotonic())
            if step is Step.LEAD:
                break
            if step is not Step.WAIT:
                if step is Step.RELEASE_AND_GO:
                    await self._release(flight.lock, flight.args[0])
                yield True
                return
            await asyncio.sleep(flight.backoff())
        try:
            yield False
        finally:
            await self._release(flight.lock, flight.args[0])

    async def _release(self, lock: str, owner: str) -> None:
        try:
            await self._run(RELEASE, [lock], [owner])
        except BackendError:
            log.debug("cacheward: could not release a single-flight lock; it expires")

    async def close(self) -> None:
        await self._conn.close()
