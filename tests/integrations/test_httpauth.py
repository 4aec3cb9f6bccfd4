"""The guard with flask-httpauth as the auth layer, through ``principal=`` (issue 14):
token and basic auth, with Flask-Limiter, flask-cors and Flask-Compress in the same app."""

from __future__ import annotations

import base64

import pytest
from flask import Flask, g, jsonify, request
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth
from flask_limiter.util import get_remote_address

from cacheward import Cacheward, UnsafeCacheOrder

from .neighbours import closed_blueprint, install

TOKENS = {"tok-alice": "alice", "tok-alice-2": "alice", "tok-bob": "bob"}
PASSWORDS = {"alice": "wonderland", "bob": "builder"}


def make_app() -> Flask:
    app = Flask("httpauthapp")
    app.config.update(TESTING=True, CACHEWARD_SECRET="s" * 32, CACHEWARD_STRICT=False)
    auth = HTTPTokenAuth(scheme="Bearer")
    basic = HTTPBasicAuth()

    @auth.verify_token
    def verify(token: str) -> str | None:
        user = TOKENS.get(token)
        if user is not None:
            g.account = {"user": user, "plan": "gold" if user == "alice" else "free"}
        return user

    @basic.verify_password
    def check(username: str, password: str) -> str | None:
        return username if PASSWORDS.get(username) == password else None

    limiter = install(app, lambda: request.headers.get("Authorization") or get_remote_address())
    ward = Cacheward(app)
    app.config["RUNS"] = runs = []

    @app.get("/me")
    @auth.login_required
    @ward.cached(ttl=60, principal=auth.current_user)
    def me():  # type: ignore[no-untyped-def]
        runs.append("me")
        return jsonify(user=auth.current_user())

    @app.get("/basic-me")
    @basic.login_required
    @ward.cached(ttl=60, principal=basic.current_user)
    def basic_me():  # type: ignore[no-untyped-def]
        return jsonify(user=basic.current_user())

    @app.get("/shared-me")
    @auth.login_required
    @ward.cached(ttl=60, scope="shared", principal=auth.current_user)
    def shared_me():  # type: ignore[no-untyped-def]
        return jsonify(user=auth.current_user())

    @app.get("/plan")
    @auth.login_required
    @ward.cached(ttl=60, scope="shared", principal=auth.current_user)
    def plan():  # type: ignore[no-untyped-def]
        return jsonify(plan=g.account["plan"])  # what the auth layer put on g

    @app.get("/catalog")
    @auth.login_required
    @ward.cached(ttl=60, scope="shared", principal=auth.current_user)
    def catalog():  # type: ignore[no-untyped-def]
        runs.append("catalog")
        return jsonify(items=[1, 2])

    @app.get("/limited")
    @auth.login_required
    @limiter.limit("1/minute")
    @ward.cached(ttl=60, principal=auth.current_user)
    def limited():  # type: ignore[no-untyped-def]
        return "once"

    bp = closed_blueprint()

    @bp.get("/thing")
    @auth.login_required
    @ward.cached(ttl=60, principal=auth.current_user)
    def thing():  # type: ignore[no-untyped-def]
        return "never"

    app.register_blueprint(bp)
    return app


@pytest.fixture
def app() -> Flask:
    return make_app()


def token(t: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {t}"}


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def status(r) -> str:  # type: ignore[no-untyped-def]
    return r.headers.get("Cache-Status", "")


def test_unauthenticated_gets_the_librarys_401(app: Flask) -> None:
    c = app.test_client()
    for path, headers in [
        ("/me", {}),
        ("/me", token("tok-nobody")),
        ("/basic-me", basic("alice", "wrong")),
        ("/catalog", {}),
    ]:
        r = c.get(path, headers=headers)
        assert r.status_code == 401 and "WWW-Authenticate" in r.headers
        assert r.text == "Unauthorized Access"  # flask-httpauth's own body


def test_each_user_gets_their_own_entry(app: Flask) -> None:
    c = app.test_client()
    assert "stored" in status(c.get("/me", headers=token("tok-alice")))
    assert "stored" in status(c.get("/me", headers=token("tok-bob")))
    r = c.get("/me", headers=token("tok-alice-2"))  # another token of alice's
    assert r.get_json() == {"user": "alice"} and status(r) == "cacheward; hit"
    r = c.get("/me", headers=token("tok-bob"))
    assert r.get_json() == {"user": "bob"} and status(r) == "cacheward; hit"
    assert app.config["RUNS"] == ["me", "me"]


def test_basic_auth_users_get_their_own_entry(app: Flask) -> None:
    c = app.test_client()
    assert "stored" in status(c.get("/basic-me", headers=basic("alice", "wonderland")))
    r = c.get("/basic-me", headers=basic("bob", "builder"))
    assert r.get_json() == {"user": "bob"} and "stored" in status(r)
    r = c.get("/basic-me", headers=basic("alice", "wonderland"))
    assert r.get_json() == {"user": "alice"} and status(r) == "cacheward; hit"


@pytest.mark.parametrize(
    ("path", "alices"), [("/shared-me", "alice"), ("/plan", "gold")], ids=["current_user", "g"]
)
def test_a_shared_view_reading_identity_through_the_library_is_never_stored(
    app: Flask, path: str, alices: str
) -> None:
    """Issue 14: auth.current_user() in a shared view was stored and served to Bob."""
    c = app.test_client()
    assert "unkeyed-input" in status(c.get(path, headers=token("tok-alice")))
    assert alices not in c.get(path, headers=token("tok-bob")).text


def test_the_credential_does_not_decide_a_shared_routes_cacheability(app: Flask) -> None:
    c = app.test_client()
    assert "stored" in status(c.get("/catalog", headers=token("tok-alice")))
    r = c.get("/catalog", headers=token("tok-bob"))
    assert status(r) == "cacheward; hit" and r.get_json() == {"items": [1, 2]}
    assert app.config["RUNS"] == ["catalog"]


def test_hooks_answering_before_the_view_never_500(app: Flask) -> None:
    c = app.test_client()
    alice = token("tok-alice")
    assert c.get("/closed/thing", headers=alice).status_code == 403
    assert c.get("/limited", headers=alice).status_code == 200
    assert c.get("/limited", headers=alice).status_code == 429
    preflight = c.options(
        "/me", headers={"Origin": "https://a.example", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 200
    app.config["MAINTENANCE"] = True
    assert c.get("/me", headers=alice).status_code == 503
    assert c.get("/me").status_code == 503


def test_cached_above_the_librarys_decorator_names_it() -> None:
    app = Flask("order")
    app.config.update(CACHEWARD_SECRET="s" * 32)
    ward = Cacheward(app)
    auth = HTTPTokenAuth()
    with pytest.raises(UnsafeCacheOrder, match="flask_httpauth.HTTPAuth.login_required"):

        @ward.cached(ttl=60)
        @auth.login_required
        def bad():  # type: ignore[no-untyped-def]
            return "x"
