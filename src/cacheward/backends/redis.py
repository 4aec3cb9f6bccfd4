"""The Redis and Redis Cluster backend.

Keys (``P`` is the prefix, ``cw`` by default)::

    {P:s:<scope>}:e:<digest>    an entry (EntryCodec bytes), Redis TTL = entry TTL
    {P:s:<scope>}:g             the scope's generation (purge(principal=/tenant=))
    {P:s:<scope>}:l:<digest>    the single-flight lock of one key (delete() removes the entry)
    {P:global}:g                the global generation (purge())
    {P:t:<tag>}:g               a tag's generation (purge(tag=))

The ``{...}`` hash tag puts an entry, its lock and its scope's generation on one Cluster
slot, so they are read together by one ``MGET``: one round trip per lookup. Only when a
generation does not exist yet does a small Lua script (``EVALSHA``, falling back to
``EVAL``) create it, atomically with the read.

**Generations are random tokens, not counters.** A missing generation is created by the
lookup script with a fresh random value, and a purge writes a new random value (an O(1)
``SET``). If Redis evicts or loses a generation key, the next lookup writes a new token
and every entry stamped with the old one becomes a miss: eviction can only cost misses,
never undo a purge (an ``INCR`` counter recreated at 1 could match old entries again).

**Standalone**: the lookup ``MGET`` reads the entry, the global, scope and tag generations
at once, so every purge is seen by every process on its next lookup.

**Cluster**: the global and tag generations live on other slots, so ``MGET`` reads the
entry and the scope generation only, and the global and tag generations come from an
in-process cache refreshed every ``generation_ttl`` seconds (1 s by default, one extra
round trip per refresh). So: a purge by principal or tenant is seen by every process on
its next request; a global or tag purge is seen by the purging process at once and by
every other process within ``generation_ttl`` seconds. ``generation_ttl=0`` reads them on
every lookup (exact, one more round trip per lookup).

Every Redis error becomes :class:`~cacheward.errors.BackendError`, raised quickly (short
socket timeouts, no retry loop); after ``failure_threshold`` consecutive failures a
circuit breaker refuses calls without touching the network for ``reset_after`` seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from typing import Any, TypeVar

from ..core.cachekey import CacheKey
from ..core.entry import Entry
from ..core.secret import Secrets
from ..errors import BackendError
from .base import Backend, Clock, Lookup
from .connection import Client, Connector
from .redisbase import ACQUIRE, LOOKUP, RELEASE, RedisBase, Step, token

log = logging.getLogger("cacheward.backends")
T = TypeVar("T")


def _get_or_create(name: str, client: Client) -> Any:
    old = client.set(name, token(), nx=True, get=True)
    if old is None:  # we created it: read back what won
        return client.get(name)
    return old


def _mget(keys: list[str], client: Client) -> Any:
    return client.mget(keys)


def _set(name: str, value: str, client: Client) -> None:
    client.set(name, value)


class RedisBackend(RedisBase, Backend):
    """Entries shared by every process and host that uses one Redis or Redis Cluster.

    :param client: a redis-py client (``decode_responses=False``) or a
        :class:`~cacheward.backends.connection.Connector`; prefer :meth:`from_url`,
        which sets short timeouts and no retries.
    :param secrets: the application secrets (entries are signed with them).
    :param options: see :mod:`cacheward.backends.connection`.
    :param clock: see :class:`~cacheward.backends.base.Backend`; Redis also expires each
        entry itself (``PX``, the entry's remaining lifetime by this clock).
    :param monotonic: the clock ``generation_ttl`` is measured by (``time.monotonic``).

    .. versionadded:: 0.1
    """

    name = "redis"

    def __init__(
        self,
        client: Client | Connector,
        secrets: Secrets,
        *,
        clock: Clock = time.time,
        monotonic: Clock = time.monotonic,
        **options: Any,
    ) -> None:
        super().__init__(clock)
        self._monotonic = monotonic
        if not isinstance(client, Connector):
            client = Connector.for_client(client, **options)
        self._conn = client
        self._configure(client.options, client.cluster, client.name, secrets)
        self._scripts: dict[str, Any] = {}

    @classmethod
    def from_url(
        cls,
        url: str,
        secrets: Secrets,
        *,
        clock: Clock = time.time,
        monotonic: Clock = time.monotonic,
        **options: Any,
    ) -> RedisBackend:
        """A backend for ``redis://host:port/db``, ``rediss://...`` or
        ``redis+cluster://host:port``; nothing is contacted until the first lookup.

        :raises ConfigurationError: a malformed URL or option.
        """
        return cls(Connector(url, **options), secrets, clock=clock, monotonic=monotonic)

    # -- calling Redis ------------------------------------------------------------------

    def _call(self, fn: Callable[[Client], T]) -> T:
        refused = self._refused()
        if refused is not None:
            raise refused
        try:
            result = fn(self._conn.client())
        except Exception as e:  # every redis-py and cluster error, whatever its base
            raise self._failed(e) from e
        self.breaker.success()
        return result

    def _script(self, client: Client, source: str) -> Any:
        # register_script runs EVALSHA and falls back to EVAL on NOSCRIPT.
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = client.register_script(source)
        return script

    def _run(self, source: str, keys: Sequence[str], args: Sequence[str]) -> Any:
        return self._call(lambda c: self._script(c, source)(keys=list(keys), args=list(args)))

    # -- generations --------------------------------------------------------------------

    def _shared_generations(self, names: Sequence[str]) -> list[int]:
        """(Cluster) global and tag generations, from the in-process cache when fresh."""
        now = self._monotonic()
        out: list[int] = []
        for name in names:
            cached = self._shared_fresh(name, now)
            if cached is None:
                value = self._call(partial(_get_or_create, name))
                out.append(self._remember_shared(name, value, now))
            else:
                out.append(cached[0])
        return out

    def _fetch(self, keys: list[str]) -> list[Any]:
        """``MGET`` the entry and its generations; only when a generation does not exist
        yet, run the script that creates it (so the hit path is one plain ``MGET``)."""
        values: list[Any] = self._call(partial(_mget, keys))
        if None in values[1:]:
            values = self._run(LOOKUP, keys, [token() for _ in keys[1:]])
        return values

    def _read(self, key: CacheKey, tags: Sequence[str]) -> tuple[bytes | None, tuple[int, ...]]:
        """The raw entry and the generations ``(global, scope, *tags)``, one round trip
        (plus, in a Cluster, a generation refresh at most every ``generation_ttl``)."""
        values = self._fetch(self._read_keys(key, tags))
        shared = self._shared_generations(self._shared_names(tags)) if self.cluster else None
        return self._generations(values, shared)

    # -- the Backend interface ----------------------------------------------------------

    def lookup(self, key: CacheKey, tags: tuple[str, ...] = ()) -> Lookup:
        blob, current = self._read(key, tags)
        entry = None if blob is None else self._entry_of(key, blob)
        if entry is not None:
            stamped = current
            if entry.tags != tags:  # the route's tags changed since it was stored
                stamped = self._read(key, entry.tags)[1]
            if self._fresh(entry, stamped):
                self.stats.hits += 1
                return Lookup(entry, stamped)
        self.stats.misses += 1
        return Lookup(None, current)

    def store(self, key: CacheKey, entry: Entry) -> None:
        encoded = self._encoded(key, entry)
        if encoded is None:
            return
        name, blob, px = encoded
        self._call(lambda c: c.set(name, blob, px=px))
        self.stats.stores += 1

    def delete(self, key: CacheKey) -> None:
        name = self._entry_key(key)
        self._call(lambda c: c.delete(name))
        self.codec.forget(key.digest)

    def purge(self, *, scope: str | None = None, tag: str | None = None) -> None:
        for name in self._purge_names(scope, tag):
            value = token()
            self._call(partial(_set, name, value))
            self._purged(name, value)

    def single_flight(self, key: CacheKey, timeout: float = 5.0) -> AbstractContextManager[bool]:
        """Run the view once per cluster: the first caller takes a Redis lock (``SET NX
        PX`` with a random token, expiring after ``timeout``), the others poll with a
        small backoff until the entry appears, the lock is free again, or ``timeout``.

        :raises BackendError: Redis cannot be asked (on entering only; a failed release
            is left to the lock's expiry).
        """
        return self._hold(key, timeout)

    @contextmanager
    def _hold(self, key: CacheKey, timeout: float) -> Iterator[bool]:
        flight = self._flight(key, timeout, time.monotonic())
        while True:
            state = self._run(ACQUIRE, flight.keys, flight.args)
            step = self._step(flight, state, time.monotonic())
            if step is Step.LEAD:
                break
            if step is not Step.WAIT:
                if step is Step.RELEASE_AND_GO:
                    self._release(flight.lock, flight.args[0])
                yield True
                return
            time.sleep(flight.backoff())
        try:
            yield False
        finally:
            self._release(flight.lock, flight.args[0])

    def _release(self, lock: str, owner: str) -> None:
        try:
            self._run(RELEASE, [lock], [owner])
        except BackendError:
            log.debug("cacheward: could not release a single-flight lock; it expires")

    def close(self) -> None:
        self._conn.close()
