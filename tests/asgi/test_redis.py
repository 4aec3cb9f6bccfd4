"""The async Redis and Redis Cluster backend, the async key stores, and invariants 6 and
7 on ASGI, against real redis-server processes."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import redis
from tests.support import free_port

from cacheward.asgi import AsyncRedisKeyStore, ThreadedKeyStore
from cacheward.asgi.redis import AsyncRedisBackend
from cacheward.core.cachekey import CacheKey
from cacheward.core.entry import Entry
from cacheward.core.secret import Secrets
from cacheward.keys import MemoryKeyStore, RedisKeyStore, SQLiteKeyStore
from cacheward.testing import assert_no_cross_key_leak_async

from .asgiapp import SECRET, h, make_app

pytestmark = pytest.mark.anyio


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


@pytest.fixture(params=["redis", "cluster"])
def url(request) -> str:
    return request.getfixturevalue("redis_url" if request.param == "redis" else "cluster_url")


async def test_entries_are_shared_between_processes_and_scoped(url):
    app1, ward1, keys, runs1 = make_app(backend=url)
    app2, ward2, _, runs2 = make_app(backend=url, keys=keys.store)
    async with _client(app1) as c1, _client(app2) as c2:
        a = await c1.get("/me", headers=h(keys.alice))
        assert a.headers["cache-status"].endswith("stored")
        hit = await c2.get("/me", headers=h(keys.alice))
        assert hit.headers["cache-status"] == "cacheward; hit" and hit.json() == a.json()
        b = await c2.get("/me", headers=h(keys.bob))
        assert b.json()["principal"] == "bob"
        await ward1.purge(principal="alice")
        again = await c2.get("/me", headers=h(keys.alice))
        assert again.headers["cache-status"].endswith("stored")
        await assert_no_cross_key_leak_async(
            c1, "/me", {"alice": keys.alice, "bob": keys.bob}, denied=[keys.reader]
        )
    await ward1.state.backend.close()
    await ward2.state.backend.close()


async def test_a_tampered_or_foreign_entry_is_a_miss_never_served(redis_url):
    app, ward, keys, runs = make_app(backend=redis_url)
    async with _client(app) as c:
        first = await c.get("/me", headers=h(keys.alice))
        assert first.headers["cache-status"].endswith("stored")
        with redis.Redis.from_url(redis_url) as raw:
            (name,) = [k for k in raw.keys("*:e:*")]
            blob = raw.get(name)
            raw.set(name, blob.replace(b"alice", b"mallory"))
            poisoned = await c.get("/me", headers=h(keys.alice))
            assert poisoned.json()["principal"] == "alice"
            assert poisoned.json()["run"] != first.json()["run"]  # recomputed
            raw.set(name, b"\x80\x04pickle")
            assert (await c.get("/me", headers=h(keys.alice))).status_code == 200
    assert ward.state.backend.stats.rejected >= 2
    await ward.state.backend.close()


async def test_backend_down_serves_uncached_never_unauthenticated():
    dead = f"redis://127.0.0.1:{free_port()}/0"
    app, ward, keys, runs = make_app(backend=dead)
    async with _client(app) as c:
        for _ in range(3):
            r = await c.get("/me", headers=h(keys.alice))
            assert r.status_code == 200 and "backend-unavailable" in r.headers["cache-status"]
        assert (await c.get("/me")).status_code == 401
    assert runs["me"] == 3
    assert ward.stats()["backend_errors"] >= 1


async def test_single_flight_runs_a_miss_once(url):
    secrets = Secrets(SECRET)
    # Generous timeouts: this tests coordination, not a loaded machine's latency.
    backend = AsyncRedisBackend.from_url(url, secrets, socket_timeout=2, connect_timeout=2)
    key = CacheKey("d" * 40, "principal:x", ())
    await backend.lookup(CacheKey("e" * 40, "principal:x", ()))  # the cluster's topology
    computed = 0

    async def caller() -> str:
        nonlocal computed
        found = await backend.lookup(key)
        if found.entry is not None:
            return "hit"
        async with backend.single_flight(key, 2.0) as waited:
            if waited:
                found = await backend.lookup(key)
                if found.entry is not None:
                    return "hit after wait"
            computed += 1
            await asyncio.sleep(0.05)
            entry = Entry(200, (), b"x", time.time(), 30, '"e"', key.scope, (), found.generation)
            await backend.store(key, entry)
            return "computed"

    results = await asyncio.gather(*(caller() for _ in range(8)))
    assert computed == 1, results
    await backend.close()


async def test_async_redis_key_store_sees_revocations_at_once(redis_url):
    sync = RedisKeyStore(redis_url)
    issued = sync.create("alice", ["reports:read"])
    store = AsyncRedisKeyStore(redis_url)
    app, ward, keys, _ = make_app(keys=store)
    async with _client(app) as c:
        assert (await c.get("/me", headers=h(issued.plaintext))).json()["principal"] == "alice"
        sync.revoke(issued.id)
        assert (await c.get("/me", headers=h(issued.plaintext))).status_code == 401
    await store.close()
    sync.close()


async def test_async_redis_key_store_down_is_503():
    store = AsyncRedisKeyStore(f"redis://127.0.0.1:{free_port()}/0")
    app, _, _, runs = make_app(keys=store)
    key = MemoryKeyStore().create("alice").plaintext
    async with _client(app) as c:
        r = await c.get("/me", headers=h(key))
    assert r.status_code == 503 and runs.get("me") is None


async def test_sqlite_verification_does_not_block_the_event_loop(tmp_path):
    store = SQLiteKeyStore(tmp_path / "keys.db")
    issued = store.create("alice", ["reports:read"])

    class Slow(SQLiteKeyStore):
        def verify(self, plaintext):
            time.sleep(0.3)  # a busy SQLite file: the wait happens in a worker thread
            return super().verify(plaintext)

    slow = Slow(tmp_path / "keys.db")
    ticks = 0

    async def ticker():
        nonlocal ticks
        for _ in range(10):
            await asyncio.sleep(0.01)
            ticks += 1

    threaded = ThreadedKeyStore(slow)
    principal, _ = await asyncio.gather(threaded.verify(issued.plaintext), ticker())
    assert principal is not None and principal.id == "alice"
    assert ticks == 10  # the loop kept running while SQLite was read
    app, _, _, _ = make_app(keys=store)  # a plain SQLiteKeyStore is offloaded the same way
    async with _client(app) as c:
        assert (await c.get("/me", headers=h(issued.plaintext))).json()["principal"] == "alice"
    store.close()
    slow.close()


async def test_generations_are_shared_with_the_flask_backend(redis_url):
    """Same layout: a purge made by the sync (Flask) backend invalidates ASGI entries."""
    from cacheward.backends.redis import RedisBackend

    app, ward, keys, runs = make_app(backend=redis_url)
    sync = RedisBackend.from_url(redis_url, Secrets(SECRET))
    async with _client(app) as c:
        await c.get("/me", headers=h(keys.alice))
        assert (await c.get("/me", headers=h(keys.alice))).headers["cache-status"].endswith("hit")
        sync.purge(scope=ward.state.principal_scope("alice"))
        again = await c.get("/me", headers=h(keys.alice))
        assert again.headers["cache-status"].endswith("stored")
        sync.purge()
        assert (await c.get("/me", headers=h(keys.alice))).headers["cache-status"].endswith(
            "stored"
        )
    assert runs["me"] == 3
    sync.close()
    await ward.state.backend.close()
