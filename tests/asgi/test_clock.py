"""Time is a parameter of the async backends and key stores (``clock=``, as the sync
backends): entries expire by the backend's clock, keys by the store's, and tests advance
a :class:`~tests.support.FakeClock` instead of sleeping out a TTL. Against the memory
backend and real redis-server processes (standalone and Cluster)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.support import FakeClock

from cacheward.asgi import AsyncBackend, AsyncMemoryBackend, AsyncRedisKeyStore
from cacheward.asgi.redis import AsyncRedisBackend
from cacheward.core.cachekey import CacheKey
from cacheward.core.entry import Entry
from cacheward.core.secret import Secrets
from cacheward.keys import RedisKeyStore

from .asgiapp import SECRET, h, make_app

pytestmark = pytest.mark.anyio

SCOPE = "principal:" + "a" * 32


def _key(name: str) -> CacheKey:
    digest = hashlib.blake2b(f"{name}\0{SCOPE}".encode(), digest_size=20).hexdigest()
    return CacheKey(digest, SCOPE, (("path", "/" + name),))


@pytest.fixture
def clock() -> FakeClock:
    # Far from the real time: the guard must stamp entries and Age by the backend's clock.
    return FakeClock(1_600_000_000.0)


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
async def backend(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[AsyncBackend]:
    made: AsyncBackend
    if request.param == "memory":
        made = AsyncMemoryBackend(clock=clock)
    else:
        fixture = "redis_url" if request.param == "redis" else "cluster_url"
        url = request.getfixturevalue(fixture)
        made = AsyncRedisBackend.from_url(url, Secrets(SECRET), clock=clock)
    yield made
    await made.close()


async def _entry(backend: AsyncBackend, k: CacheKey, ttl: float) -> Entry:
    """What the guard does on a miss: look up, stamp with the generations and the clock."""
    found = await backend.lookup(k)
    assert found.entry is None
    return Entry(200, (), b"body", backend.clock(), ttl, '"e"', k.scope, (), found.generation)


async def test_an_entry_expires_by_the_backends_clock(backend, clock):
    assert backend.clock is clock
    k = _key("ttl")
    await backend.store(k, await _entry(backend, k, 30))
    assert (await backend.lookup(k)).entry is not None
    clock.advance(29.9)
    assert (await backend.lookup(k)).entry is not None
    clock.advance(0.2)
    assert (await backend.lookup(k)).entry is None


async def test_an_entry_already_expired_by_the_clock_is_not_stored(backend, clock):
    k = _key("late")
    entry = await _entry(backend, k, 5)
    clock.advance(6)  # the endpoint took longer than the TTL
    await backend.store(k, entry)
    assert (await backend.lookup(k)).entry is None


async def test_the_default_clock_is_the_epoch_clock():
    assert AsyncMemoryBackend().clock is time.time
    assert AsyncMemoryBackend().sync.clock is time.time


@pytest.fixture(params=["memory", "redis"])
def backend_url(request: pytest.FixtureRequest) -> str:
    return "memory://" if request.param == "memory" else request.getfixturevalue("redis_url")


async def test_a_routes_entry_expires_by_its_backends_clock(backend_url, clock):
    if backend_url == "memory://":
        backend: AsyncBackend = AsyncMemoryBackend(clock=clock)
    else:
        backend = AsyncRedisBackend.from_url(backend_url, Secrets(SECRET), clock=clock)
    app, ward, keys, runs = make_app(backend=backend)  # /me is cached for 60 s
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        first = await c.get("/me", headers=h(keys.alice))
        assert first.headers["cache-status"].endswith("stored")
        clock.advance(59)
        hit = await c.get("/me", headers=h(keys.alice))
        assert hit.headers["cache-status"] == "cacheward; hit"
        assert hit.json() == first.json()
        clock.advance(2)
        again = await c.get("/me", headers=h(keys.alice))
        assert again.headers["cache-status"].endswith("stored")
        assert again.json()["run"] != first.json()["run"]  # recomputed after the TTL
    assert runs["me"] == 2
    await backend.close()


async def test_a_redis_key_expires_by_the_stores_clock(redis_url, clock):
    sync = RedisKeyStore(redis_url)
    issued = sync.create("alice", ["reports:read"], expires=clock() + 30)
    store = AsyncRedisKeyStore(redis_url, clock=clock)
    principal = await store.verify(issued.plaintext)
    assert principal is not None and principal.id == "alice"
    record = sync.get(issued.id)
    assert record is not None and record.last_used == clock()  # stamped by the store's clock
    clock.advance(31)
    assert await store.verify(issued.plaintext) is None
    await store.close()
    sync.close()
