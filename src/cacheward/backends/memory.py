"""The in-memory backend: bounded by bytes, LRU + TTL, thread-safe, single-flight."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from ..core.cachekey import CacheKey
from ..core.entry import Entry
from .base import GLOBAL, Backend, Clock, Lookup, tag_generation_name

DEFAULT_LIMIT = 64 * 1024 * 1024


class MemoryBackend(Backend):
    """Entries in one process, bounded by ``limit`` bytes (least recently used go first).

    :param clock: see :class:`~cacheward.backends.base.Backend`.

    .. versionadded:: 0.1
    """

    name = "memory"

    def __init__(self, limit: int = DEFAULT_LIMIT, clock: Clock = time.time) -> None:
        super().__init__(clock)
        if limit <= 0:
            raise ValueError("the memory limit must be positive")
        self.limit = limit
        self.size = 0
        self._entries: OrderedDict[str, tuple[Entry, int]] = OrderedDict()
        self._generations: dict[str, int] = {}
        self._lock = threading.Lock()
        self._flights: dict[str, threading.Lock] = {}
        self._flights_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def _current(self, scope: str, tags: tuple[str, ...]) -> tuple[int, ...]:
        gens = self._generations
        return (
            gens.get(GLOBAL, 0),
            gens.get(scope, 0),
            *(gens.get(tag_generation_name(t), 0) for t in tags),
        )

    def lookup(self, key: CacheKey, tags: tuple[str, ...] = ()) -> Lookup:
        digest = key.digest
        with self._lock:
            found = self._entries.get(digest)
            if found is not None:
                entry = found[0]
                current = self._current(key.scope, entry.tags)
                if entry.generation == current and entry.created + entry.ttl > self.clock():
                    self._entries.move_to_end(digest)
                    self.stats.hits += 1
                    return Lookup(entry, current)
                self._drop(digest)
            self.stats.misses += 1
            return Lookup(None, self._current(key.scope, tags))

    def _drop(self, digest: str) -> None:
        entry, size = self._entries.pop(digest)
        self.size -= size

    def store(self, key: CacheKey, entry: Entry) -> None:
        size = entry.size() + len(key.digest)
        if size > self.limit:
            self.stats.rejected += 1
            return
        with self._lock:
            if key.digest in self._entries:
                self._drop(key.digest)
            while self.size + size > self.limit and self._entries:
                _, (_, old) = self._entries.popitem(last=False)
                self.size -= old
                self.stats.evictions += 1
            self._entries[key.digest] = (entry, size)
            self.size += size
            self.stats.stores += 1

    def delete(self, key: CacheKey) -> None:
        with self._lock:
            if key.digest in self._entries:
                self._drop(key.digest)

    def purge(self, *, scope: str | None = None, tag: str | None = None) -> None:
        with self._lock:
            names = []
            if scope is not None:
                names.append(scope)
            if tag is not None:
                names.append(tag_generation_name(tag))
            if not names:
                names.append(GLOBAL)
                self._entries.clear()
                self.size = 0
            for name in names:
                self._generations[name] = self._generations.get(name, 0) + 1

    @contextmanager
    def _flight(self, digest: str, timeout: float) -> Iterator[bool]:
        with self._flights_lock:
            lock = self._flights.setdefault(digest, threading.Lock())
        if lock.acquire(blocking=False):
            # The leader computes while the others wait.
            try:
                yield False
            finally:
                with self._flights_lock:
                    if self._flights.get(digest) is lock:
                        del self._flights[digest]
                lock.release()
            return
        # A follower: wait for the leader, then go on without holding anything, so that a
        # response the leader could not store does not serialize every later request.
        if lock.acquire(timeout=timeout):
            lock.release()
        yield True

    def single_flight(self, key: CacheKey, timeout: float = 5.0) -> AbstractContextManager[bool]:
        return self._flight(key.digest, timeout)
