"""The guard on a plain Starlette app: decorators in the Flask order."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from cacheward.errors import UnsafeCacheOrder
from cacheward.keys import MemoryKeyStore
from cacheward.starlette import Cacheward
from cacheward.testing import assert_no_cross_key_leak

from .asgiapp import SECRET, h


@pytest.fixture
def starlette_app():
    store = MemoryKeyStore()
    ward = Cacheward(keys=store, secret=SECRET)
    runs: list[str] = []

    @ward.protected("reports:read")
    @ward.cached(ttl=60)
    async def report(request: Request) -> JSONResponse:
        runs.append("report")
        return JSONResponse({"for": ward.principal(request).id, "n": len(runs)})

    @ward.protected("reports:read")
    @ward.cached(ttl=60, scope="shared")
    async def lang(request: Request) -> JSONResponse:
        return JSONResponse({"lang": request.headers.get("accept-language")})

    @ward.protected("reports:read", authorize=lambda p, account_id: p.id == account_id)
    @ward.cached(ttl=60)
    async def account(request: Request) -> JSONResponse:
        return JSONResponse({"account": request.path_params["account_id"]})

    app = Starlette(
        routes=[
            Route("/report", report),
            Route("/lang", lang),
            Route("/accounts/{account_id}", account),
        ]
    )
    ward.init_app(app)
    keys = {n: store.create(n, ["reports:read"]).plaintext for n in ("alice", "bob")}
    return app, keys, runs, store


def test_starlette_guard_caches_per_principal(starlette_app):
    app, keys, runs, store = starlette_app
    with TestClient(app) as c:
        a = c.get("/report", headers=h(keys["alice"]))
        assert a.json()["for"] == "alice" and a.headers["cache-status"].endswith("stored")
        hit = c.get("/report", headers=h(keys["alice"]))
        assert hit.headers["cache-status"] == "cacheward; hit"
        assert c.get("/report", headers=h(keys["bob"])).json()["for"] == "bob"
        assert c.get("/report").status_code == 401
        assert c.get("/accounts/alice", headers=h(keys["bob"])).status_code == 403
        denied = store.create("intern").plaintext
        assert_no_cross_key_leak(c, "/report", keys, denied=[denied])


def test_starlette_guard_records_reads(starlette_app):
    app, keys, _, _ = starlette_app
    with TestClient(app) as c:
        r = c.get("/lang", headers=h(keys["alice"], **{"Accept-Language": "fr"}))
        assert "unkeyed-input" in r.headers["cache-status"]
        assert c.get("/lang", headers=h(keys["bob"])).json()["lang"] is None


def test_starlette_cached_above_protected_refuses_at_import():
    ward = Cacheward(keys=MemoryKeyStore(), secret=SECRET)
    with pytest.raises(UnsafeCacheOrder):

        @ward.cached(ttl=5)
        @ward.protected()
        async def endpoint(request):
            return JSONResponse({})
