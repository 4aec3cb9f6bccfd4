"""Round three of attacks on the ASGI guard: channels the earlier suites never tried.

Context variables set inside the guard (the correlation-id and "global request"
patterns), a decorator above ``@ward.cached`` that gets Starlette's own ``Request``
(slowapi's shape), the raw URL against the canonical key (query order and encoding,
the default port), app-wide and ``include_router`` dependencies, class and callable-object
dependencies, ``BackgroundTasks``, lifespan state, path converters, trailing-slash
redirects, ``Range`` on a hit, a key revoked while its miss runs, and a backend that
fails mid-request.

Each test is the smallest app an honest developer might write; each asserts that one
caller's request never decides what another caller (or the same caller with other
inputs) is served.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    FastAPI,
    Header,
    Request,
    Response,
    Security,
)
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from cacheward.fastapi import Cacheward, Principal
from cacheward.keys import MemoryKeyStore

from .asgiapp import SECRET, h


def _app(app: FastAPI | None = None, **settings: Any):
    app = app or FastAPI()
    store = MemoryKeyStore()
    ward = Cacheward(app, keys=store, secret=SECRET, **settings)
    alice = store.create("alice").plaintext
    bob = store.create("bob").plaintext
    return app, ward, store, alice, bob


def _status(response: httpx.Response) -> str:
    return response.headers.get("cache-status", "")


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
    app, ward, _, alice, bob = _app()
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


#: The "global request" recipe (a middleware puts the raw Request in a context variable
#: so that code far from the endpoint can read it).
current_request: contextvars.ContextVar[Request | None] = contextvars.ContextVar(
    "test_current_request", default=None
)


def test_the_raw_request_reached_through_a_context_variable_is_not_stored():
    app, ward, _, alice, bob = _app()

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
    app, ward, _, alice, bob = _app()

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
    app, ward, _, alice, bob = _app()

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
        assert "stored" in _status(c.get("/rows", headers=h(alice)))
        again = c.get("/rows", headers=h(bob))
        assert "hit" in _status(again)
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


@pytest.mark.xfail(
    strict=True,
    reason=(
        "BUG: a context variable set by an ASGI wrapper outside the guard is in the context"
        " the request enters the guard with, so its read is unseen and replayed"
    ),
)
def test_a_context_variable_set_by_a_wrapper_outside_the_guard_is_not_replayed():
    app, ward, _, alice, bob = _app()

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


@pytest.mark.xfail(
    strict=True,
    reason=(
        "BUG: a decorator above @ward.cached gets Starlette's own Request; what it reads"
        " is unrecorded and the header it adds is stored and replayed"
    ),
)
def test_a_decorator_above_cached_that_reads_the_raw_request_is_not_replayed():
    app, ward, _, alice, bob = _app()

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


@pytest.mark.xfail(
    strict=True,
    reason=(
        "BUG: a custom APIRoute class's handler reads Starlette's own Request unrecorded;"
        " the header it adds is stored and replayed"
    ),
)
def test_a_custom_route_class_that_reads_the_raw_request_is_not_replayed():
    app, ward, _, alice, bob = _app()
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


@pytest.mark.xfail(
    strict=True,
    reason=(
        "BUG: the entry is the final response, but a hit is replayed from the endpoint,"
        " inside the middleware stack: every inner middleware runs on it a second time"
    ),
)
def test_a_hit_is_the_response_a_miss_sent_not_one_wrapped_twice():
    app, ward, _, alice, bob = _app()
    app.add_middleware(_Envelope)

    @app.get("/wrapped")
    @ward.cached(ttl=60, scope="shared")
    async def wrapped(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"v": 1}

    with TestClient(app) as c:
        miss = c.get("/wrapped", headers=h(alice))
        hit = c.get("/wrapped", headers=h(bob))
    assert "hit" in _status(hit)
    assert hit.json() == miss.json() == {"data": {"v": 1}}
    assert hit.headers.get_list("x-envelope") == ["1"]


# -- the raw URL against the canonical key ------------------------------------------------


def _self_link(app: FastAPI, ward: Cacheward) -> None:
    @app.get("/search", response_class=HTMLResponse)
    @ward.cached(ttl=60, scope="shared")
    async def search(request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        # A "share this search" link, pasted as is: Starlette's URL is what was sent.
        return f'<a href="{request.url}">this search</a>'


async def _raw_get(app: Any, path: str, query: bytes, key: str) -> tuple[int, bytes]:
    """One GET straight through the ASGI interface, with the query bytes exactly as a
    server hands them over (httpx would percent-encode ``<`` first)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
        "root_path": "", "headers": [(b"host", b"api"), (b"x-api-key", key.encode())],
        "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 80), "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


@pytest.mark.anyio
async def test_the_raw_query_spelling_of_one_caller_is_never_served_to_another():
    """The key holds the query parsed and sorted; ``request.url`` is the query as sent.
    Alice's spelling (a raw ``<``, as uvicorn passes it on) must not reach Bob, who sent
    the same parameters percent-encoded: a reflected-XSS entry made from a safe URL."""
    app, ward, _, alice, bob = _app()
    _self_link(app, ward)
    await _raw_get(app, "/search", b"page=1&q=<script>x</script>", alice)
    await _raw_get(app, "/search", b"q=<script>x</script>&page=1", alice)
    status, victim = await _raw_get(app, "/search", b"page=1&q=%3Cscript%3Ex%3C%2Fscript%3E", bob)
    assert status == 200
    assert b"<script>" not in victim, "Bob was served Alice's raw query spelling"
    assert b"page=1&q=%3Cscript%3Ex%3C%2Fscript%3E" in victim


def test_the_query_order_of_one_caller_is_never_served_to_another():
    app, ward, _, alice, bob = _app()
    _self_link(app, ward)
    with TestClient(app) as c:
        c.get("/search?q=tea&page=1", headers=h(alice))
        victim = c.get("/search?page=1&q=tea", headers=h(bob))
        assert "search?page=1&amp;q=tea" in victim.text or "search?page=1&q=tea" in victim.text


def test_the_raw_query_is_still_cached_when_it_is_the_canonical_spelling():
    app, ward, _, alice, bob = _app()
    _self_link(app, ward)
    with TestClient(app) as c:
        first = c.get("/search?page=1&q=tea", headers=h(alice))
        assert "stored" in _status(first)
        again = c.get("/search?page=1&q=tea", headers=h(bob))
        assert "hit" in _status(again)
        assert again.text == first.text
        # The spelling docs/fastapi.md promises is stored.
        assert "stored" in _status(c.get("/search?page=1&q=green+tea", headers=h(alice)))


def test_the_default_port_of_one_caller_is_never_served_to_another():
    """``Host: api:80`` and ``Host: api`` share a key (the default port is dropped), but
    ``request.url`` keeps the ``:80`` that was sent."""
    app, ward, _, alice, bob = _app()
    _self_link(app, ward)
    with TestClient(app, base_url="http://api") as c:
        c.get("/search?q=tea", headers=h(alice, Host="api:80"))
        victim = c.get("/search?q=tea", headers=h(bob, Host="api"))
        assert "api:80" not in victim.text, "Bob was served the port Alice's Host carried"


# -- dependencies declared away from the endpoint -----------------------------------------


def _reads_request(request: Request) -> str | None:
    return request.headers.get("x-note")


def test_app_wide_and_include_router_dependencies_that_read_the_request_are_not_stored():
    note: contextvars.ContextVar[str | None] = contextvars.ContextVar("test_note", default=None)

    def remember_note(request: Request) -> None:
        note.set(request.headers.get("x-note"))

    for where in ("app", "include_router"):
        app = FastAPI(dependencies=[Depends(remember_note)] if where == "app" else [])
        app, ward, _, alice, bob = _app(app)
        router = APIRouter()

        @router.get("/noted")
        @ward.cached(ttl=60, scope="shared")
        async def noted(p: Principal = Security(ward.protected())):  # noqa: B008
            return {"note": note.get()}

        extra = [Depends(remember_note)] if where == "include_router" else []
        app.include_router(router, dependencies=extra)
        with TestClient(app) as c:
            c.get("/noted", headers=h(alice, **{"X-Note": "poison"}))
            victim = c.get("/noted", headers=h(bob))
            assert victim.json() == {"note": None}, f"{where}: Bob was served Alice's note"


class _Pager:
    """A class dependency (FastAPI's "classes as dependencies")."""

    def __init__(self, x_page_size: int = Header(10)) -> None:  # noqa: B008
        self.size = x_page_size


class _Locale:
    """A callable object dependency with per-instance configuration."""

    def __init__(self, default: str) -> None:
        self.default = default

    def __call__(self, request: Request) -> str:
        return request.headers.get("accept-language", self.default)


# FastAPI 0.110 resolves a callable object's string annotations in no module (it has no
# __globals__): give it the class itself, as a module without `from __future__` would.
_Locale.__call__.__annotations__["request"] = Request


def test_class_and_callable_object_dependencies_are_keyed_or_unstorable():
    app, ward, _, alice, bob = _app()
    locale = _Locale("en")

    @app.get("/paged")
    @ward.cached(ttl=60, scope="shared")
    async def paged(pager: _Pager = Depends(), p: Principal = Security(ward.protected())):  # noqa: B008
        return {"size": pager.size}

    @app.get("/localized")
    @ward.cached(ttl=60, scope="shared")
    async def localized(
        lang: str = Depends(locale),  # noqa: B008
        p: Principal = Security(ward.protected()),  # noqa: B008
    ):
        return {"lang": lang}

    with TestClient(app) as c:
        c.get("/paged", headers=h(alice, **{"X-Page-Size": "99"}))
        assert c.get("/paged", headers=h(bob)).json() == {"size": 10}
        stored = c.get("/paged", headers=h(bob))
        assert "hit" in _status(stored), "a class dependency's Header() is keyed, not unstorable"
        c.get("/localized", headers=h(alice, **{"Accept-Language": "fr"}))
        assert c.get("/localized", headers=h(bob)).json() == {"lang": "en"}


# -- what runs around the endpoint ---------------------------------------------------------


def test_background_tasks_run_on_a_miss_and_never_change_the_stored_response():
    app, ward, _, alice, bob = _app()
    ran: list[str] = []

    @app.get("/audit")
    @ward.cached(ttl=60, scope="shared")
    async def audit(
        request: Request,
        tasks: BackgroundTasks,
        p: Principal = Security(ward.protected()),  # noqa: B008
    ):
        # The task runs after the response is sent, hence after the store decision:
        # what it reads cannot have shaped the stored body.
        tasks.add_task(lambda: ran.append(request.headers.get("x-note") or "-"))
        return {"ok": True}

    with TestClient(app) as c:
        first = c.get("/audit", headers=h(alice, **{"X-Note": "alice"}))
        assert "stored" in _status(first)
        assert ran == ["alice"]
        second = c.get("/audit", headers=h(bob))
        assert "hit" in _status(second)
        assert second.json() == {"ok": True}
    assert ran == ["alice"], "a hit runs no endpoint, so no background task either"


def test_lifespan_state_read_through_request_state_is_not_stored():
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield {"greeting": "hello"}

    app, ward, _, alice, bob = _app(FastAPI(lifespan=lifespan))

    @app.get("/hello")
    @ward.cached(ttl=60, scope="shared")
    async def hello(request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        return {"greeting": request.state.greeting}

    with TestClient(app) as c:
        first = c.get("/hello", headers=h(alice))
        assert first.json() == {"greeting": "hello"}
        assert "unkeyed-input" in _status(first)


def test_path_converters_and_trailing_slash_redirects_never_share_entries():
    app, ward, _, alice, bob = _app()

    @app.get("/files/{name:path}")
    @ward.cached(ttl=60, scope="shared")
    async def files(name: str, p: Principal = Security(ward.protected())):  # noqa: B008
        return {"name": name}

    @app.get("/n/{n:int}")
    @ward.cached(ttl=60, scope="shared")
    async def number(n: int, request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        return {"n": n, "path": request.url.path}

    with TestClient(app, follow_redirects=False) as c:
        assert c.get("/files/a/b", headers=h(alice)).json() == {"name": "a/b"}
        assert c.get("/files/a//b", headers=h(bob)).json() == {"name": "a//b"}
        assert c.get("/files/a%2Fb", headers=h(bob)).json() == {"name": "a/b"}
        assert c.get("/n/007", headers=h(alice)).json() == {"n": 7, "path": "/n/007"}
        assert c.get("/n/7", headers=h(bob)).json() == {"n": 7, "path": "/n/7"}
        moved = c.get("/files/", headers=h(alice))
        assert moved.status_code in (200, 307, 404)
        assert "stored" not in _status(moved) or moved.status_code == 200


# -- a key revoked while its miss runs; a backend failing mid-request ----------------------


@pytest.mark.anyio
async def test_a_key_revoked_while_its_miss_runs_is_refused_on_the_next_request():
    app, ward, store, alice, _ = _app()
    issued = store.create("eve")
    started, release = asyncio.Event(), asyncio.Event()

    @app.get("/slow")
    @ward.cached(ttl=60)
    async def slow(p: Principal = Security(ward.protected())):  # noqa: B008
        started.set()
        await release.wait()
        return {"for": p.id}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        first = asyncio.create_task(c.get("/slow", headers=h(issued.plaintext)))
        await started.wait()
        store.revoke(issued.id)
        release.set()
        assert (await first).json() == {"for": "eve"}
        again = await c.get("/slow", headers=h(issued.plaintext))
        assert again.status_code == 401
        assert "eve" not in again.text


@pytest.mark.anyio
async def test_redis_killed_while_a_miss_runs_serves_uncached_and_still_authenticates():
    from tests.support.redis import RedisServer

    server = RedisServer().start()
    try:
        app, ward, _, alice, _ = _app(backend=server.url)
        started, release = asyncio.Event(), asyncio.Event()

        @app.get("/me")
        @ward.cached(ttl=60)
        async def me(p: Principal = Security(ward.protected())):  # noqa: B008
            started.set()
            await release.wait()
            return {"me": p.id}

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            first = asyncio.create_task(c.get("/me", headers=h(alice)))
            await started.wait()
            server.kill()  # between the lookup and the store
            release.set()
            served = await first
            assert served.json() == {"me": "alice"}
            assert "stored" not in _status(served) and "hit" not in _status(served)
            assert served.headers["cache-control"].startswith("private")
            again = await c.get("/me", headers=h(alice))
            assert again.json() == {"me": "alice"}
            assert "backend-unavailable" in _status(again)
            assert (await c.get("/me")).status_code == 401
        assert ward.stats()["backend_errors"] >= 1
        await ward.state.backend.close()
    finally:
        server.cleanup()
