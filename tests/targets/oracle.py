"""Targets the scan-wide identity oracle must get right, each with its fixed twin.

Every failure issue 15 measured on APIs nobody here wrote has a route here:

``/o/me``
    Flask-Caching's documented ``@cache.cached(timeout=60)`` above the auth decorator:
    keyed on the path alone, so whoever asks first fills the entry for everyone. No
    buster busts it, directly or behind a proxy (there it is a cache behind the cache).
``/o/short``
    The same with a one-second timeout: ``--wait-ttl`` can wait it out.
``/o/plain``
    The same again, but the body has no request id or timestamp, as many APIs: nothing
    shows a copy was served from a store, so only the identity markers can prove it
    (behind a proxy too: the proxy's miss does not make a byte-for-byte copy fresh).
``/o/report``
    Lookup before authorization: the cached admin report is served to a key the
    route would deny (the seed's BOLA case). The report names nobody, so no marker
    can prove it; the low key's 200, byte for byte the stored one, does.
``/o/news`` and ``/o/inbox``
    A cookie-setting endpoint beside a leaking one (``public`` per-user data): a
    cookie replayed from ``/o/news`` would make a Varnish pass every request and hide
    the leak at the proxy.
``/o/form``
    A page whose only secret is a per-key CSRF token; the route tolerates any path
    suffix and a static-file rule caches the suffixed paths (deception).
``/o/lang``
    Reads a ``lang`` cookie (which it sets) into the body; its in-app cache keys on the
    key and the URL, not the cookie: an unkeyed cookie poisons the entry.
``/o/lucky`` (trap)
    A public page full of noise: a random number, a short random ticket, an HTTP date
    and a time of day to the second, cached per URL. Nothing here is a finding, in either twin.
``/o/whoami``
    Uncached: returns the caller's identity, for ``--whoami``.

``ROUTES`` maps each vulnerable route to the ids it must be reported with (first) and
may also be (``SHORT`` likewise, for the one-second route); ``TRAPS`` are routes where
any finding is false.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import datetime
from email.utils import formatdate
from functools import wraps
from typing import Any

from flask import Flask, Response, g, jsonify, request
from flask_caching import Cache

from .kit import TinyCache, account, authenticate, authorize, path_query, payload, private

ROUTES: dict[str, tuple[str, ...]] = {
    "/o/me": ("cross-key-leak", "anonymous-cache-leak", "auth-after-cache"),
    "/o/plain": ("cross-key-leak", "anonymous-cache-leak", "auth-after-cache"),
    "/o/report": ("auth-after-cache",),
    "/o/inbox": ("cacheable-authenticated",),
    "/o/form": ("cache-deception",),
    "/o/lang": ("unkeyed-cookie",),
}
#: Findings a shared proxy in front adds (it stores the ``public`` per-user inbox).
AT_A_PROXY: dict[str, tuple[str, ...]] = {"/o/inbox": ("cross-key-leak", "anonymous-cache-leak")}
TRAPS = ("/o/lucky", "/o/news")
#: Its entry lives one second: scanned alone (with ``--wait-ttl``), never in a full scan,
#: where it would expire at any point of the scan.
SHORT: dict[str, tuple[str, ...]] = {
    "/o/short": ("cross-key-leak", "anonymous-cache-leak", "auth-after-cache")
}
WHOAMI = "/o/whoami"
STATIC = (".css", ".js")


def csrf(key: str) -> str:
    """A per-key CSRF token (a real app would bind it to the session)."""
    return hashlib.sha256(f"csrf:{key}".encode()).hexdigest()[:32]


def _form(token: str) -> Response:
    html = (
        "<html><body><h1>Change your password</h1><form method=post action=/o/form>"
        f'<input type=hidden name=csrf_token value="{token}">'
        "<input type=password name=password><button>Save</button></form></body></html>"
    )
    resp = Response(html, mimetype="text/html")
    resp.headers["Cache-Control"] = "private"
    return resp


def _lucky() -> Response:
    body = (
        f"<p>Lucky number {random.randint(1000, 999999)}, ticket {uuid.uuid4().hex[:8]},"
        f" served {formatdate(usegmt=True)} ({datetime.now():%H:%M:%S})</p>"
    )
    resp = Response(body, mimetype="text/html")
    resp.headers["Cache-Control"] = "public, max-age=30"
    return resp


def _news() -> Response:
    resp = jsonify(news=["cache", "safety"])
    resp.set_cookie("visitor", uuid.uuid4().hex, httponly=True)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _key_required(view: Any) -> Any:
    @wraps(view)
    def inner(*args: Any, **kwargs: Any) -> Any:
        p, err = authenticate()
        if p is None:
            return err
        g.principal = p
        return view(*args, **kwargs)

    return inner


def _plain(p: Any) -> dict[str, str]:
    """A principal's data with nothing per-response in it."""
    return {"name": p.id.title(), "email": f"{p.id}@example.test", "plan": "pro"}


def _lang(p: Any) -> Response:
    lang = request.cookies.get("lang", "en")
    resp = private(payload(principal=p.id, greeting=f"hello ({lang})"))
    resp.set_cookie("lang", lang)
    return resp


def _report_body() -> Response:
    return private(payload(report="quarterly", total=4711), None)


def create_app() -> Flask:
    """The vulnerable twin."""
    app = Flask(__name__)
    fc = Cache(app, config={"CACHE_TYPE": "SimpleCache"})
    static = TinyCache()
    public = TinyCache()

    @app.get("/o/me")
    @fc.cached(timeout=60)  # keyed on the path alone, before authentication
    @_key_required
    def me() -> Any:
        return jsonify(account(g.principal))

    @app.get("/o/short")
    @fc.cached(timeout=1)
    @_key_required
    def short() -> Any:
        return jsonify(account(g.principal))

    @app.get("/o/plain")
    @fc.cached(timeout=60)
    @_key_required
    def plain() -> Any:
        return jsonify(_plain(g.principal))

    @app.get("/o/report")
    @_key_required
    @fc.cached(timeout=60)  # authenticated, then the cache, then authorization
    def report() -> Any:
        return authorize(g.principal) or _report_body()

    @app.get("/o/news")
    def news() -> Any:
        return _news()

    @app.get("/o/inbox")
    @_key_required
    def inbox() -> Any:
        return private(account(g.principal), "public, max-age=60")

    @app.get("/o/form")
    def form() -> Any:
        key = request.headers.get("X-API-Key", "")
        p, _ = authenticate()
        return _form(csrf(key) if p is not None else "")

    @app.get("/o/form<path:rest>")
    @static.cached(path_query, store=lambda r: request.path.endswith(STATIC))
    def form_suffix(rest: str) -> Any:  # any suffix is the form; a static rule caches it
        return form()

    @app.get("/o/lucky")
    @public.cached(path_query)
    def lucky() -> Any:
        return _lucky()

    @app.get("/o/lang")
    @_key_required
    @public.cached(lambda: f"{path_query()}#{g.principal.id}")  # not the cookie
    def lang() -> Any:
        return _lang(g.principal)

    @app.get(WHOAMI)
    @_key_required
    def whoami() -> Any:
        p = g.principal
        return private({"principal": p.id, "email": f"{p.id}@example.test"}, "no-store")

    return app


def create_fixed_app() -> Flask:
    """The fixed twin: auth before the cache, the principal in every key, strict routes."""
    app = Flask(__name__)
    fc = Cache(app, config={"CACHE_TYPE": "SimpleCache"})
    public = TinyCache()

    def per_principal() -> str:
        return f"{request.path}#{g.principal.id}"

    @app.get("/o/me")
    @_key_required
    @fc.cached(timeout=60, key_prefix=per_principal)
    def me() -> Any:
        return private(account(g.principal))

    @app.get("/o/short")
    @_key_required
    @fc.cached(timeout=1, key_prefix=per_principal)
    def short() -> Any:
        return private(account(g.principal))

    @app.get("/o/plain")
    @_key_required
    @fc.cached(timeout=60, key_prefix=per_principal)
    def plain() -> Any:
        return private(_plain(g.principal))

    @app.get("/o/report")
    @_key_required
    def report() -> Any:
        return authorize(g.principal) or _cached_report()

    @fc.cached(timeout=60, key_prefix="report")  # only after authorization
    def _cached_report() -> Any:
        return _report_body()

    @app.get("/o/news")
    def news() -> Any:
        return _news()

    @app.get("/o/inbox")
    @_key_required
    def inbox() -> Any:
        return private(account(g.principal))

    @app.get("/o/form")
    def form() -> Any:
        key = request.headers.get("X-API-Key", "")
        p, _ = authenticate()
        return _form(csrf(key) if p is not None else "")

    @app.get("/o/lucky")
    @public.cached(path_query)
    def lucky() -> Any:
        return _lucky()

    @app.get("/o/lang")
    @_key_required
    @public.cached(lambda: f"{path_query()}#{g.principal.id}#{request.cookies.get('lang')}")
    def lang() -> Any:
        return _lang(g.principal)

    @app.get(WHOAMI)
    @_key_required
    def whoami() -> Any:
        p = g.principal
        return private({"principal": p.id, "email": f"{p.id}@example.test"}, "no-store")

    return app


ALL = [*ROUTES, *TRAPS]


if __name__ == "__main__":
    import sys

    from .kit import serve_main

    serve_main(create_app, sys.argv)
