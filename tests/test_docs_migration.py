"""The auth library recipes in ``docs/migrating-from-flask-caching.md`` run exactly as
written and do what the guide says (issue 14 E)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, jsonify

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "migrating-from-flask-caching.md"
FLASK_CACHING_FEATURES = (
    "`cached`",
    "memoize",
    "`unless=`",
    "`query_string=",
    "`make_cache_key=`",
    "`response_filter=`",
    "`forced_update=`",
    "`source_check=`",
    "`cache.get/set/delete(key)`",
    "delete_memoized",
    "template fragments",
    "`key_prefix=callable`",
)


def recipes() -> dict[str, str]:
    text = GUIDE.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(# recipe: (.+?)\n.*?)```", text, re.S)
    return {name: code for code, name in blocks}


def run(name: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "recipe"}
    exec(compile(recipes()[name], f"<recipe {name}>", "exec"), namespace)  # noqa: S102
    app: Flask = namespace["app"]
    app.config["TESTING"] = True
    return namespace


def test_the_guide_has_the_three_recipes_and_maps_every_feature() -> None:
    assert set(recipes()) == {"flask-jwt-extended", "flask-httpauth", "Flask-Login"}
    text = GUIDE.read_text(encoding="utf-8")
    table = text[text.index("## Every Flask-Caching feature") : text.index("## `unless`")]
    for feature in FLASK_CACHING_FEATURES:
        assert feature in table, feature


def _each_user_gets_their_own_entry(get: Any) -> None:
    for user in ("alice", "bob", "alice", "bob"):
        r = get(user)
        assert r.status_code == 200 and r.get_json() == {"user": user}
    assert get("alice").headers["Cache-Status"] == "cacheward; hit"


def _add_a_shared_view_reading_the_identity(
    ns: dict[str, Any], auth: Any, principal: Any, read: Any
) -> None:
    """Beside the recipe's routes: a shared route whose view reads who is calling
    through the library (it must never be stored)."""
    app, ward = ns["app"], ns["ward"]
    app.extensions["cacheward"].strict = False

    def shared():  # type: ignore[no-untyped-def]
        return jsonify(user=read())

    app.add_url_rule(
        "/shared", "shared", auth(ward.cached(60, "shared", principal=principal)(shared))
    )


def test_flask_jwt_extended_recipe() -> None:
    from flask_jwt_extended import create_access_token, get_jwt_identity, jwt_required

    ns = run("flask-jwt-extended")
    app = ns["app"]
    _add_a_shared_view_reading_the_identity(ns, jwt_required(), get_jwt_identity, get_jwt_identity)
    c = app.test_client()
    r = c.get("/me")
    assert r.status_code == 401 and "msg" in r.get_json()  # the library's own 401

    def headers(user: str) -> dict[str, str]:
        with app.app_context():
            return {"Authorization": f"Bearer {create_access_token(identity=user)}"}

    tokens = {u: headers(u) for u in ("alice", "bob")}
    _each_user_gets_their_own_entry(lambda u: c.get("/me", headers=tokens[u]))
    c.get("/shared", headers=tokens["alice"])
    assert c.get("/shared", headers=tokens["bob"]).get_json() == {"user": "bob"}


def test_flask_httpauth_recipe() -> None:
    ns = run("flask-httpauth")
    app, auth = ns["app"], ns["auth"]
    _add_a_shared_view_reading_the_identity(
        ns, auth.login_required, auth.current_user, auth.current_user
    )
    c = app.test_client()
    assert c.get("/me").status_code == 401
    assert c.get("/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    tokens = {u: {"Authorization": f"Bearer token-of-{u}"} for u in ("alice", "bob")}
    _each_user_gets_their_own_entry(lambda u: c.get("/me", headers=tokens[u]))
    c.get("/shared", headers=tokens["alice"])
    assert c.get("/shared", headers=tokens["bob"]).get_json() == {"user": "bob"}


def test_flask_login_recipe() -> None:
    from flask_login import current_user, login_required

    ns = run("Flask-Login")
    app = ns["app"]
    _add_a_shared_view_reading_the_identity(
        ns, login_required, ns["logged_in_user"], lambda: current_user.get_id()
    )
    clients = {u: app.test_client() for u in ("alice", "bob")}
    assert clients["alice"].get("/me").status_code == 401
    for user, client in clients.items():
        assert client.post("/login", data={"user": user}).status_code == 204
    _each_user_gets_their_own_entry(lambda u: clients[u].get("/me"))
    clients["alice"].get("/shared")
    assert clients["bob"].get("/shared").get_json() == {"user": "bob"}


@pytest.mark.parametrize("name", ["flask-jwt-extended", "flask-httpauth", "Flask-Login"])
def test_recipes_refuse_the_unsafe_order(name: str) -> None:
    """Swapping the two decorators of a recipe fails at import, as the guide says."""
    from cacheward import UnsafeCacheOrder

    code = recipes()[name]
    lines = code.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("@ward.cached"))
    lines[at - 1], lines[at] = lines[at], lines[at - 1]
    with pytest.raises(UnsafeCacheOrder):
        exec(compile("\n".join(lines), f"<recipe {name}>", "exec"), {"__name__": "r"})  # noqa: S102
