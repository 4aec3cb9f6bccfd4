"""A small API guarded by cacheward: the README's quick start, runnable as it is.

    uv run flask --app examples/accounts_api.py run

On start it issues a key for Alice and one for Bob (stored hashed in
``instance/keys.db``) and prints them once, with curl commands to try.
"""

from __future__ import annotations

import os
import secrets

from flask import Flask, jsonify

from cacheward import Cacheward, current_principal
from cacheward.keys import SQLiteKeyStore

ACCOUNTS = {
    "alice": {"owner": "alice", "balance": "1,204.10 EUR"},
    "bob": {"owner": "bob", "balance": "88.00 EUR"},
}


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["CACHEWARD_SECRET"] = os.environ.get("CACHEWARD_SECRET") or secrets.token_hex(32)
    keys = _key_store(app)
    ward = Cacheward(app, keys=keys)

    @app.get("/accounts/<account_id>")
    @ward.protected(
        "accounts:read", authorize=lambda principal, account_id: principal.id == account_id
    )
    @ward.cached(ttl=60)
    def account(account_id: str):  # type: ignore[no-untyped-def]
        return jsonify(ACCOUNTS.get(account_id, {}))

    @app.get("/me")
    @ward.protected()
    @ward.cached(ttl=60)
    def me():  # type: ignore[no-untyped-def]
        return jsonify(principal=current_principal.id)

    @app.get("/catalog")
    @ward.protected()
    @ward.cached(ttl=300, scope="shared", vary=["Accept-Language"])
    def catalog():  # type: ignore[no-untyped-def]
        from flask import request

        lang = request.headers.get("Accept-Language", "en")[:2]
        return jsonify(lang=lang, products=["basic", "premium"])

    if not app.config.get("TESTING"):
        alice = keys.create("alice", ["accounts:read"]).plaintext
        bob = keys.create("bob", ["accounts:read"]).plaintext
        print("cacheward example API. Keys (shown once):")
        print(f"  alice: {alice}\n  bob:   {bob}")
        print("Try:")
        print(f"  curl -i -H 'X-API-Key: {alice}' http://127.0.0.1:5000/accounts/alice")
        print(f"  curl -i -H 'X-API-Key: {bob}' http://127.0.0.1:5000/accounts/alice   # 403")
        print("  curl -i http://127.0.0.1:5000/me                                   # 401")
    return app


def _key_store(app: Flask) -> SQLiteKeyStore:
    os.makedirs(app.instance_path, exist_ok=True)
    return SQLiteKeyStore(os.path.join(app.instance_path, "keys.db"))


app = create_app()
