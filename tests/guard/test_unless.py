"""``@ward.cached(unless=...)`` (issue 14 D): a per-route bypass that runs after
authentication, never instead of it."""

from __future__ import annotations

import pytest
from flask import Flask, g, jsonify, request
from tests.guardapp import make_app

from cacheward import Cacheward, current_principal
from cacheward.errors import ConfigurationError


def _app(hook: bool = False) -> tuple[Flask, Cacheward, dict[str, str], list[str]]:
    app, ward, store = make_app()
    keys = {"alice": store.create("alice").plaintext, "bob": store.create("bob").plaintext}
    asked: list[str] = []

    if hook:  # a before_request hook: recording starts before the first hook

        @app.before_request
        def hook_() -> None:
            g.seen = True

    def unless() -> bool:
        asked.append(current_principal.id)
        return request.headers.get("X-Fresh") == "1"

    @app.get("/report")
    @ward.protected()
    @ward.cached(ttl=60, scope="shared", unless=unless)
    def report():  # type: ignore[no-untyped-def]
        return jsonify(fresh=request.args.get("n", "0"))

    return app, ward, keys, asked


def test_unless_true_neither_reads_nor_fills_the_cache() -> None:
    app, _, keys, asked = _app()
    c = app.test_client()
    stored = c.get("/report", headers={"X-API-Key": keys["alice"]})
    assert stored.headers["Cache-Status"] == "cacheward; fwd=miss; stored"
    fresh = c.get("/report", headers={"X-API-Key": keys["alice"], "X-Fresh": "1"})
    assert fresh.headers["Cache-Status"] == "cacheward; fwd=bypass; detail=unless"
    first = c.get("/report?n=1", headers={"X-API-Key": keys["bob"], "X-Fresh": "1"})
    assert first.headers["Cache-Status"] == "cacheward; fwd=bypass; detail=unless"
    again = c.get("/report?n=1", headers={"X-API-Key": keys["bob"]})
    assert again.headers["Cache-Status"] == "cacheward; fwd=miss; stored"  # nothing filled
    assert c.get("/report", headers={"X-API-Key": keys["bob"]}).headers["Cache-Status"] == (
        "cacheward; hit"
    )
    assert asked == ["alice", "alice", "bob", "bob", "bob"]


@pytest.mark.parametrize("hook", [False, True])
def test_unless_never_lets_a_request_skip_authentication(hook: bool) -> None:
    app, _, keys, asked = _app(hook)
    c = app.test_client()
    c.get("/report", headers={"X-API-Key": keys["alice"]})  # a stored entry exists
    for headers in ({"X-Fresh": "1"}, {"X-Fresh": "1", "X-API-Key": "cw_bad"}, {}):
        r = c.get("/report", headers=headers)
        assert r.status_code == 401
        assert "fresh" not in (r.get_json() or {})
    assert asked == ["alice"]  # never asked before the key was verified


@pytest.mark.parametrize("hook", [False, True])
def test_what_unless_reads_is_not_an_input_of_the_response(hook: bool) -> None:
    """It reads X-Fresh to decide; the stored response does not depend on X-Fresh."""
    app, _, keys, _ = _app(hook)
    r = app.test_client().get("/report", headers={"X-API-Key": keys["alice"], "X-Fresh": "0"})
    assert r.headers["Cache-Status"] == "cacheward; fwd=miss; stored"


def test_unless_must_be_callable() -> None:
    _, ward, _, _ = _app()
    with pytest.raises(ConfigurationError, match="unless= takes a callable"):
        ward.cached(unless=True)  # type: ignore[arg-type]
