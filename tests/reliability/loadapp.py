"""The API under load and faults: every body names the principal it was made for.

``create_app()`` reads its settings from the environment so that gunicorn workers build
the same app: ``CW_KEYS_DB`` (an SQLite key store shared by every worker) or
``CW_KEYS_REDIS`` (a Redis key store), and ``CACHEWARD_BACKEND``.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify, request

from cacheward import Cacheward, current_principal
from cacheward.backends.base import Backend
from cacheward.keys import SQLiteKeyStore
from cacheward.keys.store import KeyStore

SECRET = "load-secret-0123456789abcdef0123456789"
#: Paths the clients ask for, with the scope each is cached under.
PATHS = ("/me", "/tenant", "/items/1", "/items/2", "/shared", "/fresh")


def key_store_from_env() -> KeyStore:
    db = os.environ.get("CW_KEYS_DB")
    if db:
        return SQLiteKeyStore(db, busy_timeout=float(os.environ.get("CW_BUSY_TIMEOUT", "0.5")))
    url = os.environ.get("CW_KEYS_REDIS")
    if url:
        from cacheward.keys import RedisKeyStore  # type: ignore[attr-defined]

        return RedisKeyStore(url)  # type: ignore[no-any-return]
    raise RuntimeError("set CW_KEYS_DB or CW_KEYS_REDIS")


def create_app(
    keys: KeyStore | None = None, backend: Backend | None = None, **config: Any
) -> Flask:
    app = Flask("loadapp")
    app.config.update(
        CACHEWARD_SECRET=SECRET,
        CACHEWARD_BACKEND=os.environ.get("CACHEWARD_BACKEND", "memory://"),
        CACHEWARD_STRICT=False,
        **config,
    )
    ward = Cacheward(app, keys=keys or key_store_from_env(), backend=backend)
    # The test drives revocation through the store; purging is the guard's business.
    app.extensions["cacheward_ward"] = ward

    @app.get("/me")
    @ward.protected("read")
    @ward.cached(ttl=30)
    def me() -> Any:
        return jsonify(principal=current_principal.id, path="/me")

    @app.get("/tenant")
    @ward.protected("read")
    @ward.cached(ttl=30, scope="tenant")
    def tenant() -> Any:
        p = current_principal
        # A tenant-scoped body names the tenant (or, without one, the principal).
        return jsonify(tenant=p.tenant, principal=None if p.tenant else p.id, path="/tenant")

    @app.get("/items/<item>")
    @ward.protected("read")
    @ward.cached(ttl=30)
    def items(item: str) -> Any:
        return jsonify(principal=current_principal.id, item=item, q=request.args.get("q"))

    @app.get("/shared")
    @ward.protected("read")
    @ward.cached(ttl=30, scope="shared")
    def shared() -> Any:
        return jsonify(shared=True, principal=None, path="/shared")

    @app.get("/fresh")
    @ward.protected("read")
    def fresh() -> Any:
        return jsonify(principal=current_principal.id, path="/fresh")

    return app
