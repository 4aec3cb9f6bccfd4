"""cacheward.testing with FastAPI: Starlette's TestClient, httpx's AsyncClient, and the
``cacheward_keys`` / ``cacheward_strict`` fixtures over an ``app`` fixture."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request, Security
from fastapi.testclient import TestClient

from cacheward.errors import UnkeyedInputError
from cacheward.fastapi import Cacheward, Principal
from cacheward.keys import MemoryKeyStore
from cacheward.testing import assert_no_cross_key_leak, assert_no_cross_key_leak_async

from .asgiapp import SECRET


def _leaky_app() -> FastAPI:
    """A shared route that answers with the caller's id: the helper must catch it."""
    app = FastAPI()
    store = MemoryKeyStore()
    ward = Cacheward(app, keys=store, secret=SECRET)
    app.state.store = store

    @app.get("/report")
    @ward.cached(ttl=60)
    async def report(p: Principal = Security(ward.protected("reports:read"))):
        return {"for": p.id}

    @app.get("/lang")
    @ward.cached(ttl=60)
    async def lang(request: Request, p: Principal = Security(ward.protected())):
        return {"lang": request.headers.get("accept-language"), "for": p.id}

    return app


@pytest.fixture
def app() -> FastAPI:
    return _leaky_app()


def test_helper_passes_with_starlette_testclient(app, cacheward_keys):
    keys = {
        "alice": cacheward_keys("alice", ["reports:read"]),
        "bob": cacheward_keys("bob", ["reports:read"]),
    }
    with TestClient(app) as client:
        assert_no_cross_key_leak(client, "/report", keys, denied=[cacheward_keys("intern")])


@pytest.mark.anyio
async def test_helper_passes_with_httpx_async_client(app, cacheward_keys):
    keys = {
        "alice": cacheward_keys("alice", ["reports:read"]),
        "bob": cacheward_keys("bob", ["reports:read"]),
    }
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await assert_no_cross_key_leak_async(client, "/report", keys)


def test_helper_catches_a_leak_without_printing_keys():
    """fastapi-cache2's seed case, through the helper: it fails, naming no key."""
    from fastapi import Depends, HTTPException
    from fastapi_cache import FastAPICache
    from fastapi_cache.backends.inmemory import InMemoryBackend
    from fastapi_cache.decorator import cache

    store = MemoryKeyStore()
    a = store.create("alice").plaintext
    b = store.create("bob").plaintext

    async def verify(request: Request) -> None:
        p = store.verify(request.headers.get("x-api-key", ""))
        if p is None:
            raise HTTPException(401)
        request.state.p = p

    leaky = FastAPI()
    FastAPICache.init(InMemoryBackend(), prefix=f"helper-{id(leaky)}")

    @leaky.get("/report", dependencies=[Depends(verify)])
    @cache(expire=60)
    async def report(request: Request):
        return {"for": request.state.p.id}

    try:
        with TestClient(leaky) as client, pytest.raises(AssertionError) as info:
            assert_no_cross_key_leak(client, "/report", {"alice": a, "bob": b})
    finally:
        FastAPICache.reset()
    message = str(info.value)
    assert "leaks across keys" in message
    assert a not in message and b not in message


def test_strict_fixture_turns_unkeyed_reads_into_errors(app, cacheward_strict, cacheward_keys):
    key = cacheward_keys("alice")
    with TestClient(app) as client, pytest.raises(UnkeyedInputError, match="Accept-Language"):
        client.get("/lang", headers={"X-API-Key": key, "Accept-Language": "fr"})
