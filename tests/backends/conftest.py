"""Fixtures for the backend suites: one ``backend`` fixture, three stores behind it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from tests.support import FakeClock
from tests.support.redis import RedisCluster, RedisServer

from cacheward.backends.base import Backend
from cacheward.backends.memory import MemoryBackend
from cacheward.backends.redis import RedisBackend
from cacheward.core.secret import Secrets

SECRET = "test-secret-0123456789abcdef"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    cluster = RedisCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.cleanup()


@pytest.fixture
def secrets() -> Secrets:
    return Secrets(SECRET)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    with redis_server.client() as client:
        client.flushall()
    yield redis_server.url


@pytest.fixture
def cluster_url(redis_cluster: RedisCluster) -> Iterator[str]:
    redis_cluster.flushall()
    yield redis_cluster.url


@pytest.fixture
def clock() -> FakeClock:
    """The ``backend``'s clock: tests advance it instead of sleeping out a TTL."""
    return FakeClock()


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
def backend(
    request: pytest.FixtureRequest, secrets: Secrets, clock: FakeClock
) -> Iterator[Backend]:
    """The backend under test, on :func:`clock`; every test taking it runs once per store."""
    made: Backend
    if request.param == "memory":
        made = MemoryBackend(clock=clock)
    elif request.param == "redis":
        made = RedisBackend.from_url(request.getfixturevalue("redis_url"), secrets, clock=clock)
    else:
        url = request.getfixturevalue("cluster_url")
        made = RedisBackend.from_url(url, secrets, clock=clock)
    yield made
    made.close()


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """Collect after each test, so that a socket someone forgot to close is reported
    against the test that leaked it rather than at the end of the session."""
    yield
    gc.collect()
