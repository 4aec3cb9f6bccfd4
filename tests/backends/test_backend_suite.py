"""One suite, every backend: memory, Redis and Redis Cluster (the ``backend`` fixture)."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import replace

from tests.support import FakeClock

from cacheward.backends.base import Backend
from cacheward.core.cachekey import CacheKey, build_cache_key
from cacheward.core.entry import Entry
from cacheward.core.facts import RequestFacts
from cacheward.core.policy import KeyPolicy
from cacheward.core.query import parse_query

ALICE = "principal:" + "a" * 32
BOB = "principal:" + "b" * 32


def key(name: str, scope: str = ALICE) -> CacheKey:
    """A key whose digest, like a real one, covers the scope."""
    digest = hashlib.blake2b(f"{name}\0{scope}".encode(), digest_size=20).hexdigest()
    return CacheKey(digest, scope, (("path", "/" + name),))


def entry_for(
    backend: Backend,
    k: CacheKey,
    body: bytes = b"body",
    ttl: float = 60.0,
    tags: tuple[str, ...] = (),
) -> Entry:
    """What the guard does on a miss: look up, then stamp the entry with the generations."""
    found = backend.lookup(k, tags)
    assert found.entry is None
    return Entry(
        200,
        (("Content-Type", "text/plain"),),
        body,
        backend.clock(),
        ttl,
        '"etag"',
        k.scope,
        tags,
        found.generation,
    )


def put(backend: Backend, k: CacheKey, body: bytes = b"body", **kw: object) -> Entry:
    entry = entry_for(backend, k, body, **kw)  # type: ignore[arg-type]
    backend.store(k, entry)
    return entry


def test_miss_then_store_then_hit(backend: Backend) -> None:
    k = key("a")
    entry = put(backend, k, b"hello")
    found = backend.lookup(k)
    assert found.entry == entry
    assert found.generation == entry.generation


def test_keys_do_not_share_entries(backend: Backend) -> None:
    put(backend, key("a"), b"alice")
    assert backend.lookup(key("b")).entry is None
    assert backend.lookup(key("a", BOB)).entry is None


def test_ttl_expiry(backend: Backend, clock: FakeClock) -> None:
    k = key("a")
    put(backend, k, ttl=30)
    assert backend.lookup(k).entry is not None
    clock.advance(29.9)
    assert backend.lookup(k).entry is not None
    clock.advance(0.2)
    assert backend.lookup(k).entry is None


def test_an_entry_already_expired_by_the_clock_is_not_stored(
    backend: Backend, clock: FakeClock
) -> None:
    k = key("late")
    entry = entry_for(backend, k, ttl=5)
    clock.advance(6)  # the view took longer than the TTL
    backend.store(k, entry)
    assert backend.lookup(k).entry is None


def test_purge_by_scope(backend: Backend) -> None:
    a, b = key("x", ALICE), key("x", BOB)
    put(backend, a, b"alice")
    put(backend, b, b"bob")
    backend.purge(scope=ALICE)
    assert backend.lookup(a).entry is None
    found = backend.lookup(b).entry
    assert found is not None and found.body == b"bob"


def test_purge_by_tag(backend: Backend) -> None:
    tagged, plain = key("t"), key("p")
    put(backend, tagged, tags=("orders",))
    put(backend, plain)
    backend.purge(tag="orders")
    assert backend.lookup(tagged, ("orders",)).entry is None
    assert backend.lookup(plain).entry is not None


def test_purge_everything(backend: Backend) -> None:
    a, b = key("x", ALICE), key("y", BOB)
    put(backend, a)
    put(backend, b, tags=("t",))
    backend.purge()
    assert backend.lookup(a).entry is None
    assert backend.lookup(b, ("t",)).entry is None


def test_entries_stored_after_a_purge_are_served(backend: Backend) -> None:
    k = key("a")
    put(backend, k, b"old")
    backend.purge(scope=ALICE)
    put(backend, k, b"new")
    found = backend.lookup(k).entry
    assert found is not None and found.body == b"new"


def test_generations_change_on_purge(backend: Backend) -> None:
    k = key("a")
    before = backend.lookup(k, ("t",)).generation
    assert len(before) == 3
    backend.purge(scope=ALICE)
    after_scope = backend.lookup(k, ("t",)).generation
    assert after_scope[0] == before[0] and after_scope[1] != before[1]
    assert after_scope[2] == before[2]
    backend.purge(tag="t")
    after_tag = backend.lookup(k, ("t",)).generation
    assert after_tag[:2] == after_scope[:2] and after_tag[2] != after_scope[2]
    backend.purge()
    assert backend.lookup(k, ("t",)).generation[0] != after_tag[0]


def test_entry_computed_across_a_purge_is_never_served(backend: Backend) -> None:
    """A view that started before a purge must not store what it read before it."""
    k = key("a")
    stale = entry_for(backend, k, b"computed before the purge")
    backend.purge(scope=ALICE)
    backend.store(k, stale)
    assert backend.lookup(k).entry is None


def test_entry_with_other_tags_than_the_route_still_checks_its_own(backend: Backend) -> None:
    k = key("a")
    put(backend, k, tags=("old-tag",))
    backend.purge(tag="old-tag")
    assert backend.lookup(k, ("new-tag",)).entry is None


def test_head_and_get_share_one_key(backend: Backend) -> None:
    def facts(method: str) -> RequestFacts:
        return RequestFacts(method, "https", "api.example", "/items", "a=1", {})

    policy = KeyPolicy()
    get_key, _ = build_cache_key(facts("GET"), parse_query("a=1"), policy, ALICE)
    head_key, _ = build_cache_key(facts("HEAD"), parse_query("a=1"), policy, ALICE)
    assert get_key == head_key
    entry = put(backend, get_key, b"from GET")
    assert backend.lookup(head_key).entry == entry


def test_single_flight_runs_the_view_once(backend: Backend) -> None:
    k = key("cold")
    runs: list[int] = []
    bodies: list[bytes] = []
    start = threading.Barrier(10)

    def request() -> None:
        start.wait()
        found = backend.lookup(k)
        if found.entry is None:
            with backend.single_flight(k, timeout=5.0):
                found = backend.lookup(k)
                if found.entry is None:
                    runs.append(1)
                    time.sleep(0.2)  # the view
                    entry = replace(
                        Entry(200, (), b"once", backend.clock(), 60, "", k.scope),
                        generation=found.generation,
                    )
                    backend.store(k, entry)
                    bodies.append(entry.body)
                    return
        assert found.entry is not None
        bodies.append(found.entry.body)

    threads = [threading.Thread(target=request) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(runs) == 1
    assert bodies == [b"once"] * 10


def test_single_flight_gives_way_after_timeout(backend: Backend) -> None:
    k = key("slow")
    held = threading.Event()
    release = threading.Event()

    def owner() -> None:
        with backend.single_flight(k, timeout=5.0):
            held.set()
            release.wait(5)

    t = threading.Thread(target=owner)
    t.start()
    assert held.wait(5)
    try:
        # A follower whose leader never finishes goes on (``True``: it waited) while
        # the leader still holds the flight, rather than queueing behind it.
        with backend.single_flight(k, timeout=0.3) as waited:
            still_held = not release.is_set() and t.is_alive()
    finally:
        release.set()
        t.join(5)
    assert waited is True
    assert still_held


def test_stats(backend: Backend) -> None:
    k = key("a")
    put(backend, k)
    backend.lookup(k)
    backend.lookup(k)
    stats = backend.stats.as_dict()
    assert (stats["hits"], stats["misses"], stats["stores"]) == (2, 1, 1)
    assert stats["rejected"] == 0 and stats["errors"] == 0
