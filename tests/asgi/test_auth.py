"""Invariant 1 on ASGI: authentication and authorization run before any lookup."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI, Security
from fastapi.testclient import TestClient

from cacheward.errors import UnsafeCacheOrder
from cacheward.fastapi import Cacheward, Principal
from cacheward.keys import MemoryKeyStore

from .asgiapp import SECRET, h, make_app


def test_anonymous_and_bad_keys_never_reach_a_cached_entry(guarded, client):
    _, _, keys, runs = guarded
    assert client.get("/me", headers=h(keys.alice)).status_code == 200
    for headers in (h(None), h("cw_nope"), h(keys.alice + "x"), {"Authorization": "Basic eA=="}):
        r = client.get("/me", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["cache-control"] == "no-store"
        assert "alice" not in r.text
    assert runs["me"] == 1


def test_an_anonymous_401_is_never_served_to_a_valid_key(guarded, client):
    _, _, keys, _ = guarded
    assert client.get("/me").status_code == 401
    r = client.get("/me", headers=h(keys.alice))
    assert r.status_code == 200 and r.json()["principal"] == "alice"


def test_revoking_a_key_takes_effect_on_the_next_request(guarded, client):
    _, _, keys, _ = guarded
    assert client.get("/me", headers=h(keys.revoked)).status_code == 200
    assert client.get("/me", headers=h(keys.revoked)).headers["cache-status"] == "cacheward; hit"
    keys.store.revoke(keys.revoked_id)
    assert client.get("/me", headers=h(keys.revoked)).status_code == 401


def test_missing_scope_and_failed_authorize_are_403_before_lookup(guarded, client):
    _, _, keys, runs = guarded
    assert client.get("/me", headers=h(keys.reader)).status_code == 403
    assert client.get("/accounts/alice", headers=h(keys.alice)).status_code == 200
    r = client.get("/accounts/alice", headers=h(keys.bob))  # BOLA through the cache
    assert r.status_code == 403 and r.headers["cache-control"] == "no-store"
    assert runs["account"] == 1


def test_bearer_is_accepted_and_two_credentials_are_refused(guarded, client):
    _, _, keys, _ = guarded
    r = client.get("/me", headers={"Authorization": f"Bearer {keys.alice}"})
    assert r.status_code == 200 and r.json()["principal"] == "alice"
    r = client.get("/me", headers={"Authorization": f"Bearer {keys.bob}", "X-API-Key": keys.alice})
    assert r.status_code == 400
    assert keys.alice not in r.text and keys.bob not in r.text


def test_a_key_in_the_query_string_is_refused_and_never_echoed(guarded, client):
    _, _, keys, _ = guarded
    r = client.get(f"/me?api_key={keys.alice}")
    assert r.status_code == 400 and keys.alice not in r.text


def test_key_store_down_is_503_never_a_free_pass():
    class Down(MemoryKeyStore):
        def _get(self, key_id):
            raise OSError("disk gone")

    store = Down()
    key = MemoryKeyStore.create(store, "alice", ["reports:read"]).plaintext
    app, _, _, runs = make_app(keys=store)
    with TestClient(app) as c:
        r = c.get("/me", headers=h(key))
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.headers["cache-control"] == "no-store"
    assert runs.get("me") is None


def test_cached_without_the_guard_principal_refuses_at_import():
    app = FastAPI()
    ward = Cacheward(app, keys=MemoryKeyStore(), secret=SECRET)

    def other_auth() -> str:
        return "someone"

    with pytest.raises(UnsafeCacheOrder):

        @app.get("/x")
        @ward.cached(ttl=5)
        async def x(user: str = Depends(other_auth)):  # noqa: B008
            return {}

    with pytest.raises(UnsafeCacheOrder):

        @app.get("/y")
        @ward.cached(ttl=5)
        async def y():
            return {}

    # Depends() works as well as Security().
    @app.get("/z")
    @ward.cached(ttl=5)
    async def z(p: Principal = Depends(ward.protected())):  # noqa: B008
        return {"id": p.id}


def test_openapi_documents_the_key_schemes(guarded):
    app = guarded[0]
    schemes = app.openapi()["components"]["securitySchemes"]
    assert any(s.get("name") == "X-API-Key" for s in schemes.values())
    assert any(s.get("scheme") == "bearer" for s in schemes.values())


def test_protected_route_that_is_not_cached_is_no_store(guarded, client):
    _, _, keys, _ = guarded
    r = client.get("/uncached", headers=h(keys.alice))
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    # A route the guard does not manage, called with a credential, is kept private.
    assert client.get("/public-route", headers=h(keys.alice)).headers["cache-control"] == "private"
    assert "cache-control" not in client.get("/public-route").headers


def test_authorize_may_be_async():
    app = FastAPI()
    store = MemoryKeyStore()
    ward = Cacheward(app, keys=store, secret=SECRET)

    async def mine(p, account_id):
        return p.id == account_id

    @app.get("/a/{account_id}")
    @ward.cached(ttl=5)
    async def a(account_id: str, p: Principal = Security(ward.protected(authorize=mine))):  # noqa: B008
        return {"a": account_id}

    key = store.create("alice").plaintext
    with TestClient(app) as c:
        assert c.get("/a/alice", headers=h(key)).status_code == 200
        assert c.get("/a/bob", headers=h(key)).status_code == 403


@pytest.mark.parametrize(
    "query",
    ["%ff=1", "a=1&a=2", "x=%C0%AF", "k=cw_abcdefghijkl_QXQgWgGCYBTvMHxOMQzzMjr7Uxn4MKiT0Ylz3r"],
)
def test_hostile_queries_are_a_clear_400_never_a_500_or_an_entry(guarded, client, query):
    _, ward, keys, runs = guarded
    r = client.get(f"/me?{query}", headers=h(keys.alice))
    assert r.status_code == 400, r.text
    assert r.headers["cache-control"] == "no-store"
    assert len(ward.state.backend) == 0


def test_an_oversized_vary_value_is_a_400(guarded, client):
    _, ward, keys, _ = guarded
    r = client.get("/catalog", headers=h(keys.alice, **{"Accept-Language": "x" * 5000}))
    assert r.status_code == 400 and len(ward.state.backend) == 0
