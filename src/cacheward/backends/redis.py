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
import secrets as _random
import threading
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
from .breaker import CircuitBreaker
from .codec import EntryCodec
from .connection import Client, Connector
from .layout import KeyLayout

log = logging.getLogger("cacheward.backends")
T = TypeVar("T")

# KEYS[1] the entry, KEYS[2..] generations; ARGV[i] a fresh token for KEYS[i + 1].
_LOOKUP = """
local out = {redis.call('GET', KEYS[1])}
for i = 2, #KEYS do
  local g = redis.call('GET', KEYS[i])
  if not g then
    g = ARGV[i - 1]
    local ok = redis.pcall('SET', KEYS[i], g, 'NX')
    if type(ok) == 'table' and ok.err then g = false
    elseif not ok then g = redis.call('GET', KEYS[i]) end
  end
  out[i] = g
end
return out
"""
# KEYS[1] the lock, KEYS[2] the entry; ARGV[1] token, ARGV[2] lock expiry (ms).
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_OWNER, _READY = 1, 2


def _token() -> str:
    return str(_random.randbits(62) + 1)


def _generation(value: Any) -> int:
    """A stored generation; 0 (never stamped on an entry) if absent or not a number."""
    if not value:
        return 0
    try:
        return int(value)
    except ValueError:
        return 0


def _get_or_create(name: str, client: Client) -> Any:
    old = client.set(name, _token(), nx=True, get=True)
    if old is None:  # we created it: read back what won
        return client.get(name)
    return old


def _mget(keys: list[str], client: Client) -> Any:
    return client.mget(keys)


def _set(name: str, value: str, client: Client) -> None:
    client.set(name, value)


class RedisBackend(KeyLayout, Backend):
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
        opts = client.options
        self.prefix = opts.prefix
        self.cluster = client.cluster
        self.generation_ttl = opts.generation_ttl
        self.codec = EntryCodec(secrets, opts.memo_bytes)
        self.breaker = CircuitBreaker(client.name, opts.failure_threshold, opts.reset_after)
        self._scripts: dict[str, Any] = {}
        self._shared: dict[str, tuple[int, float]] = {}
        self._shared_lock = threading.Lock()
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
    ) -> RedisBackend:
        """A backend for ``redis://host:port/db``, ``rediss://...`` or
        ``redis+cluster://host:port``; nothing is contacted until the first lookup.

        :raises ConfigurationError: a malformed URL or option.
        """
        return cls(Connector(url, **options), secrets, clock=clock, monotonic=monotonic)

    # -- key names ----------------------------------------------------------------------

    # -- calling Redis ------------------------------------------------------------------

    def _call(self, fn: Callable[[Client], T]) -> T:
        if not self.breaker.allow():
            self.stats.extra["skipped"] = self.stats.extra.get("skipped", 0) + 1
            raise BackendError(f"{self.breaker.name} is unavailable (circuit open)")
        try:
            result = fn(self._conn.client())
        except Exception as e:  # every redis-py and cluster error, whatever its base
            self.breaker.failure()
            self.stats.errors += 1
            raise BackendError(f"{self.breaker.name}: {type(e).__name__}: {e}") from e
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
            cached = self._shared.get(name)
            if cached is None or now - cached[1] >= self.generation_ttl:
                value = self._call(partial(_get_or_create, name))
                cached = (_generation(value), now)
                with self._shared_lock:
                    self._shared[name] = cached
            out.append(cached[0])
        return out

    def _fetch(self, keys: list[str]) -> list[Any]:
        """``MGET`` the entry and its generations; only when a generation does not exist
        yet, run the script that creates it (so the hit path is one plain ``MGET``)."""
        values: list[Any] = self._call(partial(_mget, keys))
        if None in values[1:]:
            values = self._run(_LOOKUP, keys, [_token() for _ in keys[1:]])
        return values

    def _read(self, key: CacheKey, tags: Sequence[str]) -> tuple[bytes | None, tuple[int, ...]]:
        """The raw entry and the generations ``(global, scope, *tags)``, one round trip
        (plus, in a Cluster, a generation refresh at most every ``generation_ttl``)."""
        scope_gen = self._scope(key.scope) + ":g"
        if self.cluster:
            blob, scope = self._fetch([self._entry_key(key), scope_gen])
            shared = self._shared_generations([self._global_key(), *map(self._tag_key, tags)])
            return blob, (shared[0], _generation(scope), *shared[1:])
        values = self._fetch(
            [self._entry_key(key), self._global_key(), scope_gen, *map(self._tag_key, tags)]
        )
        return values[0], tuple(_generation(v) for v in values[1:])

    # -- the Backend interface ----------------------------------------------------------

    def lookup(self, key: CacheKey, tags: tuple[str, ...] = ()) -> Lookup:
        blob, current = self._read(key, tags)
        if blob is not None:
            entry = self.codec.decode(key.digest, blob, self.stats)
            if entry is not None and entry.scope == key.scope:
                stamped = current
                if entry.tags != tags:  # the route's tags changed since it was stored
                    stamped = self._read(key, entry.tags)[1]
                if (
                    entry.generation == stamped
                    and 0 not in stamped
                    and entry.expires() > self.clock()
                ):
                    self.stats.hits += 1
                    return Lookup(entry, stamped)
        self.stats.misses += 1
        return Lookup(None, current)

    def store(self, key: CacheKey, entry: Entry) -> None:
        gens = entry.generation
        remaining = entry.expires() - self.clock()
        if len(gens) != 2 + len(entry.tags) or 0 in gens or remaining <= 0:
            # Stamped while a generation could not be read: it could never be served.
            self.stats.rejected += 1
            return
        try:
            blob = self.codec.encode(key.digest, entry)
        except ValueError:
            self.stats.rejected += 1
            return
        px = max(1, int(remaining * 1000))
        self._call(lambda c: c.set(self._entry_key(key), blob, px=px))
        self.stats.stores += 1

    def delete(self, key: CacheKey) -> None:
        name = self._entry_key(key)
        self._call(lambda c: c.delete(name))
        self.codec.forget(key.digest)

    def purge(self, *, scope: str | None = None, tag: str | None = None) -> None:
        names = []
        if scope is not None:
            names.append(self._scope(scope) + ":g")
        if tag is not None:
            names.append(self._tag_key(tag))
        if not names:
            names.append(self._global_key())
        for name in names:
            token = _token()
            self._call(partial(_set, name, token))
            if name in self._shared:
                with self._shared_lock:
                    self._shared[name] = (int(token), self._monotonic())

    def single_flight(self, key: CacheKey, timeout: float = 5.0) -> AbstractContextManager[bool]:
        """Run the view once per cluster: the first caller takes a Redis lock (``SET NX
        PX`` with a random token, expiring after ``timeout``), the others poll with a
        small backoff until the entry appears, the lock is free again, or ``timeout``.

        :raises BackendError: Redis cannot be asked (on entering only; a failed release
            is left to the lock's expiry).
        """
        return self._flight(key, timeout)

    @contextmanager
    def _flight(self, key: CacheKey, timeout: float) -> Iterator[bool]:
        lock = f"{self._scope(key.scope)}:l:{key.digest}"
        keys = [lock, self._entry_key(key)]
        token = _token()
        px = str(max(1, int(timeout * 1000)))
        deadline = time.monotonic() + timeout
        delay = self.poll_start
        waited = False
        while True:
            state = self._run(_ACQUIRE, keys, [token, px])
            if state == _OWNER and waited:
                # The leader finished without storing: go on without the lock, so that a
                # response nobody can store does not serialize every later request.
                self._release(lock, token)
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
            time.sleep(delay)
            delay = min(delay * 2, self.poll_max)
        try:
            yield False
        finally:
            self._release(lock, token)

    def _release(self, lock: str, token: str) -> None:
        try:
            self._run(_RELEASE, [lock], [token])
        except BackendError:
            log.debug("cacheward: could not release a single-flight lock; it expires")

    def close(self) -> None:
        self._conn.close()
