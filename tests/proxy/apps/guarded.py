"""An example API guarded by cacheward, served by gunicorn behind the proxies.

Every JSON body names who it was made for (``principal``, ``account`` or ``tenant``), so
that a leak oracle can check each response against the key that asked for it.

Configured by environment: ``CW_KEYS_FILE`` (an SQLite key store shared by the
workers and the test) and ``CW_DOWNSTREAM`` (``CACHEWARD_DOWNSTREAM``).
"""

from __future__ import annotations

import os

from flask import Flask, Response, jsonify

from cacheward import Cacheward, current_principal
from cacheward.keys import SQLiteKeyStore

SECRET = "proxy-suite-secret-0123456789abcdef"
STATIC_JS = "console.log('public asset, the same for everyone');\n"


def create_app() -> Flask:
    app = Flask("proxied")
    app.config.update(
        CACHEWARD_SECRET=SECRET,
        CACHEWARD_DOWNSTREAM=os.environ.get("CW_DOWNSTREAM", "private"),
    )
    ward = Cacheward(app, keys=SQLiteKeyStore(os.environ["CW_KEYS_FILE"]))

    @app.get("/me")
    @ward.protected("read")
    @ward.cached(ttl=30)
    def me() -> Response:
        return jsonify(principal=current_principal.id)

    @app.get("/accounts/<account_id>")
    @ward.protected("read", authorize=lambda p, account_id: p.id == account_id)
    @ward.cached(ttl=30)
    def account(account_id: str) -> Response:
        return jsonify(account=account_id)

    @app.get("/me/settings.js")
    @ward.protected("read")
    @ward.cached(ttl=30)
    def settings() -> Response:
        # Per-principal data at a path a "cache everything static" rule matches.
        response = jsonify(principal=current_principal.id)
        response.mimetype = "text/javascript"
        return response

    @app.get("/tenant")
    @ward.protected("read")
    @ward.cached(ttl=30, scope="tenant")
    def tenant() -> Response:
        return jsonify(tenant=current_principal.tenant)

    @app.get("/catalog")
    @ward.protected()
    @ward.cached(ttl=30, scope="shared")
    def catalog() -> Response:
        return jsonify(catalog=["a", "b", "c"])

    @app.get("/static/app.js")
    def asset() -> Response:
        # Public on purpose: shows the proxies do cache what they may.
        response = Response(STATIC_JS, mimetype="text/javascript")
        response.headers["Cache-Control"] = "public, max-age=60"
        return response

    return app
