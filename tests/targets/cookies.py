"""A cookie-setting API for the no-cookie-jar check, and its fixed twin.

``/login`` hands every caller a tracking cookie, and ``/account`` a visitor cookie to
anyone without a key; ``/account`` itself sends no caching headers, which stock Varnish
stores for 120 s whatever key asked (the planted leak). Stock Varnish passes every
request that carries a ``Cookie``: a scanner that replayed those cookies would see no
leak at all. The fixed twin marks ``/account`` ``private``. Never expose beyond 127.0.0.1.
"""

from __future__ import annotations

import uuid

from flask import Flask, Response, jsonify

from .kit import account, current, payload

#: Set-Cookie values the scanner must never send back.
TRACKING = "track-7d1e0c9a"


def create_app(*, fixed: bool = False) -> Flask:
    app = Flask(__name__)

    @app.get("/login")
    def login() -> Response:
        resp = jsonify(payload(hello="world"))
        resp.set_cookie("sid", TRACKING)
        return resp

    @app.get("/account")
    def account_view() -> Response:
        p = current()
        if p is None:
            resp = jsonify(payload(error="missing or invalid key"))
            resp.status_code = 401
            resp.set_cookie("visitor", f"{TRACKING}-{uuid.uuid4().hex[:8]}")
            return resp
        resp = jsonify(account(p))
        if fixed:
            resp.headers["Cache-Control"] = "private"
        return resp

    return app


def create_fixed_app() -> Flask:
    return create_app(fixed=True)
