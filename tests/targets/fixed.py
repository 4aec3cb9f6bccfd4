"""The fixed twin of :mod:`targets.vulnerable`: the same routes, done right.

Authentication and authorization run before the cache; keys carry the principal and
every input the view reads; errors are never stored; every authenticated response says
``Cache-Control: private`` (or ``no-store``) and ``Vary: X-API-Key``.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask, Response, jsonify, request

from . import classes
from .kit import TinyCache, account, authenticate, authorize, current, payload, private
from .vulnerable import PATH_KEYED, ROUTES


def _key() -> str:
    """Host, path, full query, the headers views read, and the principal."""
    p = current()
    origin = request.headers.get("Origin", "")
    host = request.host  # /v/links builds its links from it
    return f"{host}{request.path}?{request.query_string.decode()}#{origin}#{p.id if p else '-'}"


def create_app() -> Flask:
    app = Flask(__name__)
    cache = TinyCache()

    def guarded(data: Any) -> Any:
        """Authenticate, authorize, then (and only then) the cached view."""
        p, err = authenticate()
        if p is None:
            return err
        denied = authorize(p)
        if denied is not None:
            return denied
        return _cached(p, data)

    @cache.cached(_key)
    def _cached(p: Any, data: Any) -> Any:
        return private(data(p))

    def view(path: str) -> None:
        name = path.strip("/").replace("/", "_").replace("-", "_")
        app.add_url_rule(path, name, lambda: guarded(_DATA.get(path, account)))

    _DATA: dict[str, Any] = {
        "/v/admin/report": lambda p: payload(report="quarterly", total=4711),
        "/v/links": lambda p: payload(principal=p.id, next=f"https://{request.host}/v/links"),
        "/v/campaign": lambda p: payload(
            principal=p.id, share=f"/v/campaign?from={request.args.get('utm_source', 'direct')}"
        ),
        "/v/cloak": lambda p: payload(principal=p.id, lang=request.args.get("lang", "en")),
        "/v/fat": lambda p: payload(principal=p.id, lang=request.args.get("lang", "en")),
    }
    for path in [*ROUTES, *PATH_KEYED]:
        if path not in ("/v/cookie", "/v/jsonp", "/v/cors"):
            view(path)

    @app.get("/v/jsonp")
    def jsonp() -> Any:
        p, err = authenticate()
        if p is None:
            return err
        cb = request.args.get("callback")
        return _jsonp(p, cb)

    @cache.cached(_key)  # the key holds the whole query, callback included
    def _jsonp(p: Any, cb: str | None) -> Any:
        body = jsonify(payload(principal=p.id)).get_data(as_text=True)
        resp = Response(f"{cb}({body})" if cb else body, mimetype="application/javascript")
        resp.headers["Cache-Control"] = "private"
        return resp

    @app.get("/v/cors")
    def cors() -> Any:
        resp = guarded(lambda p: payload(principal=p.id))
        resp.headers["Access-Control-Allow-Origin"] = request.headers.get("Origin", "*")
        resp.headers["Vary"] = "Origin, X-API-Key"
        return resp

    @app.get("/v/cookie")
    def cookie() -> Any:
        resp = jsonify(payload(news=["cache", "safety"]))
        resp.set_cookie("session", uuid.uuid4().hex)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.after_request
    def vary(resp: Response) -> Response:
        if "X-API-Key" in request.headers:
            resp.vary.add("X-API-Key")
        return resp

    classes.plant(app, fixed=True)
    return app


if __name__ == "__main__":
    import sys

    from .kit import serve_main

    serve_main(create_app, sys.argv)
