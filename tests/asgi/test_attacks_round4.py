"""Round four of attacks on the ASGI guard: the route capture (``asgi/capture.py``).

What a miss stores is the route's own response, captured below the app's middleware,
and a hit is answered at the endpoint so that the middleware runs again. Any code
*between* the capture and the endpoint (a ``Route``'s or a ``Mount``'s own middleware, a
mounted application with its own stack, everything inside :meth:`Cacheward.wrap`) would
then be captured once into the entry and run again on every hit: what it derived from
the first caller's request would be replayed to every other. A cached endpoint that
calls another in one request would file the caller's response under the callee's key.
Streams that fail and code that answers twice are in ``test_attacks_round4_streams.py``;
context variables, cancellation and websockets in ``test_attacks_round4_context.py``.

Each test is the smallest app an honest developer might write; each asserts that one
caller's request never decides what another caller is served.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request, Security
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from cacheward.fastapi import Cacheward, Principal
from cacheward.keys import MemoryKeyStore
from cacheward.starlette import Cacheward as StarletteCacheward

from .asgiapp import SECRET, cache_status, h


class _Echo:
    """Pure ASGI middleware that copies the caller's ``X-Tag`` request header into an
    ``X-Echo`` response header (a request-id or tracing middleware's shape)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tag = dict(scope["headers"]).get(b"x-tag", b"none")

        async def tagged(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (b"x-echo", tag)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, tagged)


def _alice_then_bob(app: Any, path: str, alice: str, bob: str) -> tuple[Any, Any]:
    with TestClient(app) as c:
        first = c.get(path, headers=h(alice, **{"X-Tag": "alice-secret"}))
        second = c.get(path, headers=h(bob))
    return first, second


def _assert_not_replayed(first: httpx.Response, second: httpx.Response) -> None:
    assert first.headers.get_list("x-echo") == ["alice-secret"]
    assert "alice-secret" not in second.headers.get_list("x-echo"), (
        "Bob was replayed the header a middleware below the capture derived from Alice"
    )
    assert second.headers.get_list("x-echo") == ["none"]


def _starlette(**settings: Any) -> tuple[StarletteCacheward, str, str]:
    store = MemoryKeyStore()
    ward = StarletteCacheward(keys=store, secret=SECRET, **settings)
    return ward, store.create("alice").plaintext, store.create("bob").plaintext


# -- code between the capture and the endpoint (fails on the old code) --------------------


def test_a_mounted_sub_app_with_its_own_middleware_never_replays_what_it_added():
    app, store = FastAPI(), MemoryKeyStore()
    ward = Cacheward(app, keys=store, secret=SECRET)
    alice, bob = store.create("alice").plaintext, store.create("bob").plaintext
    sub = FastAPI()
    sub.add_middleware(_Echo)

    @sub.get("/catalog")
    @ward.cached(ttl=60, scope="shared")
    async def catalog(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"ok": True}

    app.mount("/v2", sub)
    first, second = _alice_then_bob(app, "/v2/catalog", alice, bob)
    _assert_not_replayed(first, second)
    # The mounted app gets its own capture at its router: stored, and its middleware
    # runs again for each hit, as the app's own does.
    assert "stored" in cache_status(first) and "hit" in cache_status(second)


def test_a_mounted_sub_apps_exception_handler_is_never_stored_and_its_mount_middleware_rerun():
    app, store = FastAPI(), MemoryKeyStore()
    ward = Cacheward(app, keys=store, secret=SECRET)
    alice, bob = store.create("alice").plaintext, store.create("bob").plaintext
    sub, other = FastAPI(), FastAPI()

    @sub.exception_handler(LookupError)
    async def missing(request: Request, exc: LookupError) -> JSONResponse:
        return JSONResponse({"empty": request.headers.get("x-tag")})

    @sub.get("/catalog")
    @ward.cached(ttl=60, scope="shared")
    async def catalog(p: Principal = Security(ward.protected())):  # noqa: B008
        raise LookupError("no catalog")

    @other.get("/plain")
    @ward.cached(ttl=60, scope="shared")
    async def plain(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"ok": True}

    app.mount("/v2", sub)
    app.router.routes.append(Mount("/v3", app=other, middleware=[Middleware(_Echo)]))
    with TestClient(app) as c:
        c.get("/v2/catalog", headers=h(alice, **{"X-Tag": "alice-secret"}))
        victim = c.get("/v2/catalog", headers=h(bob))
        assert victim.json() == {"empty": None}, "Bob was replayed Alice's handler response"
        first = c.get("/v3/plain", headers=h(alice, **{"X-Tag": "alice-secret"}))
        second = c.get("/v3/plain", headers=h(bob))
    _assert_not_replayed(first, second)
    assert "stored" in cache_status(first) and "hit" in cache_status(second)


def test_a_route_with_its_own_middleware_never_replays_what_it_added():
    ward, alice, bob = _starlette()

    @ward.protected()
    @ward.cached(ttl=60, scope="shared")
    async def catalog(request: Any) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/catalog", catalog, middleware=[Middleware(_Echo)])])
    ward.init_app(app)
    _assert_not_replayed(*_alice_then_bob(app, "/catalog", alice, bob))


def test_a_mount_with_its_own_middleware_never_replays_what_it_added():
    ward, alice, bob = _starlette()

    @ward.protected()
    @ward.cached(ttl=60, scope="shared")
    async def catalog(request: Any) -> JSONResponse:
        return JSONResponse({"ok": True})

    mount = Mount("/v1", routes=[Route("/catalog", catalog)], middleware=[Middleware(_Echo)])
    app = Starlette(routes=[mount])
    ward.init_app(app)
    _assert_not_replayed(*_alice_then_bob(app, "/v1/catalog", alice, bob))


def test_wrap_around_an_app_with_middleware_never_replays_what_it_added():
    ward, alice, bob = _starlette()

    @ward.protected()
    @ward.cached(ttl=60, scope="shared")
    async def catalog(request: Any) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/catalog", catalog)], middleware=[Middleware(_Echo)])
    _assert_not_replayed(*_alice_then_bob(ward.wrap(app), "/catalog", alice, bob))


def test_plain_mounts_included_routers_and_app_middleware_still_cache():
    """The refusal above is for code below the capture only: a ``Mount`` of plain routes,
    an included router and ``app.add_middleware`` (above it) keep caching, and the
    app's middleware is still redone for each caller."""
    ward, alice, bob = _starlette()

    @ward.protected()
    @ward.cached(ttl=60, scope="shared")
    async def catalog(request: Any) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Mount("/v1", routes=[Route("/catalog", catalog)])])
    app.add_middleware(_Echo)
    ward.init_app(app)
    first, second = _alice_then_bob(app, "/v1/catalog", alice, bob)
    assert "stored" in cache_status(first) and "hit" in cache_status(second)
    _assert_not_replayed(first, second)

    fapp, store = FastAPI(), MemoryKeyStore()
    fward = Cacheward(fapp, keys=store, secret=SECRET)
    router = APIRouter(prefix="/v1")

    @router.get("/catalog")
    @fward.cached(ttl=60, scope="shared")
    async def fcatalog(p: Principal = Security(fward.protected())):  # noqa: B008
        return {"ok": True}

    fapp.include_router(router)
    fapp.add_middleware(_Echo)
    first, second = _alice_then_bob(
        fapp, "/v1/catalog", store.create("alice").plaintext, store.create("bob").plaintext
    )
    assert "stored" in cache_status(first) and "hit" in cache_status(second)
    _assert_not_replayed(first, second)


# -- two cached endpoints in one request ---------------------------------------------------


def test_a_cached_endpoint_called_by_another_never_files_the_callers_response():
    """Fails on the old code: the callee's lookup replaced the caller's pending store and
    recorder, so the caller's response (which read an unkeyed header) was stored under
    the callee's shared key, and served to the next caller inside his own response."""
    ward, alice, bob = _starlette()

    @ward.protected()
    @ward.cached(ttl=60, scope="shared")
    async def price(request: Any) -> JSONResponse:
        return JSONResponse({"price": 10})

    @ward.protected()
    @ward.cached(ttl=60, scope="principal")
    async def dashboard(request: Any) -> JSONResponse:
        inner = await price(request)
        locale = request.headers.get("x-locale")
        return JSONResponse({"locale": locale, "price": json.loads(inner.body)})

    app = Starlette(routes=[Route("/price", price), Route("/dashboard", dashboard)])
    ward.init_app(app)
    with TestClient(app) as c:
        c.get("/dashboard", headers=h(alice, **{"X-Locale": "alice-secret"}))
        victim = c.get("/dashboard", headers=h(bob, **{"X-Locale": "en"}))
        assert "alice-secret" not in victim.text, "Bob was served Alice's response"
        assert victim.json() == {"locale": "en", "price": {"price": 10}}
        assert "stored" in cache_status(c.get("/price", headers=h(alice)))
        assert "hit" in cache_status(c.get("/price", headers=h(bob)))
    assert ward.stats()["stored"] == 1


def test_a_fastapi_endpoint_calling_a_cached_one_directly_is_never_stored():
    """The same in FastAPI (passed on the old code too: the callee took the caller's
    route for a decorator above it); the callee still caches on its own route."""
    app, store = FastAPI(), MemoryKeyStore()
    ward = Cacheward(app, keys=store, secret=SECRET)
    alice, bob = store.create("alice").plaintext, store.create("bob").plaintext

    @app.get("/reports/{rid}")
    @ward.cached(ttl=60, scope="shared")
    async def report(rid: str, request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        return {"report": rid}

    @app.get("/latest")
    @ward.cached(ttl=60, scope="shared")
    async def latest(request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        inner = await report(rid="7", request=request, p=p)
        return {"latest": inner}

    with TestClient(app) as c:
        assert "stored" not in cache_status(c.get("/latest", headers=h(alice)))
        assert "hit" not in cache_status(c.get("/latest", headers=h(bob)))
        assert "stored" in cache_status(c.get("/reports/7", headers=h(alice)))
        assert c.get("/reports/7", headers=h(bob)).json() == {"report": "7"}


def test_a_cached_route_added_after_startup_is_served_never_stored():
    """The routes are walked for their own middleware when the app starts: one added
    later was not, so it is served (and protected) but never stored."""
    ward, alice, bob = _starlette()

    @ward.protected()
    @ward.cached(ttl=60, scope="shared")
    async def catalog(request: Any) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[])
    ward.init_app(app)
    with TestClient(app) as c:
        assert c.get("/catalog", headers=h(alice)).status_code == 404  # started
        app.router.routes.append(Route("/catalog", catalog, middleware=[Middleware(_Echo)]))
        first = c.get("/catalog", headers=h(alice, **{"X-Tag": "alice-secret"}))
        second = c.get("/catalog", headers=h(bob))
        assert c.get("/catalog").status_code == 401
    _assert_not_replayed(first, second)
    assert "stored" not in cache_status(first)
