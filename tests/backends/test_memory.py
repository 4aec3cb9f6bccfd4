"""The memory backend's own promises: a byte limit, LRU order, TTL, thread safety."""

from __future__ import annotations

import threading
import time

from tests.support import FakeClock

from cacheward.backends.memory import MemoryBackend
from cacheward.core.cachekey import CacheKey
from cacheward.core.entry import Entry


def key(i: int, scope: str = "principal:x") -> CacheKey:
    return CacheKey(f"{i:040x}", scope, ())


def entry(
    body: bytes = b"x" * 1024, ttl: float = 60, generation=(0, 0), scope="principal:x", created=None
):
    made = time.time() if created is None else created
    return Entry(
        200, (("Content-Type", "text/plain"),), body, made, ttl, '"e"', scope, (), generation
    )


def test_byte_limit_holds_under_a_flood_of_distinct_keys():
    backend = MemoryBackend(limit=200_000)
    for i in range(5_000):
        backend.store(key(i), entry())
        assert backend.size <= backend.limit
    assert 100 < len(backend) < 200
    assert backend.stats.evictions == 5_000 - len(backend)


def test_least_recently_used_goes_first():
    one = entry().size() + 40
    backend = MemoryBackend(limit=one * 3)
    for i in range(3):
        backend.store(key(i), entry())
    assert backend.lookup(key(0)).entry is not None  # 0 is now the most recent
    backend.store(key(3), entry())
    assert backend.lookup(key(1)).entry is None
    assert backend.lookup(key(0)).entry is not None


def test_oversized_entry_is_refused_not_stored():
    backend = MemoryBackend(limit=2_000)
    backend.store(key(1), entry(b"x" * 5_000))
    assert len(backend) == 0 and backend.stats.rejected == 1


def test_expired_entries_are_misses():
    clock = FakeClock()
    backend = MemoryBackend(clock=clock)
    backend.store(key(1), entry(ttl=60, created=clock()))
    assert backend.lookup(key(1)).entry is not None
    clock.advance(60)
    assert backend.lookup(key(1)).entry is None
    assert len(backend) == 0  # dropped, not kept around


def test_purge_is_generation_based():
    backend = MemoryBackend()
    gen = backend.lookup(key(1)).generation
    backend.store(key(1), entry(generation=gen))
    backend.store(key(2, "principal:y"), entry(generation=gen, scope="principal:y"))
    backend.purge(scope="principal:x")
    assert backend.lookup(key(1)).entry is None
    assert backend.lookup(key(2, "principal:y")).entry is not None
    # An entry stamped before a purge stays invalid even if stored after it.
    backend.store(key(1), entry(generation=gen))
    assert backend.lookup(key(1)).entry is None


def test_concurrent_use_keeps_accounting_exact():
    backend = MemoryBackend(limit=300_000)

    def worker(base: int) -> None:
        for i in range(500):
            backend.store(key(base + i % 50), entry())
            backend.lookup(key(base + (i * 7) % 50))

    threads = [threading.Thread(target=worker, args=(n * 1000,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert backend.size == sum(size for _, size in backend._entries.values())
    assert backend.size <= backend.limit
