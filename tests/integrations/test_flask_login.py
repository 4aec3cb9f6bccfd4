"""The guard with Flask-Login as the auth layer, through ``principal=`` (issue 14).

A real session login (``login_user``, the session cookie) and a request loader, with
Flask-Limiter, flask-cors and Flask-Compress in the same app. Named test_flask_login.py
on purpose: the guard once recognised foreign auth wrappers by a file path containing
"flask_login", and refused every view defined in such a file.
"""

from __future__ import annotations

import gzip

import pytest
from flask import Flask, jsonify, request, session
from flask.testing import FlaskClient
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user

from cacheward import Cacheward, UnkeyedInputError
from cacheward.core.principal import Principal

from .neighbours import BIG, closed_blueprint, install

TENANTS = {"alice": "acme", "bob": "acme", "carol": "globex"}


class User(UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id
        self.tenant = TENANTS[user_id]


def me_or_none() -> Principal | None:
    """The ``principal=`` of the docs' Flask-Login recipe."""
    if not current_user.is_authenticated:
        return None
    return Principal(current_user.get_id(), tenant=current_user.tenant)


def make_app(strict: bool = False) -> Flask:
    app = Flask("loginapp")
    app.config.update(
        TESTING=True,
        CACHEWARD_SECRET="s" * 32,
        SECRET_KEY="k" * 32,
        CACHEWARD_STRICT=strict,
        # The header the request loader authenticates by: a credential, like the key.
        CACHEWARD_CREDENTIAL_HEADERS=["X-User"],
    )
    login = LoginManager(app)

    @login.user_loader
    def load(user_id: str) -> User | None:
        return User(user_id) if user_id in TENANTS else None

    @login.request_loader
    def from_header(request):  # type: ignore[no-untyped-def]
        name = request.headers.get("X-User")
        return User(name) if name in TENANTS else None

    limiter = install(
        app,
        lambda: session.get("_user_id") or request.headers.get("X-User") or get_remote_address(),
    )
    ward = Cacheward(app)
    app.config["RUNS"] = runs = []

    @app.post("/login/<name>")
    def log_in(name: str):  # type: ignore[no-untyped-def]
        login_user(User(name))
        return "ok"

    @app.get("/me")
    @login_required
    @ward.cached(ttl=60, principal=me_or_none)
    def me():  # type: ignore[no-untyped-def]
        runs.append("me")
        return jsonify(user=current_user.get_id())

    @app.get("/big")
    @login_required
    @ward.cached(ttl=60, principal=me_or_none)
    def big():  # type: ignore[no-untyped-def]
        return jsonify(user=current_user.get_id(), pad=BIG)

    @app.get("/catalog")
    @login_required
    @ward.cached(ttl=60, scope="shared", principal=me_or_none)
    def catalog():  # type: ignore[no-untyped-def]
        runs.append("catalog")
        return jsonify(items=[1, 2, 3])

    @app.get("/shared-me")
    @login_required
    @ward.cached(ttl=60, scope="shared", principal=me_or_none)
    def shared_me():  # type: ignore[no-untyped-def]
        return jsonify(me=current_user.get_id())

    @app.get("/tenant-me")
    @login_required
    @ward.cached(ttl=60, scope="tenant", principal=me_or_none)
    def tenant_me():  # type: ignore[no-untyped-def]
        return jsonify(me=current_user.id)

    @app.get("/cart")
    @login_required
    @ward.cached(ttl=60, principal=me_or_none)
    def cart():  # type: ignore[no-untyped-def]
        return jsonify(cart=session.get("cart"))

    @app.get("/limited")
    @login_required
    @limiter.limit("1/minute")
    @ward.cached(ttl=60, principal=me_or_none)
    def limited():  # type: ignore[no-untyped-def]
        return "once"

    bp = closed_blueprint()

    @bp.get("/thing")
    @login_required
    @ward.cached(ttl=60, principal=me_or_none)
    def thing():  # type: ignore[no-untyped-def]
        return "never"

    app.register_blueprint(bp)
    return app


@pytest.fixture
def app() -> Flask:
    return make_app()


def logged_in(app: Flask, name: str) -> FlaskClient:
    c = app.test_client()
    assert c.post(f"/login/{name}").status_code == 200
    return c


def status(r) -> str:  # type: ignore[no-untyped-def]
    return r.headers.get("Cache-Status", "")


def test_unauthenticated_gets_the_librarys_401(app: Flask) -> None:
    for path in ("/me", "/catalog", "/shared-me"):
        r = app.test_client().get(path)
        assert r.status_code == 401
        assert "Cache-Status" not in r.headers or "stored" not in status(r)


def test_each_user_gets_their_own_entry(app: Flask) -> None:
    """Flask-Login reads the session to authenticate and again in its after_request hook
    (from Flask 3.1.3 on that marks the session accessed): neither is the response's
    input, so no ``vary=["Cookie"]`` is needed, and each session of a user shares."""
    alice, bob, alice_again = (logged_in(app, n) for n in ("alice", "bob", "alice"))
    assert alice.get("/me").get_json() == {"user": "alice"}
    assert bob.get("/me").get_json() == {"user": "bob"}
    r = alice_again.get("/me")
    assert r.get_json() == {"user": "alice"} and status(r) == "cacheward; hit"
    r = bob.get("/me")
    assert r.get_json() == {"user": "bob"} and status(r) == "cacheward; hit"
    assert app.config["RUNS"] == ["me", "me"]


def test_the_request_loaders_header_is_the_auth_layers_read(app: Flask) -> None:
    c = app.test_client()
    assert "stored" in status(c.get("/me", headers={"X-User": "carol"}))
    r = c.get("/me", headers={"X-User": "carol"})
    assert status(r) == "cacheward; hit" and r.get_json() == {"user": "carol"}
    assert c.get("/me", headers={"X-User": "bob"}).get_json() == {"user": "bob"}


def test_the_session_cookie_does_not_decide_a_shared_routes_cacheability(app: Flask) -> None:
    alice, carol = logged_in(app, "alice"), logged_in(app, "carol")
    assert "stored" in status(alice.get("/catalog"))
    r = carol.get("/catalog")
    assert status(r) == "cacheward; hit" and r.get_json() == {"items": [1, 2, 3]}
    assert app.config["RUNS"] == ["catalog"]


@pytest.mark.parametrize("path", ["/shared-me", "/tenant-me"])
def test_a_shared_or_tenant_view_reading_current_user_is_never_stored(
    app: Flask, path: str
) -> None:
    alice, bob = logged_in(app, "alice"), logged_in(app, "bob")  # one tenant
    assert "unkeyed-input" in status(alice.get(path))
    assert bob.get(path).get_json() == {"me": "bob"}


def test_strict_mode_names_the_principal() -> None:
    app = make_app(strict=True)
    with pytest.raises(UnkeyedInputError, match="the principal"):
        logged_in(app, "alice").get("/shared-me")


def test_a_view_reading_other_session_keys_is_not_stored(app: Flask) -> None:
    alice, alice2 = logged_in(app, "alice"), logged_in(app, "alice")
    with alice.session_transaction() as s:
        s["cart"] = "alice's first cart"
    with alice2.session_transaction() as s:
        s["cart"] = "alice's other cart"
    assert "unkeyed-input" in status(alice.get("/cart"))
    assert alice2.get("/cart").get_json() == {"cart": "alice's other cart"}


def test_compression_is_done_again_for_each_hit(app: Flask) -> None:
    alice, alice2 = logged_in(app, "alice"), logged_in(app, "alice")
    r = alice.get("/big", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip" and "stored" in status(r)
    assert b'"user":"alice"' in gzip.decompress(r.data)
    plain = alice2.get("/big")
    assert status(plain) == "cacheward; hit" and "Content-Encoding" not in plain.headers
    assert plain.get_json()["user"] == "alice"
    zipped = alice2.get("/big", headers={"Accept-Encoding": "gzip"})
    assert status(zipped) == "cacheward; hit" and zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data


def test_hooks_answering_before_the_view_never_500(app: Flask) -> None:
    alice = logged_in(app, "alice")
    assert alice.get("/closed/thing").status_code == 403
    assert alice.get("/limited").status_code == 200
    assert alice.get("/limited").status_code == 429
    preflight = alice.options(
        "/me", headers={"Origin": "https://a.example", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 200 and "Access-Control-Allow-Origin" in preflight.headers
    app.config["MAINTENANCE"] = True
    r = alice.get("/me")
    assert r.status_code == 503 and "stored" not in status(r)
    app.config["MAINTENANCE"] = False
    assert alice.get("/me").status_code == 200


def test_cors_headers_are_the_requests_own_on_a_hit(app: Flask) -> None:
    alice, alice2 = logged_in(app, "alice"), logged_in(app, "alice")
    first = alice.get("/me", headers={"Origin": "https://one.example"})
    assert "stored" in status(first)
    hit = alice2.get("/me")
    assert status(hit) == "cacheward; hit"
    assert hit.headers.getlist("Access-Control-Allow-Origin") == ["*"]
