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


def test_the_message_names_the_foreign_decorator_and_its_fix():
    """Issue 14: the message named cacheward's decorator even when the one found was
    flask-jwt-extended's."""
    from flask_jwt_extended import JWTManager, jwt_required

    app, ward, _ = make_app()
    JWTManager(app)
    with pytest.raises(UnsafeCacheOrder) as e:

        @app.get("/bad")
        @ward.cached(ttl=60)
        @jwt_required()
        def bad():
            return "x"

    message = str(e.value)
    assert "flask_jwt_extended.jwt_required" in message
    assert "@ward.protected" not in message
    assert "principal=get_jwt_identity" in message
    assert e.value.decorator == "flask_jwt_extended.jwt_required"


@pytest.mark.parametrize(
    ("decorate", "name", "fix"),
    [
        ("flask_login", "flask_login.login_required", "current_user.get_id()"),
        ("flask_httpauth", "flask_httpauth.HTTPAuth.login_required", "auth.current_user"),
    ],
)
def test_each_library_gets_its_own_name_and_fix(decorate, name, fix):
    app, ward, _ = make_app()
    if decorate == "flask_login":
        from flask_login import login_required

        auth_decorator = login_required
    else:
        from flask_httpauth import HTTPTokenAuth

        auth_decorator = HTTPTokenAuth().login_required
    with pytest.raises(UnsafeCacheOrder) as e:
        ward.cached(ttl=60)(auth_decorator(lambda: "x"))
    assert name in str(e.value) and fix in str(e.value)


def test_a_users_own_file_named_after_a_library_is_not_a_foreign_decorator(tmp_path):
    """Issue 14: ``_foreign_auth`` matched any file whose path contained "flask_login",
    so a view in the user's own ``test_flask_login.py`` was refused."""
    import importlib.util

    source = tmp_path / "flask_login_helpers" / "test_flask_login.py"
    source.parent.mkdir()
    source.write_text(
        "import functools\n"
        "def deco(f):\n"
        "    @functools.wraps(f)\n"
        "    def wrapper(*a, **k):\n"
        "        return f(*a, **k)\n"
        "    return wrapper\n"
        "@deco\n"
        "def view():\n"
        "    return 'x'\n"
    )
    spec = importlib.util.spec_from_file_location("test_flask_login", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _, ward, _ = make_app()
    ward.cached(ttl=60)(module.view)  # no UnsafeCacheOrder
