"""The guard with flask-jwt-extended as the auth layer, through ``principal=`` (issue 14)."""

from __future__ import annotations

import pytest
from flask import Flask, jsonify
from flask_jwt_extended import JWTManager, create_access_token, get_jwt_identity, jwt_required

from cacheward import Cacheward


@pytest.fixture
def app() -> Flask:
    app = Flask("jwtapp")
    app.config.update(TESTING=True, CACHEWARD_SECRET="s" * 32, JWT_SECRET_KEY="j" * 32)
    JWTManager(app)
    ward = Cacheward(app)

    @app.get("/me")
    @jwt_required()
    @ward.cached(ttl=60, principal=lambda: get_jwt_identity())
    def me():  # type: ignore[no-untyped-def]
        return jsonify(user=get_jwt_identity())

    @app.get("/shared")
    @jwt_required()
    @ward.cached(ttl=60, scope="shared", principal=lambda: get_jwt_identity())
    def shared():  # type: ignore[no-untyped-def]
        return jsonify(user=get_jwt_identity())

    return app


def bearer(app: Flask, user: str) -> dict[str, str]:
    with app.app_context():
        return {"Authorization": f"Bearer {create_access_token(identity=user)}"}


def test_unauthenticated_gets_the_librarys_401(app: Flask) -> None:
    r = app.test_client().get("/me")
    assert r.status_code == 401 and "msg" in r.get_json()


def test_each_user_gets_their_own_entry(app: Flask) -> None:
    c = app.test_client()
    for _ in range(2):
        assert c.get("/me", headers=bearer(app, "alice")).get_json() == {"user": "alice"}
        assert c.get("/me", headers=bearer(app, "bob")).get_json() == {"user": "bob"}


def test_a_shared_view_reading_the_identity_is_never_stored(app: Flask) -> None:
    """Today Bob is served Alice's body: get_jwt_identity() is not tracked."""
    app.extensions["cacheward"].strict = False  # judge what is stored, not what raises
    c = app.test_client()
    c.get("/shared", headers=bearer(app, "alice"))
    assert c.get("/shared", headers=bearer(app, "bob")).get_json() == {"user": "bob"}
