"""The project's reason to exist, side by side.

The same small API built with Flask-Caching in the order its documentation recommends
(``@cache.cached`` directly under ``@app.route``, flask-httpauth below it) serves Alice's
response to Bob and to an anonymous caller, and an anonymous caller's 401 to every key
after it. Built with cacheward, it does neither.
"""

from __future__ import annotations

import pytest
from flask import Flask, jsonify
from flask_caching import Cache
from flask_httpauth import HTTPTokenAuth
from tests.guardapp import make_app

from cacheward import current_principal


def flask_caching_app() -> tuple[Flask, dict[str, str]]:
    app = Flask("seed")
    cache = Cache(app, config={"CACHE_TYPE": "SimpleCache"})
    auth = HTTPTokenAuth(header="X-API-Key")
    tokens = {"key-alice": "alice", "key-bob": "bob"}
    auth.verify_token(lambda token: tokens.get(token))

    @app.get("/report")
    @cache.cached(timeout=60)
    @auth.login_required
    def report():
        return jsonify(owner=auth.current_user(), balance=f"balance of {auth.current_user()}")

    return app, {"alice": "key-alice", "bob": "key-bob"}


def cacheward_app() -> tuple[Flask, dict[str, str]]:
    app, ward, store = make_app()

    @app.get("/report")
    @ward.protected()
    @ward.cached(ttl=60)
    def report():
        return jsonify(owner=current_principal.id, balance=f"balance of {current_principal.id}")

    keys = {name: store.create(name).plaintext for name in ("alice", "bob")}
    return app, keys


def leaks(app: Flask, keys: dict[str, str]) -> list[str]:
    found = []
    c = app.test_client()
    c.get("/report", headers={"X-API-Key": keys["alice"]})
    bob = c.get("/report", headers={"X-API-Key": keys["bob"]})
    if bob.status_code == 200 and bob.get_json()["owner"] != "bob":
        found.append("alice's response served to bob")
    anon = c.get("/report")
    if anon.status_code == 200:
        found.append("alice's response served to an anonymous caller")
    return found


def cached_401(app_factory) -> bool:
    app, keys = app_factory()
    c = app.test_client()
    assert c.get("/report").status_code == 401
    return c.get("/report", headers={"X-API-Key": keys["alice"]}).status_code == 401


def test_flask_caching_in_documented_order_leaks():
    app, keys = flask_caching_app()
    assert leaks(app, keys) == [
        "alice's response served to bob",
        "alice's response served to an anonymous caller",
    ]
    assert cached_401(flask_caching_app), "Flask-Caching serves the cached 401 to Alice"


def test_cacheward_neither_leaks_nor_caches_401():
    app, keys = cacheward_app()
    assert leaks(app, keys) == []
    assert not cached_401(cacheward_app)


@pytest.mark.parametrize("factory", [cacheward_app])
def test_each_principal_sees_only_its_own_report(factory):
    app, keys = factory()
    c = app.test_client()
    for _ in range(3):
        for name, key in keys.items():
            assert c.get("/report", headers={"X-API-Key": key}).get_json()["owner"] == name
