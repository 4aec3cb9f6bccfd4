"""Attempts to break the Redis backend: forged entries, pickles, dead servers, processes."""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from test_backend_suite import ALICE, BOB, entry_for, key, put
from tests.support import FakeClock
from tests.support.redis import RedisServer

from cacheward.backends.connection import close_client
from cacheward.backends.redis import RedisBackend
from cacheward.backends.url import backend_from_url
from cacheward.core.secret import Secrets
from cacheward.errors import BackendError, ConfigurationError

SECRET = "test-secret-0123456789abcdef"


@pytest.fixture(params=["redis", "redis-cluster"])
def url(request: pytest.FixtureRequest) -> str:
    name = "redis_url" if request.param == "redis" else "cluster_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def backend(url: str, secrets: Secrets) -> Iterator[RedisBackend]:
    made = RedisBackend.from_url(url, secrets)
    yield made
    made.close()


@pytest.fixture
def raw(url: str) -> Iterator[redis.Redis | redis.RedisCluster]:
    """A plain client on the same store: what another service sharing it could do."""
    client: redis.Redis | redis.RedisCluster
    if url.startswith("redis+cluster://"):
        client = redis.RedisCluster.from_url(url.replace("redis+cluster", "redis"))
    else:
        client = redis.Redis.from_url(url)
    yield client
    close_client(client)


class Boom:
    """Unpickling this creates ``path``: proof that someone called pickle.loads."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.path, "w"))


def test_tampered_entry_is_refused(backend: RedisBackend, raw: Any) -> None:
    k = key("a")
    put(backend, k, b"genuine")
    client = raw
    name = backend._entry_key(k)
    blob = bytearray(client.get(name))
    blob[blob.index(b"genuine")] = ord("G")
    client.set(name, bytes(blob))
    assert backend.lookup(k).entry is None
    assert backend.stats.extra["rejected_tag"] == 1


def test_redis_expires_each_entry_itself_by_its_remaining_lifetime(
    url: str, secrets: Secrets, raw: Any
) -> None:
    """The server-side expiry (``PX``) matches the clock's view of the entry, so Redis
    drops what the backend would no longer serve, without a test waiting for it."""
    clock = FakeClock()
    made = RedisBackend.from_url(url, secrets, clock=clock)
    try:
        fresh, late = key("fresh"), key("late")
        put(made, fresh, ttl=30)
        stale = entry_for(made, late, ttl=30)
        clock.advance(20)  # the view of `late` ran for 20 of its 30 seconds
        made.store(late, stale)
        assert 29_000 < raw.pttl(made._entry_key(fresh)) <= 30_000
        assert 9_000 < raw.pttl(made._entry_key(late)) <= 10_000
    finally:
        made.close()


def test_pickle_payload_is_never_unpickled(backend: RedisBackend, raw: Any, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    k = key("a")
    payload = pickle.dumps(Boom(str(marker)))
    pickle.loads(pickle.dumps(Boom(str(tmp_path / "control")))).close()  # noqa: S301 - proves the payload works
    assert (tmp_path / "control").exists()
    client = raw
    for blob in (payload, b"!" + payload, b"CW\x01" + payload):  # bare, Flask-Caching, ours
        client.set(backend._entry_key(k), blob)
        assert backend.lookup(k).entry is None
    assert not marker.exists()
    assert backend.stats.rejected == 3


def test_entry_swapped_between_keys_is_refused(backend: RedisBackend, raw: Any) -> None:
    a, b = key("a"), key("b")
    put(backend, a, b"for a")
    put(backend, b, b"for b")
    client = raw
    client.set(backend._entry_key(b), client.get(backend._entry_key(a)))
    assert backend.lookup(b).entry is None
    found = backend.lookup(a).entry
    assert found is not None and found.body == b"for a"


def test_entry_signed_with_another_secret_is_refused(url: str, backend: RedisBackend) -> None:
    k = key("a")
    other = RedisBackend.from_url(url, Secrets("another-app-secret-0123456789"))
    put(other, k, b"foreign")
    assert backend.lookup(k).entry is None
    other.close()


def test_garbage_in_a_generation_key_never_serves(
    url: str, backend: RedisBackend, raw: Any
) -> None:
    k = key("a")
    put(backend, k)
    raw.set(backend._scope(ALICE) + ":g", b"not a number")
    assert backend.lookup(k).entry is None
    entry = put(backend, k)  # stamped with generation 0: refused, never served
    assert 0 in entry.generation
    assert backend.lookup(k).entry is None


def test_options_from_url(redis_url: str, secrets: Secrets) -> None:
    made = backend_from_url(redis_url + "?prefix=app1&socket_timeout=0.1", secrets)
    assert isinstance(made, RedisBackend) and made.prefix == "app1"
    put(made, key("a"))
    with redis.Redis.from_url(redis_url) as client:
        names = [n.decode() for n in client.keys("*")]
    assert names and all(n.startswith("{app1:") for n in names)
    made.close()
    with pytest.raises(ConfigurationError):
        RedisBackend.from_url(redis_url + "?socket_timeout=soon", secrets)
    with pytest.raises(ConfigurationError):
        RedisBackend.from_url(redis_url, secrets, prefix="no spaces")


def test_nothing_listening_raises_backend_error_quickly(secrets: Secrets) -> None:
    from tests.support import free_port

    made = RedisBackend.from_url(f"redis://127.0.0.1:{free_port()}/0", secrets)
    began = time.monotonic()
    with pytest.raises(BackendError):
        made.lookup(key("a"))
    assert time.monotonic() - began < 0.75
    made.close()


def test_killed_server_degrades_then_recovers(
    secrets: Secrets, caplog: pytest.LogCaptureFixture
) -> None:
    server = RedisServer().start()
    try:
        made = RedisBackend.from_url(
            server.url, secrets, failure_threshold=3, reset_after=0.5, socket_timeout=0.25
        )
        k = key("a")
        put(made, k)
        assert made.lookup(k).entry is not None
        server.kill()
        with caplog.at_level(logging.WARNING, logger="cacheward.backends"):
            for _ in range(10):
                began = time.monotonic()
                with pytest.raises(BackendError):
                    made.lookup(k)
                assert time.monotonic() - began < 0.25 * 3  # never hangs
            assert made.stats.errors == 3 and made.stats.extra["skipped"] == 7
            server.start()
            deadline = time.monotonic() + 5
            while True:
                try:
                    found = made.lookup(k)
                    break
                except BackendError:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
        assert found.entry is None  # the restarted server kept nothing
        put(made, k)
        assert made.lookup(k).entry is not None
        messages = [r.getMessage() for r in caplog.records]
        assert sum("failed 3 times" in m for m in messages) == 1
        assert sum("reachable again" in m for m in messages) == 1
        made.close()
    finally:
        server.cleanup()


def _purge_in_child(url: str, scope: str) -> None:
    made = RedisBackend.from_url(url, Secrets(SECRET))
    made.purge(scope=scope)


def _store_in_child(url: str) -> None:
    made = RedisBackend.from_url(url, Secrets(SECRET))
    put(made, key("from-child"), b"child")


def _run(target: object, *args: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=target, args=args)
    proc.start()
    proc.join(30)
    assert proc.exitcode == 0


def test_entries_and_purges_cross_processes(url: str, backend: RedisBackend) -> None:
    _run(_store_in_child, url)
    found = backend.lookup(key("from-child")).entry
    assert found is not None and found.body == b"child"
    a, b = key("x", ALICE), key("x", BOB)
    put(backend, a)
    put(backend, b)
    _run(_purge_in_child, url, ALICE)
    assert backend.lookup(a).entry is None  # the very next lookup
    assert backend.lookup(b).entry is not None


def test_cluster_global_purge_staleness_is_bounded(cluster_url: str, secrets: Secrets) -> None:
    ticks = FakeClock(0.0)  # the readers' monotonic clock, advanced by hand
    reader = RedisBackend.from_url(cluster_url, secrets, generation_ttl=0.3, monotonic=ticks)
    purger = RedisBackend.from_url(cluster_url, secrets, generation_ttl=0.3, monotonic=ticks)
    k = key("a")
    put(reader, k, tags=("t",))
    assert reader.lookup(k, ("t",)).entry is not None
    purger.purge()
    assert purger.lookup(k, ("t",)).entry is None  # the purging process: at once
    ticks.advance(0.3)
    assert reader.lookup(k, ("t",)).entry is None  # any other: within generation_ttl
    put(reader, k, tags=("t",))
    purger.purge(tag="t")
    ticks.advance(0.3)
    assert reader.lookup(k, ("t",)).entry is None
    reader.close()
    purger.close()
