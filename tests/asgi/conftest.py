"""Fixtures for the ASGI guard's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from .asgiapp import make_app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def guarded():
    return make_app()


@pytest.fixture
def client(guarded) -> Iterator[TestClient]:
    app = guarded[0]
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def redis_server():
    from tests.support.redis import RedisServer

    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def redis_cluster():
    from tests.support.redis import RedisCluster

    cluster = RedisCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.cleanup()


@pytest.fixture
def redis_url(redis_server) -> str:
    with redis_server.client() as c:
        c.flushall()
    return redis_server.url


@pytest.fixture
def cluster_url(redis_cluster) -> str:
    redis_cluster.flushall()
    return redis_cluster.url
