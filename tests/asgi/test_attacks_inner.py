"""Attacks through middleware *inside* the guard (``app.add_middleware``): between the
boundary, where the store decision is made, and the route, whose own response is what
a miss stores. Such middleware reads the raw scope, which the guard cannot record; so
nothing it adds may be stored, it must run again on every hit (answered by the
endpoint, below it), and whatever it does to the final response that marks it
unstorable (a ``Set-Cookie``, ``no-store``) must still keep the route's response out.
"""

from __future__ import annotations

from fastapi import FastAPI, Security
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.testclient import TestClient
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware

from cacheward.fastapi import Cacheward, Principal
from cacheward.keys import MemoryKeyStore

from .asgiapp import SECRET, h

HIT = "cacheward; hit"


def _app(*middleware, **settings):
    app = FastAPI()
    store = MemoryKeyStore()
    ward = Cacheward(app, keys=store, secret=SECRET, **settings)
    for cls, kwargs in middleware:
        app.add_middleware(cls, **kwargs)
    runs = []

    @app.api_route("/catalog", methods=["GET", "HEAD"])
    @ward.cached(ttl=60, scope="shared")
    async def catalog(p: Principal = Security(ward.protected())):  # noqa: B008
        runs.append("ran")
        return PlainTextResponse("tea " * 50)

    return app, ward, store.create("alice").plaintext, store.create("bob").plaintext, runs


def _no_flight_held(ward) -> bool:
    return not ward.state.backend._flights


def _stored(response) -> bool:
    return response.headers["cache-status"].endswith("stored")


class _Cookie(BaseHTTPMiddleware):
    """Sets a cookie from a request header (a tracking or preference cookie)."""

    async def dispatch(self, request, call_next):
        response = await call_next(request)
        pref = request.headers.get("x-pref")
        if pref:
            response.set_cookie("pref", pref)
        return response


def test_a_middleware_cookie_keeps_the_response_out_and_is_never_replayed():
    app, ward, alice, bob, runs = _app((_Cookie, {}))
    with TestClient(app) as c:
        first = c.get("/catalog", headers=h(alice, **{"X-Pref": "alice-secret"}))
        assert first.headers["set-cookie"].startswith("pref=alice-secret")
        assert not _stored(first), "a response with Set-Cookie was stored"
        assert first.headers["cache-control"] == "no-store"
        assert "etag" not in first.headers, "a guard ETag on a response it did not store"
        assert _stored(c.get("/catalog", headers=h(bob)))
        hit = c.get("/catalog", headers=h(alice, **{"X-Pref": "again"}))
        assert hit.headers["cache-status"] == HIT
        assert hit.headers["set-cookie"].startswith("pref=again")
        assert hit.headers["cache-control"] == "no-store", "a hit with a cookie left cacheable"
        clean = c.get("/catalog", headers=h(bob))
        assert clean.headers["cache-status"] == HIT
        assert "set-cookie" not in clean.headers, "Alice's cookie was replayed to Bob"
        assert len(runs) == 2
        assert _no_flight_held(ward)


class _BodyFromHeader:
    """Pure ASGI middleware that replaces the route's body with a request header."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        override = dict(scope.get("headers") or ()).get(b"x-body")
        if scope["type"] != "http" or override is None:
            await self.app(scope, receive, send)
            return

        async def rewrite(message):
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (k, v) for k, v in message["headers"] if k != b"content-length"
                ] + [(b"content-length", str(len(override)).encode())]
            elif message["type"] == "http.response.body":
                message["body"] = override if not message.get("more_body") else b""
            await send(message)

        await self.app(scope, receive, rewrite)


def test_a_middleware_that_rewrites_the_body_from_a_header_is_never_stored():
    app, ward, alice, bob, runs = _app((_BodyFromHeader, {}))
    with TestClient(app) as c:
        poisoned = c.get("/catalog", headers=h(alice, **{"X-Body": "<script>evil</script>"}))
        assert poisoned.text == "<script>evil</script>"
        assert _stored(poisoned)  # the route's own body, not this one
        victim = c.get("/catalog", headers=h(bob))
        assert victim.headers["cache-status"] == HIT
        assert victim.text == "tea " * 50, "Bob was served the body Alice's header made"
        rewritten = c.get("/catalog", headers=h(bob, **{"X-Body": "bob's"}))
        assert rewritten.headers["cache-status"] == HIT
        assert rewritten.text == "bob's", "the middleware did not run on the hit"
        assert len(runs) == 1
        assert _no_flight_held(ward)


class _Campaign(BaseHTTPMiddleware):
    """Reads a query parameter the key leaves out (``utm_*``) into a header."""

    async def dispatch(self, request, call_next):
        response = await call_next(request)
        campaign = request.query_params.get("utm_campaign")
        if campaign:
            response.headers["X-Campaign"] = campaign
        return response


def test_a_middleware_that_reads_an_unkeyed_query_parameter_is_not_replayed():
    app, _, alice, bob, runs = _app((_Campaign, {}))
    with TestClient(app) as c:
        first = c.get("/catalog?utm_campaign=evil", headers=h(alice))
        assert first.headers["x-campaign"] == "evil"
        victim = c.get("/catalog", headers=h(bob))
        assert victim.headers["cache-status"] == HIT
        assert "x-campaign" not in victim.headers
        own = c.get("/catalog?utm_campaign=spring", headers=h(bob))
        assert own.headers["cache-status"] == HIT
        assert own.headers["x-campaign"] == "spring"
        assert len(runs) == 1


class _Flavor(BaseHTTPMiddleware):
    """Varies its own part of the response on a header, and says so in ``Vary``."""

    async def dispatch(self, request, call_next):
        response = await call_next(request)
        response.headers["X-Flavor-Echo"] = request.headers.get("x-flavor", "plain")
        response.headers.append("Vary", "X-Flavor")
        return response


def test_a_middleware_vary_is_its_own_and_redone_on_every_hit():
    """Before, a ``Vary`` the key lacked kept the response out; what the middleware
    varies is now redone per request, and its ``Vary`` still reaches caches in front."""
    app, _, alice, bob, runs = _app((_Flavor, {}))
    with TestClient(app) as c:
        first = c.get("/catalog", headers=h(alice, **{"X-Flavor": "mint"}))
        assert _stored(first)
        assert first.headers["x-flavor-echo"] == "mint"
        hit = c.get("/catalog", headers=h(bob, **{"X-Flavor": "lemon"}))
        assert hit.headers["cache-status"] == HIT
        assert hit.headers["x-flavor-echo"] == "lemon", "Bob got Alice's flavour"
        assert "x-flavor" in hit.headers["vary"].lower()
        assert len(runs) == 1


class _Maintenance(BaseHTTPMiddleware):
    """Answers before the route runs when asked to (a maintenance or feature gate)."""

    async def dispatch(self, request, call_next):
        if request.headers.get("x-maintenance"):
            return JSONResponse({"maintenance": request.headers["x-maintenance"]})
        return await call_next(request)


def test_a_middleware_that_answers_before_the_route_is_never_stored_nor_served_a_hit():
    app, ward, alice, bob, runs = _app((_Maintenance, {}))
    with TestClient(app) as c:
        gate = c.get("/catalog", headers=h(alice, **{"X-Maintenance": "evil"}))
        assert gate.json() == {"maintenance": "evil"}
        assert "hit" not in gate.headers.get("cache-status", "")
        assert gate.headers["cache-control"] == "private"  # a credential, unmanaged
        real = c.get("/catalog", headers=h(bob))
        assert real.text == "tea " * 50, "the short-circuit response was stored"
        assert _stored(real)
        gated = c.get("/catalog", headers=h(bob, **{"X-Maintenance": "now"}))
        assert gated.json() == {"maintenance": "now"}, "a hit jumped the middleware"
        assert len(runs) == 1
        assert _no_flight_held(ward)


def test_cors_inside_the_guard_is_recomputed_for_each_origin():
    origins = ["https://a.example", "https://b.example"]
    app, _, alice, bob, runs = _app((CORSMiddleware, {"allow_origins": origins}))
    with TestClient(app) as c:
        first = c.get("/catalog", headers=h(alice, Origin="https://a.example"))
        assert first.headers["access-control-allow-origin"] == "https://a.example"
        assert _stored(first)
        other = c.get("/catalog", headers=h(bob, Origin="https://b.example"))
        assert other.headers["cache-status"] == HIT
        assert other.headers["access-control-allow-origin"] == "https://b.example"
        assert "origin" in other.headers["vary"].lower()
        stranger = c.get("/catalog", headers=h(bob, Origin="https://evil.example"))
        assert stranger.headers["cache-status"] == HIT
        assert "access-control-allow-origin" not in stranger.headers
        assert len(runs) == 1


def test_gzip_inside_the_guard_stores_the_identity_body_and_compresses_each_hit_anew():
    app, _, alice, bob, runs = _app((GZipMiddleware, {"minimum_size": 10}))
    with TestClient(app) as c:
        first = c.get("/catalog", headers=h(alice, **{"Accept-Encoding": "gzip"}))
        assert first.headers["content-encoding"] == "gzip"
        assert _stored(first)
        plain = c.get("/catalog", headers=h(bob, **{"Accept-Encoding": "identity"}))
        assert plain.headers["cache-status"] == HIT
        assert plain.headers.get("content-encoding") is None
        assert plain.content == b"tea " * 50
        zipped = c.get("/catalog", headers=h(bob, **{"Accept-Encoding": "gzip"}))
        assert zipped.headers["cache-status"] == HIT
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.content == b"tea " * 50
        assert len(runs) == 1


def test_a_304_and_head_on_a_hit_pass_through_the_inner_middleware():
    app, _, alice, bob, _ = _app((GZipMiddleware, {"minimum_size": 10}), (_Flavor, {}))
    with TestClient(app) as c:
        first = c.get("/catalog", headers=h(alice, **{"Accept-Encoding": "gzip"}))
        etag = first.headers["etag"]
        hit = c.get("/catalog", headers=h(bob))
        assert hit.headers["etag"] == etag, "the miss and the hit told different validators"
        not_modified = c.get("/catalog", headers=h(bob, **{"If-None-Match": etag}))
        assert not_modified.status_code == 304
        assert not_modified.content == b""
        assert not_modified.headers["x-flavor-echo"] == "plain"
        head = c.head("/catalog", headers=h(bob))
        assert head.status_code == 200
        assert head.headers["cache-status"] == HIT
        assert head.content == b""


class _NoStore(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        response = await call_next(request)
        if request.headers.get("x-private"):
            response.headers["Cache-Control"] = "no-store"
        return response


def test_a_middleware_no_store_keeps_the_route_response_out():
    app, ward, alice, bob, runs = _app((_NoStore, {}))
    with TestClient(app) as c:
        first = c.get("/catalog", headers=h(alice, **{"X-Private": "1"}))
        assert not _stored(first)
        assert first.headers["cache-control"] == "no-store"
        assert "hit" not in c.get("/catalog", headers=h(bob)).headers["cache-status"]
        assert len(runs) == 2
        assert _no_flight_held(ward)


class _Soften404:
    """Turns the route's 404 into a 200 built from a request header."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def soften(message):
            if message["type"] == "http.response.start" and message["status"] == 404:
                message["status"] = 200
            await send(message)

        await self.app(scope, receive, soften)


def test_a_route_error_made_a_200_by_a_middleware_is_not_stored():
    app = FastAPI()
    store = MemoryKeyStore()
    ward = Cacheward(app, keys=store, secret=SECRET)
    app.add_middleware(_Soften404)
    alice, bob = store.create("alice").plaintext, store.create("bob").plaintext

    @app.get("/missing")
    @ward.cached(ttl=60, scope="shared")
    async def missing(p: Principal = Security(ward.protected())):  # noqa: B008
        return JSONResponse({"missing": True}, status_code=404)

    with TestClient(app) as c:
        first = c.get("/missing", headers=h(alice))
        assert first.status_code == 200
        assert not _stored(first), "the route's 404 was stored under a 200"
        assert "hit" not in c.get("/missing", headers=h(bob)).headers["cache-status"]
        assert _no_flight_held(ward)


class _Explode:
    """Raises after the route's response went by (a failing logging middleware)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)
        if dict(scope.get("headers") or ()).get(b"x-explode"):
            raise RuntimeError("boom")


def test_the_single_flight_lock_is_released_when_an_inner_middleware_raises():
    app, ward, alice, bob, runs = _app((_Explode, {}))
    with TestClient(app, raise_server_exceptions=False) as c:
        c.get("/catalog?v=1", headers=h(alice, **{"X-Explode": "1"}))
        assert _no_flight_held(ward)
        c.get("/catalog?v=2", headers=h(bob))
        assert _no_flight_held(ward)
