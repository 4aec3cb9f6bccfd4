"""``@ward.cached`` above an auth decorator is refused when the module is imported."""

from __future__ import annotations

import pytest
from tests.guardapp import make_app

from cacheward import UnsafeCacheOrder


def test_cached_above_protected_raises_at_decoration():
    app, ward, _ = make_app()
    with pytest.raises(UnsafeCacheOrder, match="above @ward.protected"):

        @app.get("/bad")
        @ward.cached(ttl=60)
        @ward.protected()
        def bad():
            return "x"


def test_cached_above_flask_httpauth_raises():
    from flask_httpauth import HTTPTokenAuth

    app, ward, _ = make_app()
    auth = HTTPTokenAuth(header="X-API-Key")
    with pytest.raises(UnsafeCacheOrder):

        @app.get("/bad")
        @ward.cached(ttl=60)
        @auth.login_required
        def bad():
            return "x"


def test_cached_without_principal_is_served_uncached_and_raises_in_strict():
    from cacheward.errors import MissingPrincipalError

    app, ward, _ = make_app()
    runs = []

    @app.get("/open")
    @ward.cached(ttl=60)
    def open_():
        runs.append(1)
        return "x"

    with pytest.raises(MissingPrincipalError):
        app.test_client().get("/open")
    app.extensions["cacheward"].strict = False
    c = app.test_client()
    assert c.get("/open").headers["Cache-Status"].startswith("cacheward; fwd=bypass")
    c.get("/open")
    assert len(runs) == 2  # strict mode refused before running the view


def test_other_auth_library_through_principal_callable():
    from flask_httpauth import HTTPTokenAuth

    app, ward, _ = make_app()
    auth = HTTPTokenAuth(header="X-API-Key")
    tokens = {"tok-alice": "alice", "tok-bob": "bob"}
    auth.verify_token(lambda t: tokens.get(t))
    runs = []

    @app.get("/r")
    @auth.login_required
    @ward.cached(ttl=60, principal=auth.current_user)
    def r():
        runs.append(auth.current_user())
        return auth.current_user()

    c = app.test_client()
    assert c.get("/r", headers={"X-API-Key": "tok-alice"}).text == "alice"
    assert c.get("/r", headers={"X-API-Key": "tok-bob"}).text == "bob"
    assert c.get("/r", headers={"X-API-Key": "tok-alice"}).text == "alice"
    assert c.get("/r").status_code == 401
    assert runs == ["alice", "bob"]
