"""The Redis and Redis Cluster backend for the ASGI guard, on redis-py's asyncio client.

The same key layout, entry codec, random-token generations, Lua scripts and
single-flight lock as :class:`cacheward.backends.redis.RedisBackend` (whose module
documents them), so a Flask app and an ASGI app can share one store: each lookup is one
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
from urllib.parse import urlencode

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ..backends.base import Clock, Lookup
from ..backends.breaker import CircuitBreaker
from ..backends.codec import EntryCodec
from ..backends.connection import describe, is_cluster_url, split_url
from ..backends.layout import KeyLayout
from ..backends.redis import _ACQUIRE, _LOOKUP, _OWNER, _READY, _RELEASE, _generation, _token
from ..core.cachekey import CacheKey
from ..core.entry import Entry
from ..core.secret import Secrets
from ..errors import BackendError, ConfigurationError
from .backends import AsyncBackend

log = logging.getLogger("cacheward.backends")
T = TypeVar("T")
AsyncClient = Redis | RedisCluster


class AsyncConnector:
    """Makes the asyncio client for one URL on first use in the running event loop.

    :raises ConfigurationError: a malformed URL or option (nothing is contacted here).
    """

    def __init__(self, url: str, **options: Any) -> None:
        self.plain, self.options, self._rest = split_url(url, options)
        self.cluster = is_cluster_url(url)
        self.name = describe(url)
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
        url = self.plain + ("?" + urlencode(self._rest) if self._rest else "")
        kwargs: dict[str, Any] = {
            "socket_timeout": self.options.socket_timeout,
            "socket_connect_timeout": self.options.connect_timeout,
            "decode_responses": False,
        }
        try:
            if self.cluster:
                return RedisCluster.from_url(url, retry=Retry(NoBackoff(), 1), **kwargs)
            client: Redis = Redis.from_url(url, retry=Retry(NoBackoff(), 0), **kwargs)
            return client
        except (ValueError, TypeError) as e:
            raise ConfigurationError(f"bad Redis URL or option: {e}") from None

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
            if isinstance(client, Redis):
                await client.connection_pool.disconnect()
            else:  # the startup nodes' connections outlive aclose() (redis-py 8.1)
                await client.nodes_manager.aclose("startup_nodes")


class AsyncRedisBackend(KeyLayout, AsyncBackend):
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
        opts = connector.options
        self.prefix = opts.prefix
        self.cluster = connector.cluster
        self.generation_ttl = opts.generation_ttl
        self.codec = EntryCodec(secrets, opts.memo_bytes)
        self.breaker = CircuitBreaker(connector.name, opts.failure_threshold, opts.reset_after)
        self._shared: dict[str, tuple[int, float]] = {}
        self.poll_start = 0.002
        self.poll_max = 0.05

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

    # -- key names (as RedisBackend) ----------------------------------------------------

    # -- calling Redis ------------------------------------------------------------------

    async def _call(self, fn: Callable[[AsyncClient], Awaitable[T]]) -> T:
        if not self.breaker.allow():
            self.stats.extra["skipped"] = self.stats.extra.get("skipped", 0) + 1
            raise BackendError(f"{self.breaker.name} is unavailable (circuit open)")
        try:
            result = await fn(self._conn.client())
        except Exception as e:  # every redis-py and cluster error, whatever its base
            self.breaker.failure()
            self.stats.errors += 1
            raise BackendError(f"{self.breaker.name}: {type(e).__name__}: {e}") from e
        self.breaker.success()
        return result

    async def _run(self, source: str, keys: Sequence[str], args: Sequence[str]) -> Any:
        # EVAL with every key on one slot (the hash tags see to it); Cluster routes by key.
        return await self._call(lambda c: c.eval(source, len(keys), *keys, *args))

    async def _get_or_create(self, name: str) -> Any:
        async def run(c: AsyncClient) -> Any:
            old = await c.set(name, _token(), nx=True, get=True)
            if old is None:
                return await c.get(name)
            return old

        return await self._call(run)

    async def _shared_generations(self, names: Sequence[str]) -> list[int]:
        now = self._monotonic()
        out: list[int] = []
        for name in names:
            cached = self._shared.get(name)
            if cached is None or now - cached[1] >= self.generation_ttl:
                cached = (_generation(await self._get_or_create(name)), now)
                self._shared[name] = cached
            out.append(cached[0])
        return out

    async def _fetch(self, keys: list[str]) -> list[Any]:
        values: list[Any] = await self._call(lambda c: c.mget(keys))
        if None in values[1:]:
            values = await self._run(_LOOKUP, keys, [_token() for _ in keys[1:]])
        return values

    async def _read(
        self, key: CacheKey, tags: Sequence[str]
    ) -> tuple[bytes | None, tuple[int, ...]]:
        scope_gen = self._scope(key.scope) + ":g"
        if self.cluster:
            blob, scope = await self._fetch([self._entry_key(key), scope_gen])
            shared = await self._shared_generations(
                [self._global_key(), *map(self._tag_key, tags)]
            )
            return blob, (shared[0], _generation(scope), *shared[1:])
        values = await self._fetch(
            [self._entry_key(key), self._global_key(), scope_gen, *map(self._tag_key, tags)]
        )
        return values[0], tuple(_generation(v) for v in values[1:])

    # -- the AsyncBackend interface -----------------------------------------------------

    async def lookup(self, key: CacheKey, tags: tuple[str, ...] = ()) -> Lookup:
        blob, current = await self._read(key, tags)
        if blob is not None:
            entry = self.codec.decode(key.digest, blob, self.stats)
            if entry is not None and entry.scope == key.scope:
                stamped = current
                if entry.tags != tags:
                    stamped = (await self._read(key, entry.tags))[1]
                if (
                    entry.generation == stamped
                    and 0 not in stamped
                    and entry.expires() > self.clock()
                ):
                    self.stats.hits += 1
                    return Lookup(entry, stamped)
        self.stats.misses += 1
        return Lookup(None, current)

    async def store(self, key: CacheKey, entry: Entry) -> None:
        gens = entry.generation
        remaining = entry.expires() - self.clock()
        if len(gens) != 2 + len(entry.tags) or 0 in gens or remaining <= 0:
            self.stats.rejected += 1
            return
        try:
            blob = self.codec.encode(key.digest, entry)
        except ValueError:
            self.stats.rejected += 1
            return
        px = max(1, int(remaining * 1000))
        name = self._entry_key(key)
        await self._call(lambda c: c.set(name, blob, px=px))
        self.stats.stores += 1

    async def purge(self, *, scope: str | None = None, tag: str | None = None) -> None:
        names = []
        if scope is not None:
            names.append(self._scope(scope) + ":g")
        if tag is not None:
            names.append(self._tag_key(tag))
        if not names:
            names.append(self._global_key())
        for name in names:
            token = _token()
            await self._call(lambda c, n=name, t=token: c.set(n, t))  # type: ignore[misc]
            if name in self._shared:
                self._shared[name] = (int(token), self._monotonic())

    def single_flight(
        self, key: CacheKey, timeout: float = 5.0
    ) -> AbstractAsyncContextManager[bool]:
        """One computation per key across every process: a Redis lock (``SET NX PX``
        with a random token); the others poll with backoff (``asyncio.sleep``) until the
        entry appears, the lock is free again, or ``timeout``."""
        return self._flight(key, timeout)

    @asynccontextmanager
    async def _flight(self, key: CacheKey, timeout: float) -> AsyncIterator[bool]:
        lock = f"{self._scope(key.scope)}:l:{key.digest}"
        keys = [lock, self._entry_key(key)]
        token = _token()
        px = str(max(1, int(timeout * 1000)))
        deadline = time.monotonic() + timeout
        delay = self.poll_start
        waited = False
        while True:
            state = await self._run(_ACQUIRE, keys, [token, px])
            if state == _OWNER and waited:
                await self._release(lock, token)
                self.stats.extra["flight_waits"] = self.stats.extra.get("flight_waits", 0) + 1
                yield True
                return
            if state == _OWNER:
                break
            waited = True
            if state == _READY or time.monotonic() + delay > deadline:
                self.stats.extra["flight_waits"] = self.stats.extra.get("flight_waits", 0) + 1
                yield True
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.poll_max)
        try:
            yield False
        finally:
            await self._release(lock, token)

    async def _release(self, lock: str, token: str) -> None:
        try:
            await self._run(_RELEASE, [lock], [token])
        except BackendError:
            log.debug("cacheward: could not release a single-flight lock; it expires")

    async def close(self) -> None:
        await self._conn.close()
