"""More attacks on the ASGI guard, after the Flask suite's: keys of one principal,
expired keys, two apps on one store, hop-by-hop headers, per-key mode, stampedes."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from fastapi import FastAPI, Security
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient

from cacheward.asgi import AsyncMemoryBackend
from cacheward.fastapi import Cacheward, Principal
from cacheward.keys import MemoryKeyStore

from .asgiapp import SECRET, h, make_app


def _app(**settings):
    app = FastAPI()
    store = MemoryKeyStore()
    ward = Cacheward(app, keys=store, secret=SECRET, **settings)
    return app, ward, store


def test_two_keys_of_one_principal_with_other_grants_or_tenants_never_share():
    app, ward, store = _app()
    protect = ward.protected()

    @app.get("/grants")
    @ward.cached(ttl=5)
    async def grants(p: Principal = Security(protect)):  # noqa: B008
        return {"admin": p.has_scopes(["admin"])}

    @app.get("/grants-keyed")
    @ward.cached(ttl=5, vary=[":scopes"])
    async def grants_keyed(p: Principal = Security(protect)):  # noqa: B008
        return {"admin": p.has_scopes(["admin"])}

    @app.get("/plain")
    @ward.cached(ttl=5)
    async def plain(p: Principal = Security(protect)):  # noqa: B008
        return {"id": p.id}

    admin = store.create("alice", ["admin"]).plaintext
    weak = store.create("alice", []).plaintext
    t1 = store.create("carol", tenant="t1").plaintext
    t2 = store.create("carol", tenant="t2").plaintext
    with TestClient(app) as c:
        assert "unkeyed-input" in c.get("/grants", headers=h(admin)).headers["cache-status"]
        assert c.get("/grants", headers=h(weak)).json() == {"admin": False}
        assert c.get("/grants-keyed", headers=h(admin)).json() == {"admin": True}
        assert c.get("/grants-keyed", headers=h(weak)).json() == {"admin": False}
        c.get("/plain", headers=h(t1))
        other = c.get("/plain", headers=h(t2))
        assert other.headers["cache-status"].endswith("stored")  # not t1's entry


def test_an_expired_key_is_refused(guarded, client):
    _, _, keys, _ = guarded
    old = keys.store.create("eve", ["reports:read"], expires=time.time() - 1).plaintext
    assert client.get("/me", headers=h(old)).status_code == 401


def test_two_apps_on_one_backend_never_share_entries():
    shared = AsyncMemoryBackend()
    store = MemoryKeyStore()
    key = store.create("alice").plaintext

    def build(text: str) -> FastAPI:
        app = FastAPI()  # same title, same path, same function name
        ward = Cacheward(app, keys=store, secret=SECRET, backend=shared)

        async def r(p: Principal = Security(ward.protected())):  # noqa: B008
            return PlainTextResponse(text)

        r.__module__ = f"app_{text}"  # two code bases with the same function name
        app.get("/r")(ward.cached(ttl=5)(r))
        return app

    one, two = build("one"), build("two")
    with TestClient(one) as c1, TestClient(two) as c2:
        assert c1.get("/r", headers=h(key)).text == "one"
        assert c2.get("/r", headers=h(key)).text == "two"


def test_hop_by_hop_headers_are_never_stored_or_replayed():
    app, ward, store = _app()

    @app.get("/hop")
    @ward.cached(ttl=5)
    async def hop(p: Principal = Security(ward.protected())):  # noqa: B008
        return PlainTextResponse(
            "x", headers={"Keep-Alive": "timeout=5", "Connection": "X-Private", "X-Private": "1"}
        )

    key = store.create("alice").plaintext
    with TestClient(app) as c:
        c.get("/hop", headers=h(key))
        hit = c.get("/hop", headers=h(key))
    assert hit.headers["cache-status"] == "cacheward; hit"
    assert "keep-alive" not in hit.headers and "x-private" not in hit.headers


def test_per_key_mode_is_public_with_vary_on_every_credential_header():
    app, ward, store = _app(downstream="per-key")

    @app.get("/r")
    @ward.cached(ttl=30)
    async def r(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"id": p.id}

    key = store.create("alice").plaintext
    with TestClient(app) as c:
        miss = c.get("/r", headers=h(key))
        hit = c.get("/r", headers=h(key))
        refused = c.get("/r")
    for r in (miss, hit):
        assert r.headers["cache-control"] == "public, max-age=30"
        assert {v.strip() for v in r.headers["vary"].split(",")} >= {"X-Api-Key", "Authorization"}
    assert refused.headers["cache-control"] == "no-store"


@pytest.mark.anyio
async def test_a_stampede_of_misses_runs_the_endpoint_once():
    app, ward, keys, runs = make_app()

    @app.get("/slow")
    @ward.cached(ttl=30)
    async def slow(p: Principal = Security(ward.protected())):  # noqa: B008
        runs["slow"] = runs.get("slow", 0) + 1
        await asyncio.sleep(0.1)
        return {"id": p.id}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        got = await asyncio.gather(*(c.get("/slow", headers=h(keys.alice)) for _ in range(10)))
    assert all(r.json() == {"id": "alice"} for r in got)
    assert runs["slow"] == 1


@pytest.mark.anyio
async def test_concurrent_misses_on_an_unstorable_route_are_not_serialized():
    app, ward, keys, runs = make_app()

    @app.get("/never")
    @ward.cached(ttl=30)
    async def never(p: Principal = Security(ward.protected())):  # noqa: B008
        await asyncio.sleep(0.2)
        return PlainTextResponse("x", headers={"Cache-Control": "no-store"})

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        start = time.monotonic()
        await asyncio.gather(*(c.get("/never", headers=h(keys.alice)) for _ in range(6)))
        took = time.monotonic() - start
    assert took < 0.2 * 6 * 0.75  # not one after another (the leader, then all at once)
