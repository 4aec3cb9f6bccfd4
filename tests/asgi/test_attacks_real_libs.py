"""Attacks through real third-party FastAPI/Starlette libraries, used as their READMEs
show: asgi-correlation-id and starlette-context (a middleware copies request headers into
a context variable the endpoint reads) and slowapi (a rate-limit decorator that reads
Starlette's own ``Request`` and adds headers to the response).

Each asserts that one caller's request never decides what another caller is served.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI, Request, Response, Security
from fastapi.testclient import TestClient

from cacheward.fastapi import Cacheward, Principal
from cacheward.keys import MemoryKeyStore

from .asgiapp import SECRET, h


def _app():
    app = FastAPI()
    store = MemoryKeyStore()
    ward = Cacheward(app, keys=store, secret=SECRET)
    alice = store.create("alice").plaintext
    bob = store.create("bob").plaintext
    return app, ward, alice, bob


def test_asgi_correlation_id_of_one_caller_is_never_served_to_another():
    from asgi_correlation_id import CorrelationIdMiddleware, correlation_id

    app, ward, alice, bob = _app()
    app.add_middleware(CorrelationIdMiddleware)

    @app.get("/catalog")
    @ward.cached(ttl=60, scope="shared")
    async def catalog(p: Principal = Security(ward.protected())):  # noqa: B008
        # "Include the request id in the body so support can find the logs."
        return {"items": ["tea"], "request_id": correlation_id.get()}

    alices, bobs = uuid.uuid4().hex, uuid.uuid4().hex
    with TestClient(app) as c:
        first = c.get("/catalog", headers=h(alice, **{"X-Request-ID": alices}))
        assert first.json()["request_id"] == alices
        victim = c.get("/catalog", headers=h(bob, **{"X-Request-ID": bobs}))
        assert victim.json()["request_id"] == bobs, "Bob was served Alice's request id"
        assert victim.headers["x-request-id"] == bobs
        assert "hit" not in victim.headers["cache-status"]


def test_asgi_correlation_id_response_header_of_one_caller_is_never_replayed():
    """The library's plain usage: the endpoint never reads the id, the middleware only
    appends ``X-Request-ID`` to each response. A stored response carried Alice's id, and
    a hit (replayed inside the middleware) went to Bob with hers and his."""
    from asgi_correlation_id import CorrelationIdMiddleware

    app, ward, alice, bob = _app()
    app.add_middleware(CorrelationIdMiddleware)

    @app.get("/catalog")
    @ward.cached(ttl=60, scope="shared")
    async def catalog(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"items": ["tea"]}

    alices, bobs = uuid.uuid4().hex, uuid.uuid4().hex
    with TestClient(app) as c:
        c.get("/catalog", headers=h(alice, **{"X-Request-ID": alices}))
        victim = c.get("/catalog", headers=h(bob, **{"X-Request-ID": bobs}))
        assert victim.headers.get_list("x-request-id") == [bobs], (
            "Bob was served Alice's X-Request-ID"
        )


def test_starlette_context_plugins_of_one_caller_are_never_served_to_another():
    from starlette_context import context, plugins
    from starlette_context.middleware import RawContextMiddleware

    app, ward, alice, bob = _app()
    app.add_middleware(
        RawContextMiddleware, plugins=(plugins.RequestIdPlugin(), plugins.UserAgentPlugin())
    )

    @app.get("/whoami")
    @ward.cached(ttl=60, scope="shared")
    async def whoami(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"agent": context.data.get("User-Agent")}

    with TestClient(app) as c:
        c.get("/whoami", headers=h(alice, **{"User-Agent": "<script>alice</script>"}))
        victim = c.get("/whoami", headers=h(bob, **{"User-Agent": "bob-cli/1.0"}))
        assert victim.json() == {"agent": "bob-cli/1.0"}, "Bob was served Alice's User-Agent"


def _limiter():
    from slowapi import Limiter, _rate_limit_exceeded_handler
    from slowapi.errors import RateLimitExceeded

    def per_key(request: Request) -> str:
        # Rate limits per API key, the usual choice for a key-authenticated API.
        return request.headers.get("x-api-key", "")

    limiter = Limiter(key_func=per_key, headers_enabled=True)
    return limiter, RateLimitExceeded, _rate_limit_exceeded_handler


def test_slowapi_above_cached_never_replays_another_callers_rate_limit_headers():
    app, ward, alice, bob = _app()
    limiter, exceeded, handler = _limiter()
    app.state.limiter = limiter
    app.add_exception_handler(exceeded, handler)

    @app.get("/quota")
    @limiter.limit("5/minute")
    @ward.cached(ttl=60, scope="shared")
    async def quota(
        request: Request,
        response: Response,
        p: Principal = Security(ward.protected()),  # noqa: B008
    ):
        return {"ok": True}

    with TestClient(app) as c:
        assert c.get("/quota", headers=h(alice)).headers["x-ratelimit-remaining"] == "4"
        c.get("/quota", headers=h(bob))
        second = c.get("/quota", headers=h(bob))
        assert second.headers.get_list("x-ratelimit-remaining") == ["3"], (
            "Bob was served the X-RateLimit-Remaining of Alice's stored response"
        )


def test_slowapi_below_cached_counts_every_request():
    """The other order: the limiter gets the recording Request and reads its state, so
    nothing is stored and no hit can skip the limit."""
    app, ward, alice, _ = _app()
    limiter, exceeded, handler = _limiter()
    app.state.limiter = limiter
    app.add_exception_handler(exceeded, handler)

    @app.get("/quota")
    @ward.cached(ttl=60, scope="shared")
    @limiter.limit("2/minute")
    async def quota(
        request: Request,
        response: Response,
        p: Principal = Security(ward.protected()),  # noqa: B008
    ):
        return {"ok": True}

    with TestClient(app) as c:
        served = [c.get("/quota", headers=h(alice)) for _ in range(3)]
    assert [r.status_code for r in served] == [200, 200, 429]
    assert all("hit" not in r.headers.get("cache-status", "") for r in served)


def test_unread_context_lets_a_correlation_id_app_cache_again():
    """asgi-correlation-id sets its context variable on every request, so by default
    nothing is stored (the guard cannot see whether the endpoint reads it). Naming it in
    ``unread_context`` stores again, and the middleware still runs on every hit: each
    caller gets only their own ``X-Request-ID``."""
    from asgi_correlation_id import CorrelationIdMiddleware

    def build(**settings):
        app = FastAPI()
        store = MemoryKeyStore()
        ward = Cacheward(app, keys=store, secret=SECRET, **settings)
        app.add_middleware(CorrelationIdMiddleware)

        @app.get("/catalog")
        @ward.cached(ttl=60, scope="shared")
        async def catalog(p: Principal = Security(ward.protected())):  # noqa: B008
            return {"items": ["tea"]}

        return app, store.create("alice").plaintext, store.create("bob").plaintext

    app, alice, bob = build()
    with TestClient(app) as c:
        c.get("/catalog", headers=h(alice))
        again = c.get("/catalog", headers=h(bob))
        assert "hit" not in again.headers["cache-status"]  # fail closed by default

    app, alice, bob = build(unread_context=["correlation_id"])
    alices, bobs = uuid.uuid4().hex, uuid.uuid4().hex
    with TestClient(app) as c:
        c.get("/catalog", headers=h(alice, **{"X-Request-ID": alices}))
        hit = c.get("/catalog", headers=h(bob, **{"X-Request-ID": bobs}))
        assert "hit" in hit.headers["cache-status"]
        assert hit.headers.get_list("x-request-id") == [bobs]


def test_unread_context_must_be_a_list_of_names():
    import pytest

    from cacheward.errors import ConfigurationError

    for bad in ("correlation_id", [""], [3]):
        with pytest.raises(ConfigurationError, match="unread_context"):
            Cacheward(FastAPI(), keys=MemoryKeyStore(), secret=SECRET, unread_context=bad)
