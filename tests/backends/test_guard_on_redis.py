"""The guard with a shared Redis store: two apps stand for two processes or hosts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, jsonify
from tests.support.redis import RedisServer

from cacheward import Cacheward, current_principal
from cacheward.keys import SQLiteKeyStore

SECRET = "test-secret-0123456789abcdef"


def make(url: str, keys: SQLiteKeyStore, runs: list[str]) -> tuple[Flask, Cacheward]:
    app = Flask("host")
    app.config.update(CACHEWARD_SECRET=SECRET, CACHEWARD_BACKEND=url)
    ward = Cacheward(app, keys=keys)

    @app.get("/me")
    @ward.protected()
    @ward.cached(ttl=60)
    def me():  # type: ignore[no-untyped-def]
        runs.append(current_principal.id)
        return jsonify(principal=current_principal.id)

    return app, ward


@pytest.fixture(params=["redis", "redis-cluster"])
def url(request: pytest.FixtureRequest) -> str:
    name = "redis_url" if request.param == "redis" else "cluster_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def keys(tmp_path) -> Iterator[SQLiteKeyStore]:  # type: ignore[no-untyped-def]
    store = SQLiteKeyStore(str(tmp_path / "keys.db"))
    yield store
    store.close()


def test_two_hosts_share_entries_purges_and_revocations(url: str, keys: SQLiteKeyStore) -> None:
    runs: list[str] = []
    one, ward_one = make(url, keys, runs)
    two, _ = make(url, SQLiteKeyStore(keys.path), runs)
    try:
        _share(one, ward_one, two, keys, runs)
    finally:  # each app's Redis connections, closed by the test that opened them
        for app in (one, two):
            app.extensions["cacheward"].backend.close()


def _share(
    one: Flask, ward_one: Cacheward, two: Flask, keys: SQLiteKeyStore, runs: list[str]
) -> None:
    alice = keys.create("alice")
    bob = keys.create("bob").plaintext
    a, b = one.test_client(), two.test_client()
    assert a.get("/me", headers={"X-API-Key": alice.plaintext}).json == {"principal": "alice"}
    hit = b.get("/me", headers={"X-API-Key": alice.plaintext})
    assert hit.headers["Cache-Status"] == "cacheward; hit" and hit.json == {"principal": "alice"}
    assert b.get("/me", headers={"X-API-Key": bob}).json == {"principal": "bob"}
    assert runs == ["alice", "bob"]
    ward_one.purge(principal="alice", app=one)
    assert b.get("/me", headers={"X-API-Key": alice.plaintext}).headers["Cache-Status"] != (
        "cacheward; hit"
    )
    assert keys.revoke(alice.id)
    assert b.get("/me", headers={"X-API-Key": alice.plaintext}).status_code == 401
    assert b.get("/me").status_code == 401


def test_redis_killed_mid_run_keeps_every_answer_right_and_authenticated(
    keys: SQLiteKeyStore, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    server = RedisServer().start()
    try:
        runs: list[str] = []
        app, _ = make(server.url + "?socket_timeout=0.2&connect_timeout=0.2", keys, runs)
        alice, bob = keys.create("alice").plaintext, keys.create("bob").plaintext
        c = app.test_client()
        for round_ in range(30):
            if round_ == 10:
                server.kill()
            for name, key in (("alice", alice), ("bob", bob)):
                r = c.get("/me", headers={"X-API-Key": key})
                assert r.status_code == 200 and r.json == {"principal": name}
            assert c.get("/me").status_code == 401
            assert c.get("/me", headers={"X-API-Key": alice[:-1] + "x"}).status_code == 401
        # Uncached while Redis was down: the view ran again for every request.
        assert len(runs) > 2
    finally:
        server.cleanup()
