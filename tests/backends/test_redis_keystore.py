"""RedisKeyStore: keys shared by processes, revocation seen on the next verify."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator

import pytest
import redis
from tests.support import free_port

from cacheward.backends.connection import close_client
from cacheward.errors import KeyStoreError
from cacheward.keys import KeyStore, RedisKeyStore
from cacheward.keys import format as key_format


@pytest.fixture(params=["redis", "redis-cluster"])
def url(request: pytest.FixtureRequest) -> str:
    name = "redis_url" if request.param == "redis" else "cluster_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def store(url: str) -> Iterator[RedisKeyStore]:
    made = RedisKeyStore(url)
    yield made
    made.close()


def test_create_verify_list_revoke(store: RedisKeyStore) -> None:
    assert isinstance(store, KeyStore)
    issued = store.create("alice", scopes=["a:read"], tenant="t1", expires=None)
    other = store.create("bob")
    principal = store.verify(issued.plaintext)
    assert principal is not None
    assert (principal.id, principal.tenant, principal.scopes, principal.key_id) == (
        "alice",
        "t1",
        frozenset({"a:read"}),
        issued.id,
    )
    assert [r.id for r in store.list("alice")] == [issued.id]
    assert {r.id for r in store.list()} == {issued.id, other.id}
    assert store.revoke(issued.id) is True
    assert store.revoke(issued.id) is False
    assert store.revoke("nosuchkeyid0") is False
    assert store.verify(issued.plaintext) is None
    assert store.verify(other.plaintext) is not None


def test_only_digests_are_stored(url: str, store: RedisKeyStore) -> None:
    issued = store.create("alice")
    secret = issued.plaintext.split("_")[2]
    client = (
        redis.RedisCluster.from_url(url.replace("redis+cluster", "redis"))
        if "cluster" in url
        else redis.Redis.from_url(url)
    )
    try:
        dump = b"".join(
            b"".join(k + v for k, v in client.hgetall(n).items())
            for n in client.keys("*")
            if client.type(n) == b"hash"
        )
    finally:
        close_client(client)
    assert secret.encode() not in dump and issued.plaintext.encode() not in dump


def test_expired_and_wrong_secret_are_refused(store: RedisKeyStore) -> None:
    expired = store.create("alice", expires=1.0)
    assert store.verify(expired.plaintext) is None
    live = store.create("alice")
    forged = (
        live.plaintext[:-10] + ("A" if live.plaintext[-10] != "A" else "B") + live.plaintext[-9:]
    )
    assert store.verify(forged) is None


def _revoke_in_child(url: str, key_id: str) -> None:
    RedisKeyStore(url).revoke(key_id)


def _verify_in_child(url: str, plaintext: str) -> None:
    assert RedisKeyStore(url).verify(plaintext) is not None


def test_keys_and_revocation_cross_processes(url: str, store: RedisKeyStore) -> None:
    issued = store.create("alice")
    ctx = multiprocessing.get_context("spawn")
    for target, arg in ((_verify_in_child, issued.plaintext), (_revoke_in_child, issued.id)):
        proc = ctx.Process(target=target, args=(url, arg))
        proc.start()
        proc.join(30)
        assert proc.exitcode == 0
    assert store.verify(issued.plaintext) is None  # the very next verify


def test_store_down_fails_closed() -> None:
    store = RedisKeyStore(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(KeyStoreError):
        store.verify(key_format.generate()[0])
    with pytest.raises(KeyStoreError):
        store.create("alice")
    store.close()
