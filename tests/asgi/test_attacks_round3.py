"""Round three of attacks on the ASGI guard: what reaches an endpoint or its response
besides the recording ``Request``.

Context variables set inside the guard (the correlation-id and "global request"
patterns), a decorator above ``@ward.cached`` and a custom ``APIRoute`` class that get
Starlette's own ``Request`` (slowapi's shape, FastAPI's documented recipe), and a hit
replayed inside the middleware stack. URLs are in ``test_attacks_round3_urls.py``;
dependencies, background tasks, lifespan state, converters, revocation and Redis
failures in ``test_attacks_round3_lifecycle.py``.

Each test is the smallest app an honest developer might write; each asserts that one
caller's request never decides what another caller (or the same caller with other
inputs) is served.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Header, Request, Response, Security
from fastapi.testclient import TestClient

from cacheward.fastapi import Principal
from cacheward.keys import MemoryKeyStore

from .asgiapp import SECRET, cache_status, guarded, h

# -- context variables set between the guard and the endpoint -----------------------------

#: What asgi-correlation-id and starlette-context do: a middleware copies a request
#: header into a context variable, and any code (a log filter, the endpoint) reads it.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "test_request_id", default=None
)


class _CorrelationId:
    """Pure ASGI middleware in asgi-correlation-id's shape (``X-Request-ID``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"x-request-id", b"generated").decode()
            token = request_id.set(given)
            try:
                await self.app(scope, receive, send)
            finally:
                request_id.reset(token)
            return
        await self.app(scope, receive, send)


def test_a_context_variable_a_middleware_set_from_a_header_is_not_replayed():
    app, ward, _, alice, bob = guarded()
    app.add_middleware(_CorrelationId)

    @app.get("/catalog")
    @ward.cached(ttl=60, scope="shared")
    async def catalog(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"items": ["tea"], "request_id": request_id.get()}

    with TestClient(app) as c:
        c.get("/catalog", headers=h(alice, **{"X-Request-ID": "<img src=x onerror=alert(1)>"}))
        victim = c.get("/catalog", headers=h(bob, **{"X-Request-ID": "bob-1"}))
        assert victim.json()["request_id"] == "bob-1", (
            "Bob was served the request id Alice's request put in a context variable"
        )


@pytest.mark.anyio
async def test_concurrent_callers_each_get_their_own_context_variable():
    """Twenty callers at once on one shared key (single-flight makes them wait on each
    other's miss): none is served another's request id."""
    app, ward, store, _, _ = guarded()
    app.add_middleware(_CorrelationId)
    gate = asyncio.Event()

    @app.get("/catalog")
    @ward.cached(ttl=60, scope="shared")
    async def catalog(p: Principal = Security(ward.protected())):  # noqa: B008
        await gate.wait()
        return {"request_id": request_id.get()}

    callers = {f"c{i}": store.create(f"c{i}").plaintext for i in range(20)}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        sent = [
            asyncio.create_task(c.get("/catalog", headers=h(key, **{"X-Request-ID": name})))
            for name, key in callers.items()
        ]
        await asyncio.sleep(0)
        gate.set()
        served = await asyncio.gather(*sent)
    assert [r.json()["request_id"] for r in served] == list(callers)


#: The "global request" recipe (a middleware puts the raw Request in a context variable
#: so that code far from the endpoint can read it).
current_request: contextvars.ContextVar[Request | None] = contextvars.ContextVar(
    "test_current_request", default=None
)


def test_the_raw_request_reached_through_a_context_variable_is_not_stored():
    app, ward, _, alice, bob = guarded()

    @app.middleware("http")
    async def remember(request: Request, call_next: Any) -> Any:
        token = current_request.set(request)
        try:
            return await call_next(request)
        finally:
            current_request.reset(token)

    @app.get("/greeting")
    @ward.cached(ttl=60, scope="shared")
    async def greeting(p: Principal = Security(ward.protected())):  # noqa: B008
        raw = current_request.get()
        return {"lang": raw.headers.get("accept-language") if raw else None}

    with TestClient(app) as c:
        c.get("/greeting", headers=h(alice, **{"Accept-Language": "fr"}))
        victim = c.get("/greeting", headers=h(bob, **{"Accept-Language": "de"}))
        assert victim.json() == {"lang": "de"}, "Bob was served Alice's Accept-Language"


def test_a_context_variable_a_route_dependency_sets_is_keyed_or_unstorable():
    """A route-level dependency runs before ``ward.protected``: the variable it sets
    (here from a declared ``Header()``) makes the response unstorable, never shared."""
    tenant: contextvars.ContextVar[str] = contextvars.ContextVar("test_tenant", default="")
    app, ward, _, alice, bob = guarded()

    async def set_tenant(x_tenant: str = Header("none")) -> None:  # noqa: B008
        tenant.set(x_tenant)

    @app.get("/tenant", dependencies=[Depends(set_tenant)])
    @ward.cached(ttl=60, scope="shared")
    async def which(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"tenant": tenant.get()}

    with TestClient(app) as c:
        c.get("/tenant", headers=h(alice, **{"X-Tenant": "a"}))
        assert c.get("/tenant", headers=h(bob, **{"X-Tenant": "b"})).json() == {"tenant": "b"}


session: contextvars.ContextVar[str | None] = contextvars.ContextVar("test_session", default=None)


def test_a_context_variable_a_yield_dependency_sets_after_authentication_keeps_caching():
    """sqlmodel-style ``get_session`` dependencies that publish the session in a context
    variable: set after ``ward.protected`` ran, from nothing the caller sent, so the
    route stays cached."""
    app, ward, _, alice, bob = guarded()

    async def get_session():
        token = session.set("db-session")
        try:
            yield "db-session"
        finally:
            session.reset(token)

    @app.get("/rows")
    @ward.cached(ttl=60, scope="shared")
    async def rows(
        p: Principal = Security(ward.protected()),  # noqa: B008
        db: str = Depends(get_session),  # noqa: B008
    ):
        return {"db": session.get()}

    with TestClient(app) as c:
        assert "stored" in cache_status(c.get("/rows", headers=h(alice)))
        again = c.get("/rows", headers=h(bob))
        assert "hit" in cache_status(again)
        assert again.json() == {"db": "db-session"}


def test_a_context_variable_an_outer_middleware_sets_is_seen_by_a_plain_starlette_guard():
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from cacheward.starlette import Cacheward as StarletteCacheward

    store = MemoryKeyStore()
    sward = StarletteCacheward(keys=store, secret=SECRET)
    alice, bob = store.create("alice").plaintext, store.create("bob").plaintext

    @sward.protected()
    @sward.cached(ttl=60, scope="shared")
    async def catalog(request: Request) -> JSONResponse:
        return JSONResponse({"request_id": request_id.get()})

    app = Starlette(routes=[Route("/catalog", catalog)], middleware=[Middleware(_CorrelationId)])
    sward.init_app(app)
    with TestClient(app) as c:
        c.get("/catalog", headers=h(alice, **{"X-Request-ID": "alice-1"}))
        victim = c.get("/catalog", headers=h(bob, **{"X-Request-ID": "bob-1"}))
        assert victim.json() == {"request_id": "bob-1"}


def test_a_context_variable_set_by_a_wrapper_outside_the_guard_is_not_replayed():
    app, ward, _, alice, bob = guarded()

    @app.get("/catalog")
    @ward.cached(ttl=60, scope="shared")
    async def catalog(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"request_id": request_id.get()}

    outer = _CorrelationId(app)  # `app = CorrelationIdMiddleware(app)`, the pure-ASGI way
    with TestClient(outer) as c:
        c.get("/catalog", headers=h(alice, **{"X-Request-ID": "alice-1"}))
        victim = c.get("/catalog", headers=h(bob, **{"X-Request-ID": "bob-1"}))
        assert victim.json() == {"request_id": "bob-1"}


# -- a decorator above @ward.cached ------------------------------------------------------


def _rate_limited(func: Any) -> Any:
    """slowapi's ``@limiter.limit`` shape: it takes the endpoint's ``request`` (the raw
    one, since it runs before ``@ward.cached`` swaps it) and adds headers derived from
    it to the response the endpoint returned, or else to its ``response`` parameter."""

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        request: Request = kwargs["request"]
        result = await func(*args, **kwargs)
        client = request.headers.get("x-client")
        if client is not None:  # only when the caller names its client
            target = result if isinstance(result, Response) else kwargs["response"]
            target.headers["X-RateLimit-Client"] = client
        return result

    return wrapper


def test_a_decorator_above_cached_that_reads_the_raw_request_is_not_replayed():
    app, ward, _, alice, bob = guarded()

    @app.get("/quota")
    @_rate_limited
    @ward.cached(ttl=60, scope="shared")
    async def quota(
        request: Request,
        response: Response,
        p: Principal = Security(ward.protected()),  # noqa: B008
    ):
        return {"ok": True}

    with TestClient(app) as c:
        c.get("/quota", headers=h(alice, **{"X-Client": "alice-laptop"}))
        victim = c.get("/quota", headers=h(bob))
        assert "x-ratelimit-client" not in victim.headers, (
            "Bob was replayed a header a decorator above @ward.cached derived from Alice"
        )


def _tracing_route_class() -> type:
    """FastAPI's documented "custom APIRoute class" recipe: the route handler gets
    Starlette's own Request before any dependency, and may change the response."""
    from fastapi.routing import APIRoute

    class TracingRoute(APIRoute):
        def get_route_handler(self) -> Any:
            handler = super().get_route_handler()

            async def traced(request: Request) -> Response:
                response: Response = await handler(request)
                trace = request.headers.get("x-trace")
                if trace is not None:
                    response.headers["X-Trace"] = trace
                return response

            return traced

    return TracingRoute


def test_a_custom_route_class_that_reads_the_raw_request_is_not_replayed():
    app, ward, _, alice, bob = guarded()
    router = APIRouter(route_class=_tracing_route_class())

    @router.get("/traced")
    @ward.cached(ttl=60, scope="shared")
    async def traced(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"ok": True}

    app.include_router(router)
    with TestClient(app) as c:
        c.get("/traced", headers=h(alice, **{"X-Trace": "alice-trace"}))
        victim = c.get("/traced", headers=h(bob))
        assert "x-trace" not in victim.headers, "Bob was replayed Alice's X-Trace"


class _Envelope:
    """Pure ASGI middleware that wraps every JSON body as ``{"data": ...}`` and appends a
    header (an API-gateway convention)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def wrapped(message: Any) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = json.dumps({"data": json.loads(b"".join(chunks))}).encode()
            headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
            headers += [(b"content-length", str(len(body)).encode()), (b"x-envelope", b"1")]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, wrapped)


def test_a_hit_is_the_response_a_miss_sent_not_one_wrapped_twice():
    app, ward, _, alice, bob = guarded()
    app.add_middleware(_Envelope)

    @app.get("/wrapped")
    @ward.cached(ttl=60, scope="shared")
    async def wrapped(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"v": 1}

    with TestClient(app) as c:
        miss = c.get("/wrapped", headers=h(alice))
        hit = c.get("/wrapped", headers=h(bob))
    assert "hit" in cache_status(hit)
    assert hit.json() == miss.json() == {"data": {"v": 1}}
    assert hit.headers.get_list("x-envelope") == ["1"]
