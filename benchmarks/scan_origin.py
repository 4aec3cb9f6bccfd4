"""The origin behind the third-party proxy configurations of ``scan_corpus.json``.

An API written the way most are (ours, not a lab's): an ``X-API-Key`` check and views
that say nothing to caches, plus one public page that does. The proxy configuration in
front decides what leaks; the labels in the corpus are what it does to this origin.
Run as ``python -m benchmarks.scan_origin PORT``.
"""

from __future__ import annotations

import sys

from flask import Flask, Response, abort, jsonify, request

#: principal -> (key, e-mail); test keys only, never real credentials.
USERS = {
    "alice": ("origin-key-alice-7f3a", "alice@origin.test"),
    "bob": ("origin-key-bob-91c2", "bob@origin.test"),
}


def create_app() -> Flask:
    app = Flask(__name__)
    by_key = {key: (name, mail) for name, (key, mail) in USERS.items()}

    def caller() -> tuple[str, str]:
        found = by_key.get(request.headers.get("X-API-Key", ""))
        if found is None:
            abort(401)
        return found

    @app.get("/")
    def index() -> Response:  # what a proxy's health probe asks for
        return Response("ok\n", mimetype="text/plain")

    @app.get("/api/me")
    def me() -> Response:  # no caching headers: the common case
        name, mail = caller()
        return jsonify(user=name, email=mail)

    @app.get("/api/orders")
    def orders() -> Response:  # "it is only the caller's own data": max-age, no private
        name, _ = caller()
        resp = jsonify(owner=name, orders=[f"{name}-order-1", f"{name}-order-2"])
        resp.headers["Cache-Control"] = "max-age=60"
        return resp

    @app.get("/api/public")
    def public() -> Response:  # public on purpose, the same for everyone
        resp = jsonify(service="origin", version="1.0")
        resp.headers["Cache-Control"] = "public, max-age=60"
        return resp

    return app


if __name__ == "__main__":
    create_app().run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
