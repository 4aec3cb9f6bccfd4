"""What the sync and the async Redis backends share: the Lua scripts, generation tokens,
and every step of a lookup, a store, a purge and a single-flight wait that needs no I/O.

Each backend only calls Redis (blocking or awaited) between these steps, so the two
cannot drift apart: a Flask and an ASGI process share a store only while they decide
alike. :mod:`cacheward.backends.redis` documents the layout and the guarantees.
"""

from __future__ import annotations

import secrets as _random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..core.cachekey import CacheKey
from ..core.entry import Entry
from ..core.secret import Secrets
from ..errors import BackendError
from .base import Clock, Stats
from .breaker import CircuitBreaker
from .codec import EntryCodec
from .connection import RedisOptions
from .layout import KeyLayout

# KEYS[1] the entry, KEYS[2..] generations; ARGV[i] a fresh token for KEYS[i + 1].
LOOKUP = """
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
ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
return 0
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_OWNER, _READY = 1, 2


def token() -> str:
    """A fresh generation (or lock) token: random, never 0."""
    return str(_random.randbits(62) + 1)


def generation(value: Any) -> int:
    """A stored generation; 0 (never stamped on an entry) if absent or not a number."""
    if not value:
        return 0
    try:
        return int(value)
    except ValueError:
        return 0


class Step(Enum):
    """What a single-flight caller does after one ``ACQUIRE``."""

    LEAD = "lead"  # compute, then release the lock
    GO = "go"  # go on without the lock (waited: look up again)
    RELEASE_AND_GO = "release-and-go"  # took a lock it does not need: free it, go on
    WAIT = "wait"  # sleep ``delay`` and try again


@dataclass
class Flight:
    """One caller's single-flight attempt on one key."""

    lock: str
    keys: list[str]
    args: list[str]
    deadline: float
    delay: float
    poll_max: float
    waited: bool = False

    def backoff(self) -> float:
        """The delay to sleep now; the next one doubles (up to ``poll_max``)."""
        delay = self.delay
        self.delay = min(delay * 2, self.poll_max)
        return delay


class RedisBase(KeyLayout):
    """The state and the I/O-free steps of a Redis backend (sync or async)."""

    stats: Stats
    clock: Clock
    _monotonic: Clock

    def _configure(self, options: RedisOptions, cluster: bool, name: str, secrets: Secrets) -> None:
        self.prefix = options.prefix
        self.cluster = cluster
        self.generation_ttl = options.generation_ttl
        self.codec = EntryCodec(secrets, options.memo_bytes)
        self.breaker = CircuitBreaker(name, options.failure_threshold, options.reset_after)
        self._shared: dict[str, tuple[int, float]] = {}
        self._shared_lock = threading.Lock()
        self.poll_start = 0.002
        self.poll_max = 0.05

    # -- calling Redis ------------------------------------------------------------------

    def _refused(self) -> BackendError | None:
        """The error to raise instead of calling Redis while the circuit is open."""
        if self.breaker.allow():
            return None
        self.stats.extra["skipped"] = self.stats.extra.get("skipped", 0) + 1
        return BackendError(f"{self.breaker.name} is unavailable (circuit open)")

    def _failed(self, e: Exception) -> BackendError:
        """Count a failed call; the error to raise (every redis-py and cluster error,
        whatever its base)."""
        self.breaker.failure()
        self.stats.errors += 1
        return BackendError(f"{self.breaker.name}: {type(e).__name__}: {e}")

    # -- lookups ------------------------------------------------------------------------

    def _read_keys(self, key: CacheKey, tags: Sequence[str]) -> list[str]:
        """What one ``MGET`` reads: the entry and its generations (in a Cluster, the
        scope's only: the others come from :meth:`_shared_names`)."""
        scope_gen = self._scope(key.scope) + ":g"
        if self.cluster:
            return [self._entry_key(key), scope_gen]
        return [self._entry_key(key), self._global_key(), scope_gen, *map(self._tag_key, tags)]

    def _shared_names(self, tags: Sequence[str]) -> list[str]:
        """(Cluster) the global and tag generations, on other slots."""
        return [self._global_key(), *map(self._tag_key, tags)]

    @staticmethod
    def _generations(
        values: list[Any], shared: list[int] | None
    ) -> tuple[bytes | None, tuple[int, ...]]:
        """The raw entry and the generations ``(global, scope, *tags)``."""
        if shared is not None:
            return values[0], (shared[0], generation(values[1]), *shared[1:])
        return values[0], tuple(generation(v) for v in values[1:])

    def _shared_fresh(self, name: str, now: float) -> tuple[int, float] | None:
        """(Cluster) a cached shared generation if younger than ``generation_ttl``."""
        cached = self._shared.get(name)
        if cached is None or now - cached[1] >= self.generation_ttl:
            return None
        return cached

    def _remember_shared(self, name: str, value: Any, now: float) -> int:
        made = generation(value)
        with self._shared_lock:
            self._shared[name] = (made, now)
        return made

    def _entry_of(self, key: CacheKey, blob: bytes) -> Entry | None:
        """The entry ``blob`` holds, if this app signed it for ``key``'s scope."""
        entry = self.codec.decode(key.digest, blob, self.stats)
        if entry is None or entry.scope != key.scope:
            return None
        return entry

    def _fresh(self, entry: Entry, stamped: tuple[int, ...]) -> bool:
        """Whether ``entry`` may be served: stamped with the current generations (all
        known) and not expired by the backend's clock."""
        return entry.generation == stamped and 0 not in stamped and entry.expires() > self.clock()

    # -- stores and purges --------------------------------------------------------------

    def _encoded(self, key: CacheKey, entry: Entry) -> tuple[str, bytes, int] | None:
        """The entry's name, bytes and Redis expiry (ms), or ``None`` (counted as
        rejected) for an entry that could never be served."""
        gens = entry.generation
        remaining = entry.expires() - self.clock()
        if len(gens) != 2 + len(entry.tags) or 0 in gens or remaining <= 0:
            # Stamped while a generation could not be read, or expired already.
            self.stats.rejected += 1
            return None
        try:
            blob = self.codec.encode(key.digest, entry)
        except ValueError:
            self.stats.rejected += 1
            return None
        return self._entry_key(key), blob, max(1, int(remaining * 1000))

    def _purge_names(self, scope: str | None, tag: str | None) -> list[str]:
        names = []
        if scope is not None:
            names.append(self._scope(scope) + ":g")
        if tag is not None:
            names.append(self._tag_key(tag))
        if not names:
            names.append(self._global_key())
        return names

    def _purged(self, name: str, value: str) -> None:
        """The purging process sees its own purge at once, in a Cluster too."""
        if name in self._shared:
            with self._shared_lock:
                self._shared[name] = (int(value), self._monotonic())

    # -- single flight ------------------------------------------------------------------

    def _flight(self, key: CacheKey, timeout: float, now: float) -> Flight:
        lock = f"{self._scope(key.scope)}:l:{key.digest}"
        px = str(max(1, int(timeout * 1000)))
        return Flight(
            lock=lock,
            keys=[lock, self._entry_key(key)],
            args=[token(), px],
            deadline=now + timeout,
            delay=self.poll_start,
            poll_max=self.poll_max,
        )

    def _step(self, flight: Flight, state: Any, now: float) -> Step:
        """What to do after an ``ACQUIRE`` answered ``state`` at ``now`` (monotonic)."""
        if state == _OWNER and flight.waited:
            # The leader finished without storing: go on without the lock, so that a
            # response nobody can store does not serialize every later request.
            self._flight_waited()
            return Step.RELEASE_AND_GO
        if state == _OWNER:
            return Step.LEAD
        flight.waited = True
        if state == _READY or now + flight.delay > flight.deadline:
            self._flight_waited()
            return Step.GO
        return Step.WAIT

    def _flight_waited(self) -> None:
        self.stats.extra["flight_waits"] = self.stats.extra.get("flight_waits", 0) + 1
