"""A deliberately vulnerable API: every route plants one cache bug for ``cacheward scan``.

``ROUTES`` maps each route to the check id it must be reported with (first) and any
other ids its bug legitimately also shows. Never expose this app beyond 127.0.0.1.
"""

from __future__ import annotations

import uuid
from functools import wraps
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask, Response, g, jsonify, redirect, request
from flask_caching import Cache

from . import classes
from .kit import (
    TinyCache,
    account,
    authenticate,
    authorize,
    current,
    error,
    path_query,
    payload,
    private,
)

ROUTES: dict[str, tuple[str, ...]] = {
    "/v/profile": ("cross-key-leak",),
    "/v/invoices": ("cross-key-leak", "anonymous-cache-leak", "auth-after-cache"),
    "/v/orders": ("anonymous-cache-leak", "cross-key-leak", "auth-after-cache"),
    "/v/admin/report": ("auth-after-cache",),
    "/v/dashboard": ("error-cached", "cross-key-leak", "anonymous-cache-leak", "auth-after-cache"),
    "/v/links": ("unkeyed-header", "host-header"),  # X-Forwarded-Host: both classes see it
    "/v/secure": ("unkeyed-header",),
    "/v/cors": ("unkeyed-header",),
    "/v/rewrite": ("unkeyed-header",),
    "/v/campaign": ("unkeyed-param",),
    "/v/jsonp": ("unkeyed-param",),
    "/v/cloak": ("param-cloaking",),
    "/v/fat": ("fat-get",),
    "/v/fat-json": ("fat-get",),
    "/v/override": ("method-override",),
    "/v/settings": ("cache-deception", "cache-deception-path"),  # any suffix, encoded too
    "/v/search": ("key-in-url",),
    "/v/public-cc": ("cacheable-authenticated",),
    "/v/no-cc": ("cacheable-authenticated",),
    "/v/cookie": ("set-cookie-cacheable",),
}
#: Cached by path alone: the buster cannot bust, so active checks must be skipped.
UNBUSTABLE = "/v/legacy"
#: Flask-Caching's documented ``@cache.cached(timeout=60)`` above an auth decorator.
FLASK_CACHING = "/v/flask-caching"
#: Routes no buster busts: still reported, by the read-only cross-key probe alone.
PATH_KEYED: dict[str, tuple[str, ...]] = {
    # the low key eve, denied when fresh, is served alice's copy: lookup before authorization
    UNBUSTABLE: ("cross-key-leak", "anonymous-cache-leak", "auth-after-cache"),
    # eve is only authenticated here, but --low-key says it must not read: its copy of
    # alice's response is reported as served before authorization
    FLASK_CACHING: ("cross-key-leak", "anonymous-cache-leak", "auth-after-cache"),
}
STATIC = (".css", ".js", ".json")


def _query_without(prefixes: tuple[str, ...]) -> str:
    kept = [p for p in request.query_string.decode().split("&") if not p.startswith(prefixes)]
    return f"{request.path}?{'&'.join(kept)}"


def create_app() -> Flask:  # noqa: C901 - one small view per planted bug
    app = Flask(__name__)
    cache = TinyCache()

    @app.get("/v/profile")
    def profile() -> Any:
        p, err = authenticate()
        if p is None:
            return err
        return _profile(p)

    @cache.cached(path_query)  # keyed after authentication, but not by principal
    def _profile(p: Any) -> Any:
        return private(account(p))

    @app.get("/v/invoices")
    @cache.cached(lambda: f"{path_query()}#{request.headers.get('Authorization', '')}")
    def invoices() -> Any:  # keyed on Authorization, but the key travels in X-API-Key
        p, err = authenticate()
        return err if p is None else private(account(p))

    @app.get("/v/orders")
    @cache.cached(path_query)  # the cache runs before authentication
    def orders() -> Any:
        p, err = authenticate()
        return err if p is None else (authorize(p) or private(account(p)))

    @app.get("/v/admin/report")
    def report() -> Any:
        p, err = authenticate()
        return err if p is None else _report(p)

    @cache.cached(path_query)  # authentication, cache, then authorization
    def _report(p: Any) -> Any:
        return authorize(p) or private(payload(report="quarterly", total=4711))

    @app.get("/v/dashboard")
    @cache.cached(path_query, store=lambda r: True)  # before auth, stores errors too
    def dashboard() -> Any:
        p, err = authenticate()
        return err if p is None else (authorize(p) or private(account(p)))

    def authed(view_data: Any) -> Any:
        p, err = authenticate()
        return err if p is None else (authorize(p) or private(view_data(p)))

    per_key = lambda: f"{path_query()}#{getattr(current(), 'id', '-')}"  # noqa: E731

    @app.get("/v/links")
    @cache.cached(per_key)
    def links() -> Any:
        host = request.headers.get("X-Forwarded-Host", request.host)
        return authed(lambda p: payload(principal=p.id, next=f"https://{host}/v/links?page=2"))

    @app.get("/v/secure")
    @cache.cached(per_key, store=lambda r: r.status_code in (200, 301))
    def secure() -> Any:
        if request.headers.get("X-Forwarded-Proto") == "http":
            return redirect(f"https://{request.host}{request.full_path}", 301)
        return authed(lambda p: payload(principal=p.id, secure=True))

    @app.get("/v/cors")
    @cache.cached(per_key)
    def cors() -> Any:
        resp = authed(lambda p: payload(principal=p.id))
        resp.headers["Access-Control-Allow-Origin"] = request.headers.get("Origin", "*")
        return resp

    @app.get("/v/rewrite")
    @cache.cached(per_key, store=lambda r: r.status_code < 500)
    def rewrite() -> Any:
        target = request.headers.get("X-Original-URL")
        if target:
            return error(404, f"no route for {target}")
        return authed(lambda p: payload(principal=p.id))

    @app.get("/v/campaign")
    @cache.cached(lambda: _query_without(("utm_",)) + str(getattr(current(), "id", "")))
    def campaign() -> Any:
        src = request.args.get("utm_source", "direct")
        return authed(lambda p: payload(principal=p.id, share=f"/v/campaign?from={src}"))

    @app.get("/v/jsonp")
    @cache.cached(lambda: _query_without(("callback=",)) + str(getattr(current(), "id", "")))
    def jsonp() -> Any:
        p, err = authenticate()
        if p is None:
            return err
        cb = request.args.get("callback")
        body = jsonify(payload(principal=p.id)).get_data(as_text=True)
        resp = Response(f"{cb}({body})" if cb else body, mimetype="application/javascript")
        resp.headers["Cache-Control"] = "private"
        return resp

    @app.get("/v/cloak")
    @cache.cached(lambda: _query_without(("utm_",)) + str(getattr(current(), "id", "")))
    def cloak() -> Any:
        pairs = parse_qsl(request.query_string.decode().replace(";", "&"))
        lang = dict(pairs).get("lang", "en")
        return authed(lambda p: payload(principal=p.id, lang=lang))

    @app.get("/v/fat")
    @cache.cached(per_key)
    def fat() -> Any:
        lang = request.form.get("lang", "en")  # reads the form body of a GET
        return authed(lambda p: payload(principal=p.id, lang=lang))

    @app.get("/v/fat-json")
    @cache.cached(per_key)
    def fat_json() -> Any:
        body = request.get_json(silent=True) or {}
        fields = body.get("fields", "all")  # reads a JSON body on GET
        return authed(lambda p: payload(principal=p.id, fields=fields))

    @app.get("/v/override")
    @cache.cached(per_key, store=lambda r: r.status_code in (200, 204))
    def override() -> Any:
        method = request.headers.get("X-HTTP-Method-Override", "GET").upper()
        if method == "OPTIONS":
            return Response(status=204, headers={"Allow": "GET, HEAD, OPTIONS"})
        return authed(lambda p: payload(principal=p.id, items=[1, 2, 3]))

    @app.get("/v/settings")
    def settings() -> Any:
        return authed(account)

    @app.get("/v/search")
    def search() -> Any:
        p = current(allow_query=True)  # accepts ?api_key=
        return error(401, "missing key") if p is None else private(account(p))

    @app.get("/v/public-cc")
    def public_cc() -> Any:
        p, err = authenticate()
        return err if p is None else private(account(p), "public, max-age=300")

    @app.get("/v/no-cc")
    def no_cc() -> Any:
        p, err = authenticate()
        return err if p is None else private(account(p), None)

    @app.get("/v/cookie")
    def cookie() -> Any:
        resp = jsonify(payload(news=["cache", "safety"]))
        resp.set_cookie("session", uuid.uuid4().hex)
        resp.headers["Cache-Control"] = "public, max-age=60"
        return resp

    @app.get(UNBUSTABLE)
    @cache.cached(lambda: request.path)
    def legacy() -> Any:
        return authed(lambda p: payload(principal=p.id))

    fc = Cache(app, config={"CACHE_TYPE": "SimpleCache"})

    def key_required(view: Any) -> Any:
        @wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            p, err = authenticate()
            if p is None:
                return err
            g.principal = p
            return view(*args, **kwargs)

        return inner

    @app.get(FLASK_CACHING)
    @fc.cached(timeout=60)  # the documented order: keyed on the path alone, before auth
    @key_required
    def flask_caching_profile() -> Any:
        return jsonify(account(g.principal))

    static = TinyCache()

    @app.get("/v/settings<path:rest>")
    @static.cached(path_query, store=lambda r: request.path.endswith(STATIC))
    def settings_suffix(rest: str) -> Any:  # tolerates any suffix; a 'static' rule caches it
        return authed(account)

    classes.plant(app)  # the issue-16 technique classes, behind their own edge cache
    return app


if __name__ == "__main__":
    import sys

    from .kit import serve_main

    serve_main(create_app, sys.argv)
