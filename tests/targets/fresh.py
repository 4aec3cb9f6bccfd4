"""Targets of freshness evidence (issue 15 B): a cache behind the cache, where a body
with nothing per request in it cannot show it was stored; each has a fixed twin.

Each application cache keys on less than the URL, so a proxy in front reports a miss
on a fresh buster while the app serves one principal's stored body to everyone:

``/f/card``
    Flask-Caching's ``@cache.cached(timeout=60)`` above the auth decorator, a static
    per-user HTML card (no request id, no timestamp, no ``Cache-Control``).
``/f/memo``
    Authentication first, then a ``functools.lru_cache``'d renderer keyed on the path,
    which reads the principal inside (the key leaves it out). A JSON body, nothing volatile.
``/f/layer``
    A path-keyed application cache that announces itself the way Symfony's HttpCache
    does (``X-Symfony-Cache: GET /f/layer: fresh``), under a proxy's own ``X-Cache``.

Pages every caller may see (``PUBLIC``), in both twins, that must be neither a finding
nor inconclusive, because something shows each response was made for its request:

``/f/page``
    A public static HTML page cached per full URL, whose canonical link names the URL.
``/f/feed``
    A public static JSON document cached per full URL with a ``Link: <...>; rel=self``.
``/f/clock`` (trap)
    A public page with a random number and the time, cached per full URL.

``/f/me`` (uncached, a request id in every body) teaches the scan who each key is.
``/f/doc`` (``UNSHOWABLE``) is a public static page with nothing per request at all: a
page every key may see cannot be told from a path-keyed copy, so a keyed scan must call
it inconclusive and say what to pass.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable
from datetime import datetime, timezone
from html import escape
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, g, jsonify, make_response, request
from flask_caching import Cache

from .kit import authenticate, payload, private

ROUTES: dict[str, tuple[str, ...]] = {
    "/f/card": ("cross-key-leak", "anonymous-cache-leak", "auth-after-cache"),
    "/f/memo": ("cross-key-leak", "auth-after-cache"),
    "/f/layer": ("cross-key-leak", "anonymous-cache-leak", "auth-after-cache"),
}
#: What a shared proxy in front adds: it stores the uncontrolled 200s on the buster too.
AT_A_PROXY: dict[str, tuple[str, ...]] = {
    "/f/memo": ("anonymous-cache-leak", "cacheable-authenticated"),
    "/f/card": ("cacheable-authenticated",),
    "/f/layer": ("cacheable-authenticated",),
}
PUBLIC = ("/f/page", "/f/feed", "/f/clock")
ME = "/f/me"
UNSHOWABLE = "/f/doc"

SITE = "https://shop.example"

View = Callable[..., Any]


def _key_required(view: View) -> View:
    @functools.wraps(view)
    def inner(*args: Any, **kwargs: Any) -> Any:
        p, err = authenticate()
        if p is None:
            return err
        g.principal = p
        return view(*args, **kwargs)

    return inner


class LayerCache:
    """A path-keyed response cache that says what it did, as Symfony's HttpCache does."""

    def __init__(self, key: Callable[[], str]) -> None:
        self._key = key
        self._store: dict[str, tuple[bytes, list[tuple[str, str]]]] = {}

    def __call__(self, view: View) -> View:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Response:
            k = self._key()
            hit = self._store.get(k)
            if hit is not None:
                resp = Response(hit[0], headers=hit[1])
                resp.headers["X-Symfony-Cache"] = f"GET {request.path}: fresh"
                return resp
            resp = make_response(view(*args, **kwargs))
            if resp.status_code == 200:
                self._store[k] = (resp.get_data(), list(resp.headers.items()))
            resp.headers["X-Symfony-Cache"] = f"GET {request.path}: miss, store"
            return resp

        return inner


def _card(p: Any) -> str:
    return (
        f"<section class=card><h2>{p.id.title()}</h2>"
        f"<p>{p.id}@example.test</p><p>plan: pro</p></section>"
    )


def _profile(p: Any) -> str:
    return json.dumps({"name": p.id.title(), "email": f"{p.id}@example.test"})


def _url() -> str:
    """The request's URL on the site's configured origin (never the ``Host`` it came
    with: that would be a host-header poisoning), percent-encoded as in a link."""
    return SITE + quote(request.full_path, safe="/?&=;%+,")


def _public(app: Flask) -> None:
    """The pages every caller may see, the same in both twins."""
    per_url: dict[str, Response] = {}

    def cached_per_url(view: View) -> View:  # Django's cache_page: the full URL is the key
        @functools.wraps(view)
        def inner() -> Response:
            url = request.url
            if url not in per_url:
                per_url[url] = make_response(view())
            return per_url[url]

        return inner

    @app.get("/f/page")
    @cached_per_url
    def page() -> Any:
        html = (
            f'<html><head><link rel=canonical href="{escape(_url())}"></head>'
            "<body><h1>Pricing</h1><p>Pro: 12 EUR a month</p></body></html>"
        )
        resp = Response(html, mimetype="text/html")
        resp.headers["Cache-Control"] = "public, max-age=60"
        return resp

    @app.get("/f/feed")
    @cached_per_url
    def feed() -> Any:
        resp = jsonify(items=["release 1.2", "release 1.3"])
        resp.headers["Link"] = f'<{_url()}>; rel="self"'
        resp.headers["Cache-Control"] = "public, max-age=60"
        return resp

    @app.get("/f/clock")
    @cached_per_url
    def clock() -> Any:
        now = datetime.now(timezone.utc)
        resp = Response(f"<p>{random.randint(1, 10**6)} at {now:%H:%M:%S}</p>")
        resp.headers["Cache-Control"] = "public, max-age=60"
        return resp

    @app.get(UNSHOWABLE)
    def doc() -> Any:
        return Response("<html><body><h1>API documentation</h1></body></html>")

    @app.get(ME)
    @_key_required
    def me() -> Any:
        p = g.principal
        return private(payload(principal=p.id, email=f"{p.id}@example.test"), "no-store")


def create_app() -> Flask:
    """The vulnerable twin."""
    app = Flask(__name__)
    fc = Cache(app, config={"CACHE_TYPE": "SimpleCache"})
    _public(app)

    @app.get("/f/card")
    @fc.cached(timeout=60)  # the path alone, before authentication
    @_key_required
    def card() -> Any:
        return Response(_card(g.principal), mimetype="text/html")

    @functools.lru_cache(maxsize=64)
    def render(path: str) -> str:  # the principal is read inside, not in the key
        return _profile(g.principal)

    @app.get("/f/memo")
    @_key_required
    def memo() -> Any:
        return Response(render(request.path), mimetype="application/json")

    @app.get("/f/layer")
    @LayerCache(lambda: request.path)
    @_key_required
    def layer() -> Any:
        return Response(_profile(g.principal), mimetype="application/json")

    return app


def create_fixed_app() -> Flask:
    """The fixed twin: authentication first, the principal in every key, ``private``."""
    app = Flask(__name__)
    fc = Cache(app, config={"CACHE_TYPE": "SimpleCache"})
    _public(app)

    def per_principal() -> str:
        return f"{request.path}#{g.principal.id}"

    @app.get("/f/card")
    @_key_required
    @fc.cached(timeout=60, key_prefix=per_principal)
    def card() -> Any:
        resp = Response(_card(g.principal), mimetype="text/html")
        resp.headers["Cache-Control"] = "private"
        return resp

    @functools.lru_cache(maxsize=64)
    def render(path: str, principal: str) -> str:
        return _profile(g.principal)

    @app.get("/f/memo")
    @_key_required
    def memo() -> Any:
        resp = Response(render(request.path, g.principal.id), mimetype="application/json")
        resp.headers["Cache-Control"] = "private"
        return resp

    @app.get("/f/layer")
    @_key_required
    @LayerCache(per_principal)
    def layer() -> Any:
        resp = Response(_profile(g.principal), mimetype="application/json")
        resp.headers["Cache-Control"] = "private"
        return resp

    return app


ALL = [*ROUTES, *PUBLIC, ME]
