"""``ward.purge_route`` (issue 14 D): delete one route's entry for given view arguments,
exactly, and only the principal's it is asked for."""

from __future__ import annotations

import pytest
from flask import Flask, jsonify, request
from flask.views import MethodView
from tests.guardapp import make_app
from werkzeug.middleware.proxy_fix import ProxyFix

from cacheward import Cacheward, Principal, current_principal
from cacheward.errors import ConfigurationError


def _app(**config: object) -> tuple[Flask, Cacheward, dict[str, str], list[tuple[str, ...]]]:
    app, ward, store = make_app(**config)
    keys = {
        "alice": store.create("alice").plaintext,
        "bob": store.create("bob").plaintext,
        "carol": store.create("carol", tenant="acme").plaintext,
        "dave": store.create("dave", tenant="acme").plaintext,
    }
    runs: list[tuple[str, ...]] = []

    @app.get("/docs/<doc_id>")
    @ward.protected()
    @ward.cached(ttl=60)
    def doc(doc_id: str):  # type: ignore[no-untyped-def]
        runs.append(("doc", current_principal.id, doc_id, request.args.get("v", "")))
        return jsonify(doc=doc_id)

    @app.post("/docs/<doc_id>")
    @ward.protected()
    def edit(doc_id: str):  # type: ignore[no-untyped-def]
        ward.purge_route("doc", doc_id=doc_id)  # the caller's own entry, this host
        return "", 204

    @app.get("/team")
    @ward.protected()
    @ward.cached(ttl=60, scope="tenant")
    def team():  # type: ignore[no-untyped-def]
        runs.append(("team", str(current_principal.tenant)))
        return jsonify(team=current_principal.tenant)

    @app.get("/news")
    @ward.protected()
    @ward.cached(ttl=60, scope="shared", vary=["Accept-Language"])
    def news():  # type: ignore[no-untyped-def]
        runs.append(("news", str(request.headers.get("Accept-Language"))))
        return jsonify(news=1)

    return app, ward, keys, runs


def _get(app: Flask, keys: dict[str, str], who: str, url: str, **headers: str) -> str:
    r = app.test_client().get(url, headers={"X-API-Key": keys[who], **headers})
    return str(r.headers["Cache-Status"])


def test_only_the_asked_entry_goes() -> None:
    app, ward, keys, runs = _app()
    calls = [
        ("alice", "/docs/1"),
        ("alice", "/docs/2"),
        ("bob", "/docs/1"),
        ("alice", "/docs/1?v=2"),
    ]
    for who, url in calls:
        _get(app, keys, who, url)
    with app.app_context():
        assert ward.purge_route("doc", principal="alice", doc_id="1", host="localhost") == 2
    assert [_get(app, keys, who, url) for who, url in calls] == [
        "cacheward; fwd=miss; stored",  # alice's /docs/1: deleted
        "cacheward; hit",
        "cacheward; hit",  # bob's /docs/1: another principal's entry is untouched
        "cacheward; hit",  # another query is another entry
    ]
    with app.app_context():
        view = app.view_functions["doc"]  # the view function works as well as its endpoint
        ward.purge_route(view, principal="alice", doc_id="1", query={"v": "2"}, host="localhost")
    assert _get(app, keys, "alice", "/docs/1?v=2") == "cacheward; fwd=miss; stored"


def test_in_a_request_it_deletes_the_callers_entry() -> None:
    app, _, keys, runs = _app()
    c = app.test_client()
    for who in ("alice", "bob"):
        c.get("/docs/7", headers={"X-API-Key": keys[who]})
    c.post("/docs/7", headers={"X-API-Key": keys["alice"]})
    assert _get(app, keys, "alice", "/docs/7") == "cacheward; fwd=miss; stored"
    assert _get(app, keys, "bob", "/docs/7") == "cacheward; hit"


def test_tenant_and_shared_routes() -> None:
    app, ward, keys, _ = _app()
    for who in ("carol", "alice"):
        _get(app, keys, who, "/team")
    for lang in ("fr", "en"):
        _get(app, keys, "alice", "/news", **{"Accept-Language": lang})
    with app.app_context():
        ward.purge_route("team", tenant="acme", host="localhost")
        ward.purge_route("news", headers={"Accept-Language": "fr"}, host="localhost")
        with pytest.raises(ConfigurationError, match="varies on accept-language"):
            ward.purge_route("news", host="localhost")
    assert _get(app, keys, "dave", "/team") == "cacheward; fwd=miss; stored"
    assert _get(app, keys, "alice", "/team") == "cacheward; hit"
    assert _get(app, keys, "bob", "/news", **{"Accept-Language": "fr"}) == (
        "cacheward; fwd=miss; stored"
    )
    assert _get(app, keys, "bob", "/news", **{"Accept-Language": "en"}) == "cacheward; hit"


def test_a_tenant_principal_entry_needs_its_tenant() -> None:
    app, ward, keys, _ = _app()
    _get(app, keys, "carol", "/docs/1")
    with app.app_context():
        ward.purge_route("doc", principal="carol", doc_id="1", host="localhost")
    assert _get(app, keys, "carol", "/docs/1") == "cacheward; hit"  # carol@no tenant
    with app.app_context():
        ward.purge_route("doc", principal=Principal("carol", "acme"), doc_id="1", host="localhost")
    assert _get(app, keys, "carol", "/docs/1") == "cacheward; fwd=miss; stored"


def test_missing_parts_of_the_key_are_asked_for() -> None:
    app, ward, _, _ = _app()
    with app.app_context():
        with pytest.raises(ConfigurationError, match="whose entry"):
            ward.purge_route("doc", doc_id="1", host="localhost")
        with pytest.raises(ConfigurationError, match="needs the host"):
            ward.purge_route("doc", principal="alice", doc_id="1")
        with pytest.raises(ConfigurationError, match="no endpoint"):
            ward.purge_route("nope", principal="alice", host="localhost")
        with pytest.raises(ConfigurationError, match="not a @ward.cached route"):
            ward.purge_route("edit", principal="alice", doc_id="1", host="localhost")


def test_host_script_root_proxy_fix_and_a_non_ascii_argument() -> None:
    app, ward, keys, _ = _app()
    app.wsgi_app = ProxyFix(app.wsgi_app, x_host=1)  # type: ignore[method-assign]
    url = "/docs/caf%C3%A9"
    headers = {"X-API-Key": keys["alice"], "X-Forwarded-Host": "api.example"}
    c = app.test_client()
    c.get(url, headers=headers, base_url="https://internal/app")
    with app.app_context():
        ward.purge_route(
            "doc", principal="alice", doc_id="café", host="internal", script_root="/app"
        )
    r = c.get(url, headers=headers, base_url="https://internal/app")
    assert r.headers["Cache-Status"] == "cacheward; fwd=miss; stored"


def test_a_class_based_view() -> None:
    app, ward, keys, _ = _app()

    class Item(MethodView):
        @ward.protected()
        @ward.cached(ttl=60)
        def get(self, item_id: int):  # type: ignore[no-untyped-def]
            return jsonify(item=item_id)

    app.add_url_rule("/items/<int:item_id>", view_func=Item.as_view("item"))
    _get(app, keys, "alice", "/items/3")
    assert _get(app, keys, "alice", "/items/3") == "cacheward; hit"
    with app.app_context():
        ward.purge_route("item", principal="alice", item_id=3, host="localhost")
    assert _get(app, keys, "alice", "/items/3") == "cacheward; fwd=miss; stored"
