"""Redis faults (invariant 7): the cache's Redis stopped, killed and restarted mid-traffic,
slowed (``DEBUG SLEEP`` on the server), a Cluster node killed; and a Redis key store
slowed past its timeouts. The API keeps answering (uncached, or 503 when the *key store*
is gone), authentication never fails open, no response is mixed up, and the cache comes
back on its own (the circuit breaker's trial call) once Redis does.

Same three phases and oracle as ``test_faults_keystore.py``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from tests.reliability.loadapp import SECRET, create_app
from tests.reliability.oracle import (
    Caller,
    Figures,
    bad_callers,
    drive,
    population,
    revoke,
)
from tests.reliability.test_faults_keystore import SIZES, assert_safe, record, sender
from tests.support.redis import RedisCluster, RedisServer

from cacheward.backends.redis import RedisBackend
from cacheward.core.secret import Secrets
from cacheward.keys import SQLiteKeyStore
from cacheward.keys.store import KeyStore

#: The breaker's pause before a trial call; short, so that recovery fits in the test.
RESET_AFTER = 0.5


def backend_for(url: str) -> RedisBackend:
    return RedisBackend.from_url(url, Secrets(SECRET), reset_after=RESET_AFTER)


def run(
    name: str,
    keys: KeyStore,
    backend: RedisBackend,
    fault: contextlib.AbstractContextManager[object],
    size: tuple[int, int],
    *,
    cache_fault: bool = True,
) -> dict[str, Figures]:
    requests, threads = size
    app = create_app(keys=keys, backend=backend)
    ward = app.extensions["cacheward_ward"]
    callers = population(keys, 40, tenants=5)
    everyone: list[Caller] = callers + bad_callers(callers)
    send = sender(app)
    phases = {p: Figures() for p in ("before", "during", "after")}
    errors = {}
    revoke(keys, callers[0])
    drive(send, everyone, phases["before"], requests=requests, threads=threads, seconds=120)
    errors["before"] = ward.stats(app)["backend_errors"]
    with fault:
        revoke(keys, callers[1])  # its entries may sit in Redis from before the fault
        drive(send, everyone, phases["during"], requests=requests, threads=threads, seconds=120)
    errors["during"] = ward.stats(app)["backend_errors"] - errors["before"]
    time.sleep(RESET_AFTER * 2)  # the breaker's trial call is due
    drive(send, everyone, phases["after"], requests=requests, threads=threads, seconds=120)
    errors["after"] = ward.stats(app)["backend_errors"] - errors["during"] - errors["before"]
    record(name, phases, backend_errors=errors)
    assert_safe(phases["before"], allow_503=False)
    # A cache fault must not cost a single 503: the key store is elsewhere.
    assert_safe(phases["during"], allow_503=not cache_fault, serves=cache_fault)
    assert_safe(phases["after"], allow_503=False)
    assert phases["before"].hits > 0
    assert phases["after"].hits > 0, "the cache did not come back by itself"
    return phases


@pytest.fixture
def sqlite_keys(tmp_path: Path) -> Iterator[SQLiteKeyStore]:
    store = SQLiteKeyStore(tmp_path / "keys.db")
    yield store
    store.close()


@pytest.fixture
def server() -> Iterator[Any]:
    started = RedisServer("--enable-debug-command", "yes").start()
    try:
        yield started
    finally:
        started.cleanup()


@contextlib.contextmanager
def stopped(server: Any) -> Iterator[None]:
    server.stop()
    try:
        yield
    finally:
        server.start()


@contextlib.contextmanager
def killed_and_restarted(server: Any, after: float = 0.1) -> Iterator[None]:
    """SIGKILL while traffic flows, and a restart (empty: no persistence) right after."""

    def crash() -> None:
        time.sleep(after)
        server.kill()
        time.sleep(after)
        server.start()

    thread = threading.Thread(target=crash, daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join(timeout=30)


@contextlib.contextmanager
def slowed(server: Any, sleep: float = 0.4) -> Iterator[None]:
    """The server blocks in ``DEBUG SLEEP`` most of the time (past every timeout)."""
    stop = threading.Event()

    def sleeper() -> None:
        with redis.Redis.from_url(server.url, socket_timeout=sleep + 5) as client:
            while not stop.is_set():
                client.execute_command("DEBUG", "SLEEP", str(sleep))
                time.sleep(0.01)

    thread = threading.Thread(target=sleeper, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


@pytest.mark.parametrize("size", SIZES)
def test_redis_stopped(server: Any, sqlite_keys: SQLiteKeyStore, size: tuple[int, int]) -> None:
    backend = backend_for(server.url)
    try:
        run("redis-stopped", sqlite_keys, backend, stopped(server), size)
    finally:
        backend.close()


@pytest.mark.parametrize("size", SIZES)
def test_redis_killed_and_restarted(
    server: Any, sqlite_keys: SQLiteKeyStore, size: tuple[int, int]
) -> None:
    backend = backend_for(server.url)
    try:
        run("redis-restarted", sqlite_keys, backend, killed_and_restarted(server), size)
    finally:
        backend.close()


@pytest.mark.parametrize("size", SIZES)
def test_redis_slowed(server: Any, sqlite_keys: SQLiteKeyStore, size: tuple[int, int]) -> None:
    backend = backend_for(server.url)
    try:
        run("redis-slowed", sqlite_keys, backend, slowed(server), size)
    finally:
        backend.close()


@pytest.mark.parametrize("size", SIZES)
def test_cluster_node_killed(sqlite_keys: SQLiteKeyStore, size: tuple[int, int]) -> None:
    cluster = RedisCluster().start()

    @contextlib.contextmanager
    def node_down() -> Iterator[None]:
        cluster.nodes[1].kill()
        try:
            yield
        finally:
            cluster.nodes[1].start()
            cluster._wait_ok()

    backend = backend_for(cluster.url)
    try:
        run("cluster-node-killed", sqlite_keys, backend, node_down(), size)
    finally:
        backend.close()
        cluster.cleanup()


@pytest.mark.parametrize("size", SIZES)
def test_redis_key_store_slowed(server: Any, size: tuple[int, int]) -> None:
    """Keys in Redis, and Redis stuck: 503 (or 401 for bad keys), never a 200 it could
    not verify; the cache is in memory so that only the key store fails."""
    from cacheward.backends.memory import MemoryBackend
    from cacheward.keys import RedisKeyStore

    keys = RedisKeyStore(server.url)
    try:
        requests, threads = size
        app = create_app(keys=keys, backend=MemoryBackend())
        callers = population(keys, 40, tenants=5)
        everyone: list[Caller] = callers + bad_callers(callers)
        send = sender(app)
        phases = {p: Figures() for p in ("before", "during", "after")}
        drive(send, everyone, phases["before"], requests=requests, threads=threads, seconds=120)
        with slowed(server):
            drive(send, everyone, phases["during"], requests=requests, threads=threads, seconds=120)
        time.sleep(1.0)
        drive(send, everyone, phases["after"], requests=requests, threads=threads, seconds=120)
        record("redis-key-store-slowed", phases)
        assert_safe(phases["before"], allow_503=False)
        assert_safe(phases["during"], allow_503=True, serves=False)
        assert phases["during"].statuses[503] > 0, "the fault did not reach the key store"
        assert_safe(phases["after"], allow_503=False)
    finally:
        keys.close()
