"""Redis Cluster: entries spread over the masters; a dead master degrades, never escapes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from test_backend_suite import key, put
from tests.support.redis import RedisCluster

from cacheward.backends.base import Lookup
from cacheward.backends.redis import RedisBackend
from cacheward.core.secret import Secrets
from cacheward.errors import BackendError

SOCKET_TIMEOUT = 0.25


@pytest.fixture
def own_cluster() -> Iterator[RedisCluster]:
    """A cluster of its own: this test kills one of its nodes."""
    cluster = RedisCluster()
    try:
        yield cluster.start()
    finally:
        cluster.cleanup()


def test_entries_spread_and_a_dead_master_degrades(
    own_cluster: RedisCluster, secrets: Secrets
) -> None:
    made = RedisBackend.from_url(
        own_cluster.url, secrets, socket_timeout=SOCKET_TIMEOUT, failure_threshold=1000
    )
    keys = [key("page", f"principal:{i:032x}") for i in range(30)]
    for k in keys:
        put(made, k)
    counts = []
    for node in own_cluster.nodes:
        with node.client() as client:
            counts.append(client.dbsize())
    assert all(c > 0 for c in counts), counts  # hash tags spread scopes over the slots

    own_cluster.nodes[1].kill()
    outcomes: list[str] = []
    for _ in range(2):
        for k in keys:
            began = time.monotonic()
            try:
                found = made.lookup(k)
                assert isinstance(found, Lookup)
                outcomes.append("hit" if found.entry is not None else "miss")
            except BackendError:
                outcomes.append("error")
            # Anything else than a Lookup or a BackendError fails the test here.
            assert time.monotonic() - began < SOCKET_TIMEOUT * 3  # never hangs
    assert "error" in outcomes
    assert made.stats.errors == outcomes.count("error")
    made.close()
