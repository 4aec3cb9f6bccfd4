"""The seed case, side by side: fastapi-cache2 in its documented usage with an API-key
dependency, and the same API on cacheward.

fastapi-cache2 (0.2.x) keys an entry by the endpoint's module, name and arguments. An
API-key check declared in the route's ``dependencies=[...]`` (FastAPI's documented way
for a dependency whose value the endpoint does not need) is not an argument, so every
key shares one entry: the first caller's response is served to every other key. It also
replays a response whose status the endpoint set (``response.status_code = 404``) as a
``200``, and tells caches in front ``Cache-Control: max-age=...`` for an authenticated
response. Each test below measures what it does, then shows cacheward does not.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi import Depends, FastAPI, HTTPException, Request, Response, Security
from fastapi.security import APIKeyHeader
from fastapi.testclient import TestClient
from fastapi_cache import FastAPICache
from fastapi_cache.backends.inmemory import InMemoryBackend
from fastapi_cache.decorator import cache

from cacheward.fastapi import Cacheward, Principal
from cacheward.keys import MemoryKeyStore

from .asgiapp import SECRET

ACCOUNTS = {"alice": {"balance": 100}, "bob": {"balance": 5}}


@pytest.fixture
def fastapi_cache2() -> Iterator[tuple[TestClient, dict[str, str]]]:
    keys = {"key-alice-0123456789": "alice", "key-bob-0123456789ab": "bob"}
    api_key_header = APIKeyHeader(name="X-API-Key")

    async def verify_key(request: Request, api_key: str = Security(api_key_header)) -> None:  # noqa: B008
        user = keys.get(api_key)
        if user is None:
            raise HTTPException(status_code=401, detail="invalid key")
        request.state.user = user

    app = FastAPI()
    # InMemoryBackend's store is shared by its instances: a prefix of this test's own.
    FastAPICache.init(InMemoryBackend(), prefix=f"fastapi-cache-{uuid.uuid4().hex}")

    @app.get("/balance", dependencies=[Depends(verify_key)])
    @cache(expire=60)
    async def balance(request: Request):
        user = request.state.user
        return {"user": user, **ACCOUNTS[user]}

    @app.get("/orders/{order_id}", dependencies=[Depends(verify_key)])
    @cache(expire=60)
    async def order(order_id: str, response: Response):
        response.status_code = 404
        return {"error": f"order {order_id} not found"}

    with TestClient(app) as client:
        yield client, {user: key for key, user in keys.items()}
    FastAPICache.reset()


@pytest.fixture
def cacheward_app() -> Iterator[tuple[TestClient, dict[str, str]]]:
    store = MemoryKeyStore()
    app = FastAPI()
    ward = Cacheward(app, keys=store, secret=SECRET)

    @app.get("/balance")
    @ward.cached(ttl=60)
    async def balance(principal: Principal = Security(ward.protected())):  # noqa: B008
        return {"user": principal.id, **ACCOUNTS[principal.id]}

    @app.get("/orders/{order_id}")
    @ward.cached(ttl=60)
    async def order(order_id: str, response: Response, p: Principal = Security(ward.protected())):  # noqa: B008
        response.status_code = 404
        return {"error": f"order {order_id} not found"}

    keys = {name: store.create(name).plaintext for name in ACCOUNTS}
    with TestClient(app) as client:
        yield client, keys


def test_fastapi_cache2_serves_one_keys_response_to_another(fastapi_cache2):
    client, keys = fastapi_cache2
    alice = client.get("/balance", headers={"X-API-Key": keys["alice"]})
    assert alice.json() == {"user": "alice", "balance": 100}
    bob = client.get("/balance", headers={"X-API-Key": keys["bob"]})
    # The leak, measured: bob's key is served alice's balance.
    assert bob.status_code == 200
    assert bob.json() == {"user": "alice", "balance": 100}
    assert bob.headers["x-fastapi-cache"] == "HIT"


def test_cacheward_keeps_each_keys_response_apart(cacheward_app):
    client, keys = cacheward_app
    alice = client.get("/balance", headers={"X-API-Key": keys["alice"]})
    assert alice.json() == {"user": "alice", "balance": 100}
    bob = client.get("/balance", headers={"X-API-Key": keys["bob"]})
    assert bob.json() == {"user": "bob", "balance": 5}
    again = client.get("/balance", headers={"X-API-Key": keys["alice"]})
    assert again.headers["cache-status"] == "cacheward; hit" and again.json() == alice.json()


def test_fastapi_cache2_replays_an_error_as_200(fastapi_cache2):
    client, keys = fastapi_cache2
    first = client.get("/orders/7", headers={"X-API-Key": keys["alice"]})
    assert first.status_code == 404
    second = client.get("/orders/7", headers={"X-API-Key": keys["alice"]})
    # Measured: the cached 404 body comes back as a 200.
    assert second.status_code == 200
    assert second.json() == {"error": "order 7 not found"}


def test_cacheward_never_stores_an_error(cacheward_app):
    client, keys = cacheward_app
    for _ in range(2):
        r = client.get("/orders/7", headers={"X-API-Key": keys["alice"]})
        assert r.status_code == 404
        assert r.headers["cache-control"] == "no-store"
        assert "not-storable" in r.headers["cache-status"]


def test_fastapi_cache2_lets_caches_in_front_keep_authenticated_responses(fastapi_cache2):
    client, keys = fastapi_cache2
    r = client.get("/balance", headers={"X-API-Key": keys["alice"]})
    assert r.headers["cache-control"] == "max-age=60"  # shared caches may store it


def test_cacheward_tells_caches_in_front_it_is_private(cacheward_app):
    client, keys = cacheward_app
    r = client.get("/balance", headers={"X-API-Key": keys["alice"]})
    assert r.headers["cache-control"] == "private, no-cache"
