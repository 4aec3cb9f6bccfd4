"""The guard with flask-jwt-extended as the auth layer, through ``principal=`` (issue 14),
with Flask-Limiter, flask-cors and Flask-Compress in the same app."""

from __future__ import annotations

import pytest
from flask import Flask, jsonify, request
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    get_jwt,
    get_jwt_identity,
    jwt_required,
)
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from cacheward import Cacheward
from cacheward.core.principal import Principal

from .neighbours import closed_blueprint, install


def caller() -> Principal | None:
    """The ``principal=`` of the docs' flask-jwt-extended recipe."""
    identity = get_jwt_identity()
    return None if identity is None else Principal(identity, tenant=get_jwt().get("tenant"))


def make_app(strict: bool = False) -> Flask:
    app = Flask("jwtapp")
    app.config.update(
        TESTING=True, CACHEWARD_SECRET="s" * 32, JWT_SECRET_KEY="j" * 32, CACHEWARD_STRICT=strict
    )
    JWTManager(app)
    # Rate limits per caller: the hook reads the credential, which is the auth's input.
    limiter = install(app, lambda: request.headers.get("Authorization") or get_remote_address())
    ward = Cacheward(app)
    app.config["RUNS"] = runs = []

    @app.get("/me")
    @jwt_required()
    @ward.cached(ttl=60, principal=caller)
    def me():  # type: ignore[no-untyped-def]
        runs.append("me")
        return jsonify(user=get_jwt_identity())

    @app.get("/shared")
    @jwt_required()
    @ward.cached(ttl=60, scope="shared", principal=caller)
    def shared():  # type: ignore[no-untyped-def]
        return jsonify(user=get_jwt_identity())

    @app.get("/tenant")
    @jwt_required()
    @ward.cached(ttl=60, scope="tenant", principal=caller)
    def tenant():  # type: ignore[no-untyped-def]
        return jsonify(claims=get_jwt()["sub"])

    @app.get("/catalog")
    @jwt_required()
    @ward.cached(ttl=60, scope="shared", principal=caller)
    def catalog():  # type: ignore[no-untyped-def]
        runs.append("catalog")
        return jsonify(items=[1, 2])

    @app.get("/limited")
    @jwt_required()
    @limiter.limit("1/minute")
    @ward.cached(ttl=60, principal=caller)
    def limited():  # type: ignore[no-untyped-def]
        return "once"

    bp = closed_blueprint()

    @bp.get("/thing")
    @jwt_required()
    @ward.cached(ttl=60, principal=caller)
    def thing():  # type: ignore[no-untyped-def]
        return "never"

    app.register_blueprint(bp)
    return app


@pytest.fixture
def app() -> Flask:
    return make_app()


def bearer(app: Flask, user: str, tenant: str = "acme") -> dict[str, str]:
    with app.app_context():
        token = create_access_token(identity=user, additional_claims={"tenant": tenant})
    return {"Authorization": f"Bearer {token}"}


def status(r) -> str:  # type: ignore[no-untyped-def]
    return r.headers.get("Cache-Status", "")


def test_unauthenticated_gets_the_librarys_401(app: Flask) -> None:
    for path in ("/me", "/shared", "/catalog"):
        r = app.test_client().get(path)
        assert r.status_code == 401 and "msg" in r.get_json()
    r = app.test_client().get("/me", headers={"Authorization": "Bearer not-a-jwt"})
    assert r.status_code == 422 and "msg" in r.get_json()  # the library's own answer


def test_each_user_gets_their_own_entry(app: Flask) -> None:
    c = app.test_client()
    alice, bob = bearer(app, "alice"), bearer(app, "bob")
    assert "stored" in status(c.get("/me", headers=alice))
    assert "stored" in status(c.get("/me", headers=bob))
    # Another token of alice's: the credential differs, the principal does not.
    r = c.get("/me", headers=bearer(app, "alice"))
    assert r.get_json() == {"user": "alice"} and status(r) == "cacheward; hit"
    r = c.get("/me", headers=bob)
    assert r.get_json() == {"user": "bob"} and status(r) == "cacheward; hit"
    assert app.config["RUNS"] == ["me", "me"]


@pytest.mark.parametrize("path", ["/shared", "/tenant"])
def test_a_shared_or_tenant_view_reading_the_identity_is_never_stored(
    app: Flask, path: str
) -> None:
    """Issue 14: Bob was served ``{"user": "alice"}`` (get_jwt_identity() untracked)."""
    c = app.test_client()
    assert "unkeyed-input" in status(c.get(path, headers=bearer(app, "alice")))
    assert "alice" not in c.get(path, headers=bearer(app, "bob")).get_data(as_text=True)


def test_the_credential_does_not_decide_a_shared_routes_cacheability(app: Flask) -> None:
    """Issue 14: stored with no hooks, refused ("it read the credential") once
    Flask-Limiter was on. Here Limiter itself reads the credential, before the view."""
    c = app.test_client()
    assert "stored" in status(c.get("/catalog", headers=bearer(app, "alice")))
    r = c.get("/catalog", headers=bearer(app, "carol", tenant="globex"))
    assert status(r) == "cacheward; hit" and r.get_json() == {"items": [1, 2]}
    assert app.config["RUNS"] == ["catalog"]


def test_hooks_answering_before_the_view_never_500(app: Flask) -> None:
    c = app.test_client()
    alice = bearer(app, "alice")
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


def test_a_limiter_keyed_by_the_client_address_is_an_input_the_key_must_name() -> None:
    """A before_request hook's reads count (it may hand them to the view by any channel):
    Flask-Limiter's default key reads the client address, and the guard says so."""
    app = Flask("jwtlimit")
    app.config.update(
        TESTING=True, CACHEWARD_SECRET="s" * 32, JWT_SECRET_KEY="j" * 32, CACHEWARD_STRICT=False
    )
    JWTManager(app)
    Limiter(get_remote_address, app=app, default_limits=["100/minute"], storage_uri="memory://")
    ward = Cacheward(app)

    @app.get("/a")
    @jwt_required()
    @ward.cached(ttl=60, principal=caller)
    def a():  # type: ignore[no-untyped-def]
        return "a"

    @app.get("/b")
    @jwt_required()
    @ward.cached(ttl=60, principal=caller, vary=[":remote-addr"])
    def b():  # type: ignore[no-untyped-def]
        return "b"

    c = app.test_client()
    assert "unkeyed-input" in status(c.get("/a", headers=bearer(app, "alice")))
    assert "stored" in status(c.get("/b", headers=bearer(app, "alice")))
    assert status(c.get("/b", headers=bearer(app, "alice"))) == "cacheward; hit"


def test_a_jwt_sent_to_a_protected_route_is_an_invalid_key() -> None:
    """Issue 14: a JWT on a @ward.protected route was 400 malformed_header."""
    from cacheward.keys import MemoryKeyStore

    app = Flask("keyed")
    app.config.update(TESTING=True, CACHEWARD_SECRET="s" * 32, JWT_SECRET_KEY="j" * 32)
    JWTManager(app)
    ward = Cacheward(app, keys=MemoryKeyStore())

    @app.get("/keyed")
    @ward.protected()
    @ward.cached(ttl=60)
    def keyed():  # type: ignore[no-untyped-def]
        return "k"

    r = app.test_client().get("/keyed", headers=bearer(app, "alice"))
    assert r.status_code == 401 and r.get_json()["error"] == "invalid_key"


def test_in_testing_mode_a_shared_route_behind_jwt_required_does_not_raise() -> None:
    """Issue 14: with Flask-Limiter on, the refusal became UnkeyedInputError in TESTING."""
    app = make_app(strict=True)
    c = app.test_client()
    assert "stored" in status(c.get("/catalog", headers=bearer(app, "alice")))
    assert status(c.get("/catalog", headers=bearer(app, "bob"))) == "cacheward; hit"
