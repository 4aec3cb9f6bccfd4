"""The data cache, ``memoize`` and one-entry deletes on every backend: memory, a real
``redis-server`` and a real Redis Cluster (the ``backend`` fixture)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, jsonify
from tests.backends.test_backend_suite import entry_for, key

from cacheward import Cacheward
from cacheward.backends.base import Backend
from cacheward.backends.memory import MemoryBackend
from cacheward.backends.redis import RedisBackend
from cacheward.keys import MemoryKeyStore

SECRET = "test-secret-0123456789abcdef"


def make(backend: Backend) -> tuple[Flask, Cacheward, MemoryKeyStore]:
    app = Flask("values")
    app.config.update(CACHEWARD_SECRET=SECRET, TESTING=True)
    store = MemoryKeyStore()
    return app, Cacheward(app, keys=store, backend=backend), store


def test_delete_removes_one_entry_only(backend: Backend) -> None:
    one, two = key("one"), key("two")
    backend.store(one, entry_for(backend, one))
    backend.store(two, entry_for(backend, two))
    backend.delete(one)
    backend.delete(key("never-stored"))
    assert backend.lookup(one).entry is None
    assert backend.lookup(two).entry is not None


def test_the_default_delete_invalidates_more_never_less() -> None:
    class NoDelete(MemoryBackend):
        delete = Backend.delete  # what a third-party backend inherits

    backend = NoDelete()
    one, two, other = key("one"), key("two"), key("x", "principal:" + "c" * 32)
    for k in (one, two, other):
        backend.store(k, entry_for(backend, k))
    backend.delete(one)
    assert backend.lookup(one).entry is None and backend.lookup(two).entry is None
    assert backend.lookup(other).entry is not None


def test_data_values_round_trip_and_delete(backend: Backend) -> None:
    app, ward, _ = make(backend)
    value: Any = {"ids": (1, 2), "tags": {"a"}, "blob": b"\x00", "n": None}
    with app.app_context():
        assert ward.data.set("v", value, 60, scope="shared")
        assert ward.data.set("v", "alice's", 60, principal="alice")
        assert ward.data.get("v", scope="shared") == value
        assert ward.data.get("v", principal="alice") == "alice's"
        assert ward.data.get("v", principal="bob") is None
        ward.data.delete("v", principal="alice")
        assert ward.data.get("v", principal="alice") is None
        assert ward.data.get("v", scope="shared") == value
        ward.data.clear()
        assert ward.data.get("v", scope="shared") is None


def test_a_tampered_value_in_redis_is_a_miss(backend: Backend) -> None:
    if not isinstance(backend, RedisBackend):
        pytest.skip("raw bytes in a shared store")
    app, ward, _ = make(backend)
    with app.app_context():
        ward.data.set("role", "user", 60, scope="shared")
        client = backend._conn.client()
        names = [n for n in _keys(client) if b":e:" in n]
        assert len(names) == 1
        raw = client.get(names[0])
        client.set(names[0], raw.replace(b"user", b"root"))
        assert ward.data.get("role", "miss", scope="shared") == "miss"
        client.set(names[0], b"\x80\x04pickle")  # what Flask-Caching would load
        assert ward.data.get("role", "miss", scope="shared") == "miss"
    assert backend.stats.rejected >= 2


def _keys(client: Any) -> list[bytes]:
    if hasattr(client, "get_nodes"):  # a cluster: every primary
        return [k for k in client.keys("*", target_nodes=client.PRIMARIES)]
    return list(client.keys("*"))


def test_memoize_and_delete_memoized(backend: Backend) -> None:
    app, ward, store = make(backend)
    runs: list[tuple[str, int]] = []

    @ward.memoize(60)
    def doc(doc_id: int) -> dict[str, object]:
        from cacheward import current_principal

        runs.append((current_principal.id, doc_id))
        return {"doc": doc_id, "owner": current_principal.id}

    @app.get("/doc/<int:doc_id>")
    @ward.protected()
    def view(doc_id: int):  # type: ignore[no-untyped-def]
        return jsonify(doc(doc_id))

    alice = store.create("alice").plaintext
    bob = store.create("bob").plaintext
    c = app.test_client()
    for _ in range(2):
        assert c.get("/doc/1", headers={"X-API-Key": alice}).get_json()["owner"] == "alice"
        assert c.get("/doc/1", headers={"X-API-Key": bob}).get_json()["owner"] == "bob"
    assert runs == [("alice", 1), ("bob", 1)]
    with app.app_context():
        ward.delete_memoized_for("alice", doc, 1)
    c.get("/doc/1", headers={"X-API-Key": alice})
    c.get("/doc/1", headers={"X-API-Key": bob})
    assert runs[2:] == [("alice", 1)]
    with app.app_context():
        ward.delete_memoized(doc)
    c.get("/doc/1", headers={"X-API-Key": bob})
    assert runs[3:] == [("bob", 1)]


def test_purge_route_on_every_backend(backend: Backend) -> None:
    app, ward, store = make(backend)
    runs: list[str] = []

    @app.get("/items/<item_id>")
    @ward.protected()
    @ward.cached(ttl=60)
    def item(item_id: str):  # type: ignore[no-untyped-def]
        runs.append(item_id)
        return jsonify(item=item_id)

    alice = store.create("alice").plaintext
    c = app.test_client()
    for item_id in ("a", "b", "a", "b"):
        c.get(f"/items/{item_id}", headers={"X-API-Key": alice})
    assert runs == ["a", "b"]
    with app.app_context():
        assert ward.purge_route("item", principal="alice", item_id="a", host="localhost") == 2
    for item_id in ("a", "b"):
        c.get(f"/items/{item_id}", headers={"X-API-Key": alice})
    assert runs == ["a", "b", "a"]


def test_a_dead_redis_means_no_cache_never_an_error() -> None:
    from tests.support import free_port

    from cacheward.core.secret import Secrets

    backend = RedisBackend.from_url(f"redis://127.0.0.1:{free_port()}/0", Secrets(SECRET))
    app, ward, _ = make(backend)
    runs: list[int] = []

    @ward.memoize(60, scope="shared", name="answer")
    def answer() -> int:
        runs.append(1)
        return 42

    with app.app_context():
        assert ward.data.set("k", 1, scope="shared") is False
        assert ward.data.get("k", "miss", scope="shared") == "miss"
        assert answer() == answer() == 42
    assert runs == [1, 1]
    assert app.extensions["cacheward"].counters.backend_errors >= 4
    backend.close()


def test_two_processes_share_values_two_apps_never_do(backend: Backend) -> None:
    """Two app objects of one name stand for two processes on one store; an app of
    another name (or another secret) never reads their values."""
    host_one, ward, _ = make(backend)
    host_two, _, _ = make(backend)
    other = Flask("another-app")
    other.config.update(CACHEWARD_SECRET=SECRET)
    other_ward = Cacheward(other, backend=backend)
    resecret = Flask("values")
    resecret.config.update(CACHEWARD_SECRET="a-different-secret-0123456789")
    resecret_ward = Cacheward(resecret, backend=backend)
    with host_one.app_context():
        ward.data.set("motd", "hello", 60, scope="shared")
    with host_two.app_context():
        assert ward.data.get("motd", scope="shared") == "hello"
    with other.app_context():
        assert other_ward.data.get("motd", scope="shared") is None
    with resecret.app_context():
        assert resecret_ward.data.get("motd", scope="shared") is None
