"""Attacks through channels the guard's recorder may not see: exception handlers,
middleware inside the guard, scope copies, Request subclasses and ``Annotated``,
``dependency_overrides``, compression, the credential itself and ``vars(request)``.

Each test builds the smallest app that an honest developer might write, then checks
that one caller's request never decides what another caller (or another request of the
same caller with other inputs) is served.
"""

from __future__ import annotations

import inspect
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Header, Request, Security
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.testclient import TestClient
from starlette.middleware.base import BaseHTTPMiddleware

from cacheward.fastapi import Cacheward, Principal
from cacheward.keys import MemoryKeyStore

from .asgiapp import SECRET, guarded, h


class Boom(Exception):
    pass


def test_an_exception_handler_returning_200_is_not_stored_with_what_it_read():
    """The handler gets Starlette's own Request, not the recording one: whatever it
    reads is invisible to the guard, so its 200 must not be stored."""
    app, ward, _, alice, bob = guarded()

    @app.exception_handler(Boom)
    async def fallback(request: Request, exc: Boom):
        return JSONResponse({"note": request.headers.get("x-note")}, status_code=200)

    @app.get("/fragile")
    @ward.cached(ttl=60, scope="shared")
    async def fragile(p: Principal = Security(ward.protected())):  # noqa: B008
        raise Boom()

    with TestClient(app) as c:
        poisoned = c.get("/fragile", headers=h(alice, **{"X-Note": "<script>evil</script>"}))
        assert poisoned.json() == {"note": "<script>evil</script>"}
        victim = c.get("/fragile", headers=h(bob))
        assert victim.json() == {"note": None}, "Bob was served Alice's poisoned handler 200"
        assert "hit" not in victim.headers["cache-status"]


class _Note(BaseHTTPMiddleware):
    """Adds a response header only when the request asks for it (a debug/trace echo)."""

    async def dispatch(self, request, call_next):
        response = await call_next(request)
        note = request.headers.get("x-note")
        if note:
            response.headers["X-Note"] = note
        return response


def test_a_middleware_that_copies_a_request_header_into_the_response_is_not_replayed():
    """A middleware added with ``app.add_middleware`` runs inside the guard and reads the
    raw scope: the guard cannot see that read, so what it added is never stored; the
    route's own response is, and the middleware runs again on every hit."""
    app, ward, _, alice, bob = guarded()
    app.add_middleware(_Note)

    @app.get("/catalog")
    @ward.cached(ttl=60, scope="shared")
    async def catalog(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"items": ["tea"]}

    with TestClient(app) as c:
        first = c.get("/catalog", headers=h(alice, **{"X-Note": "alice-was-here"}))
        assert first.headers["x-note"] == "alice-was-here"
        assert first.headers["cache-status"].endswith("stored")
        victim = c.get("/catalog", headers=h(bob))
        assert "x-note" not in victim.headers, (
            "Bob was replayed a response header a middleware derived from Alice's request"
        )
        assert victim.headers["cache-status"] == "cacheward; hit"
        again = c.get("/catalog", headers=h(bob, **{"X-Note": "bob-now"}))
        assert again.headers["cache-status"] == "cacheward; hit"
        assert again.headers["x-note"] == "bob-now", "the middleware did not run on the hit"


class _PageFromHeader:
    """Pure ASGI middleware that maps ``X-Page`` into the query string, on a copy of the
    scope (as many rewriting middlewares do)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            page = dict(scope["headers"]).get(b"x-page")
            if page is not None:
                scope = {**scope, "query_string": b"page=" + page}
        await self.app(scope, receive, send)


def test_a_middleware_that_rewrites_a_copied_scope_is_keyed_by_what_the_endpoint_saw():
    app, ward, _, alice, bob = guarded()
    app.add_middleware(_PageFromHeader)

    @app.get("/items")
    @ward.cached(ttl=60, scope="shared")
    async def items(request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        return {"page": request.query_params.get("page")}

    with TestClient(app) as c:
        assert c.get("/items", headers=h(alice, **{"X-Page": "666"})).json() == {"page": "666"}
        victim = c.get("/items", headers=h(bob))
        assert victim.json() == {"page": None}, "the key used the scope before the rewrite"


class MyRequest(Request):
    """A project's own Request subclass (FastAPI injects the request for it)."""


def test_a_request_subclass_parameter_is_served_never_a_500():
    """FastAPI injects the request into a parameter annotated with a Request subclass;
    the guard must either record it or refuse at import time, never break the call."""
    app, ward, _, alice, bob = guarded()

    @app.get("/sub")
    @ward.cached(ttl=60, scope="shared")
    async def sub(request: MyRequest, p: Principal = Security(ward.protected())):  # noqa: B008
        return {"note": request.headers.get("x-note")}

    with TestClient(app, raise_server_exceptions=False) as c:
        first = c.get("/sub", headers=h(alice, **{"X-Note": "poison"}))
        assert first.status_code == 200, first.text
        assert c.get("/sub", headers=h(bob)).json() == {"note": None}


def test_an_annotated_request_parameter_is_recorded():
    app, ward, _, alice, bob = guarded()

    @app.get("/annotated")
    @ward.cached(ttl=60, scope="shared")
    async def annotated(
        request: Annotated[Request, "the request"],
        p: Principal = Security(ward.protected()),  # noqa: B008
    ):
        return {"note": request.headers.get("x-note")}

    with TestClient(app) as c:
        c.get("/annotated", headers=h(alice, **{"X-Note": "poison"}))
        victim = c.get("/annotated", headers=h(bob))
        assert victim.json() == {"note": None}, "an unrecorded Request was cached"


def test_dependency_overrides_that_read_the_request_are_not_stored():
    """The guard reads the route's dependency tree once; an override FastAPI solves in
    its place may read anything."""
    app, ward, _, alice, bob = guarded()

    def lang(accept_language: str | None = Header(None)) -> str | None:  # noqa: B008
        return accept_language

    @app.get("/lang")
    @ward.cached(ttl=60, scope="shared")
    async def by_lang(
        value: str | None = Depends(lang),  # noqa: B008
        p: Principal = Security(ward.protected()),  # noqa: B008
    ):
        return {"lang": value}

    def sneaky(request: Request) -> str | None:
        return request.headers.get("x-note")

    with TestClient(app) as c:
        assert c.get("/lang", headers=h(alice, **{"Accept-Language": "fr"})).json() == {
            "lang": "fr"
        }
        app.dependency_overrides[lang] = sneaky
        c.get("/lang", headers=h(alice, **{"X-Note": "poison"}))
        victim = c.get("/lang", headers=h(bob))
        assert victim.json() == {"lang": None}, "an override's unrecorded read was cached"


def test_a_compressed_entry_is_never_served_to_a_caller_that_did_not_accept_it():
    from starlette.middleware.gzip import GZipMiddleware

    app, ward, _, alice, bob = guarded()
    app.add_middleware(GZipMiddleware, minimum_size=10)

    @app.get("/big")
    @ward.cached(ttl=60, scope="shared")
    async def big(p: Principal = Security(ward.protected())):  # noqa: B008
        return PlainTextResponse("x" * 2000)

    with TestClient(app) as c:
        c.get("/big", headers=h(alice, **{"Accept-Encoding": "gzip"}))
        victim = c.get("/big", headers=h(bob, **{"Accept-Encoding": "identity"}))
        assert victim.headers.get("content-encoding") in (None, "identity"), (
            "a gzip entry was replayed to a caller that accepts only identity"
        )
        assert victim.content == b"x" * 2000


def test_two_keys_of_one_principal_never_share_what_the_credential_decided():
    """Reading the credential header reads which key (and part of its secret): it must
    vary on ``:key-id``, not only on the principal."""
    app, ward, store, _, _ = guarded()
    first = store.create("carol").plaintext
    second = store.create("carol").plaintext

    @app.get("/which-key")
    @ward.cached(ttl=60)
    async def which_key(request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        return {"ends": request.headers["x-api-key"][-4:]}

    with TestClient(app) as c:
        assert c.get("/which-key", headers=h(first)).json() == {"ends": first[-4:]}
        other = c.get("/which-key", headers=h(second))
        assert other.json() == {"ends": second[-4:]}, "key 2 was served a fragment of key 1"


def test_vars_of_the_request_is_an_unknown_read():
    app, ward, _, alice, bob = guarded()

    @app.get("/vars")
    @ward.cached(ttl=60, scope="shared")
    async def by_vars(request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        # Before the fix, vars() gave the recorder's own dict, holding the raw Request.
        raw = next((v for v in vars(request).values() if isinstance(v, Request)), None)
        return {"note": None if raw is None else raw.headers.get("x-note")}

    with TestClient(app) as c:
        first = c.get("/vars", headers=h(alice, **{"X-Note": "poison"}))
        assert "unkeyed-input" in first.headers["cache-status"]
        assert c.get("/vars", headers=h(bob)).json() == {"note": None}


def test_plain_starlette_exception_handlers_and_copied_scopes_too():
    from starlette.applications import Starlette
    from starlette.routing import Route

    from cacheward.starlette import Cacheward as StarletteCacheward

    store = MemoryKeyStore()
    alice = store.create("alice").plaintext
    bob = store.create("bob").plaintext
    sward = StarletteCacheward(keys=store, secret=SECRET)

    @sward.protected()
    @sward.cached(ttl=60, scope="shared")
    async def fragile(request):
        raise Boom()

    @sward.protected()
    @sward.cached(ttl=60, scope="shared")
    async def items(request):
        return JSONResponse({"page": request.query_params.get("page")})

    async def fallback(request, exc):
        return JSONResponse({"note": request.headers.get("x-note")})

    app = Starlette(
        routes=[Route("/fragile", fragile), Route("/items", items)],
        exception_handlers={Boom: fallback},
    )
    app.add_middleware(_PageFromHeader)
    sward.init_app(app)
    with TestClient(app) as c:
        c.get("/fragile", headers=h(alice, **{"X-Note": "poison"}))
        assert c.get("/fragile", headers=h(bob)).json() == {"note": None}
        assert c.get("/items", headers=h(alice, **{"X-Page": "9"})).json() == {"page": "9"}
        assert c.get("/items", headers=h(bob)).json() == {"page": None}


def test_a_compressed_entry_is_stored_when_the_route_varies_on_accept_encoding():
    from starlette.middleware.gzip import GZipMiddleware

    app, ward, _, alice, bob = guarded()
    app.add_middleware(GZipMiddleware, minimum_size=10)

    @app.get("/big")
    @ward.cached(ttl=60, scope="shared", vary=["Accept-Encoding"])
    async def big(p: Principal = Security(ward.protected())):  # noqa: B008
        return PlainTextResponse("x" * 2000)

    with TestClient(app) as c:
        gz = {"Accept-Encoding": "gzip"}
        assert c.get("/big", headers=h(alice, **gz)).headers["cache-status"].endswith("stored")
        again = c.get("/big", headers=h(bob, **gz))
        assert again.headers["cache-status"] == "cacheward; hit"
        assert again.content == b"x" * 2000  # decoded by the client: a real gzip body
        plain = c.get("/big", headers=h(bob, **{"Accept-Encoding": "identity"}))
        assert "hit" not in plain.headers["cache-status"]
        assert plain.headers.get("content-encoding") is None


def test_an_override_of_another_routes_dependency_keeps_this_route_cached():
    app, ward, _, alice, _ = guarded()

    def unrelated() -> str:
        return "db"

    @app.get("/plain")
    @ward.cached(ttl=60)
    async def plain(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"id": p.id}

    app.dependency_overrides[unrelated] = lambda: "fake db"
    with TestClient(app) as c:
        assert c.get("/plain", headers=h(alice)).headers["cache-status"].endswith("stored")
        assert c.get("/plain", headers=h(alice)).headers["cache-status"] == "cacheward; hit"


@pytest.mark.skipif(
    "scope" not in inspect.signature(Depends).parameters,
    reason="this FastAPI has no Depends(scope=...) (yield dependencies end after the response)",
)
def test_a_handler_for_a_yield_dependencys_teardown_is_not_stored():
    """The endpoint returned normally; a ``yield`` dependency's exit (run before the
    response with ``scope="function"``) raised, and a sync handler made a 200."""
    app, ward, _, alice, bob = guarded()
    failures = iter([True])

    @app.exception_handler(Boom)
    def fallback(request: Request, exc: Boom):
        return JSONResponse({"note": request.headers.get("x-note")})

    async def session():
        yield "db"
        if next(failures, False):
            raise Boom()  # a commit that failed once

    @app.get("/commit")
    @ward.cached(ttl=60, scope="shared")
    async def commit(
        db: str = Depends(session, scope="function"),  # noqa: B008
        p: Principal = Security(ward.protected()),  # noqa: B008
    ):
        return {"note": None, "db": db}

    with TestClient(app) as c:
        assert c.get("/commit", headers=h(alice, **{"X-Note": "poison"})).json() == {
            "note": "poison"
        }
        victim = c.get("/commit", headers=h(bob))
        assert victim.json() == {"note": None, "db": "db"}, "Bob got the handler's 200"


def test_a_middleware_that_turns_an_endpoint_error_into_a_200_is_not_stored():
    app, ward, _, alice, bob = guarded()

    @app.middleware("http")
    async def soften(request, call_next):
        try:
            return await call_next(request)
        except Boom:
            return JSONResponse({"note": request.headers.get("x-note")})

    @app.get("/soft")
    @ward.cached(ttl=60, scope="shared")
    async def soft(p: Principal = Security(ward.protected())):  # noqa: B008
        raise Boom()

    with TestClient(app) as c:
        c.get("/soft", headers=h(alice, **{"X-Note": "poison"}))
        assert c.get("/soft", headers=h(bob)).json() == {"note": None}


def test_fastapi_security_scopes_are_enforced_not_ignored():
    """``Security(dep, scopes=[...])`` is FastAPI's own way to require scopes; a guard
    that ignores it lets every valid key through."""
    app, ward, store, _, _ = guarded()
    weak = store.create("mallory", ["reports:read"]).plaintext
    strong = store.create("root", ["admin", "reports:read"]).plaintext

    @app.get("/admin")
    @ward.cached(ttl=60)
    async def admin(p: Principal = Security(ward.protected(), scopes=["admin"])):  # noqa: B008
        return {"secret": "admin only"}

    @app.get("/admin-uncached")
    async def admin_uncached(
        p: Principal = Security(ward.protected("reports:read"), scopes=["admin"]),  # noqa: B008
    ):
        return {"secret": "admin only"}

    def current_user(p: Principal = Security(ward.protected())) -> Principal:  # noqa: B008
        return p

    @app.get("/admin-chained")
    async def admin_chained(p: Principal = Security(current_user, scopes=["admin"])):  # noqa: B008
        return {"secret": "admin only"}

    with TestClient(app) as c:
        for path in ("/admin", "/admin-uncached", "/admin-chained"):
            assert c.get(path, headers=h(strong)).status_code == 200
            denied = c.get(path, headers=h(weak))
            assert denied.status_code == 403, f"{path}: a key without 'admin' got in"


@pytest.mark.parametrize("name", ["X-API-Key", "authorization", "X-Alt-Key"])
def test_vary_on_a_credential_header_is_refused_at_import(name):
    """``vary=["X-API-Key"]`` would put the raw API key into every cache key."""
    from cacheward.errors import ConfigurationError
    from cacheward.starlette import Cacheward as StarletteCacheward

    app = FastAPI()
    ward = Cacheward(app, keys=MemoryKeyStore(), secret=SECRET, credential_headers=["X-Alt-Key"])
    with pytest.raises(ConfigurationError, match="credential"):

        @app.get("/v")
        @ward.cached(ttl=60, scope="shared", vary=[name])
        async def v(p: Principal = Security(ward.protected())):  # noqa: B008
            return {}

    sward = StarletteCacheward(
        keys=MemoryKeyStore(), secret=SECRET, credential_headers=["X-Alt-Key"]
    )
    with pytest.raises(ConfigurationError, match="credential"):
        sward.cached(ttl=60, vary=[name])
