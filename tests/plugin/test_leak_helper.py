"""``assert_no_cross_key_leak`` and the fixtures, called directly."""

from __future__ import annotations

import json

import pytest
from flask import Flask, jsonify, request
from tests.guardapp import make_app

from cacheward import current_principal
from cacheward.keys import redact
from cacheward.testing import RedactedKey, assert_no_cross_key_leak


@pytest.fixture
def app() -> Flask:
    app, ward, _ = make_app()

    @app.get("/me")
    @ward.protected("r")
    @ward.cached(ttl=60)
    def me():  # type: ignore[no-untyped-def]
        return jsonify(owner=current_principal.id)

    @app.get("/everyone")
    @ward.protected("r")
    @ward.cached(ttl=60, scope="shared")
    def everyone():  # type: ignore[no-untyped-def]
        return jsonify(catalog=[1, 2, 3])

    @app.get("/lang")
    @ward.protected("r")
    @ward.cached(ttl=60)
    def lang():  # type: ignore[no-untyped-def]
        return jsonify(owner=current_principal.id, lang=request.headers.get("Accept-Language"))

    app.config["CACHEWARD_STRICT"] = False
    app.extensions["cacheward"].strict = False
    return app


def test_passes_with_bearer_header(app: Flask, cacheward_keys):
    keys = {n: cacheward_keys(n, ["r"]) for n in ("alice", "bob", "carol")}
    denied = [cacheward_keys("low")]
    assert_no_cross_key_leak(
        app.test_client(), "/me", keys, header="Authorization", denied=denied, repeat=3
    )


def test_same_body_for_everyone_is_reported(app: Flask, cacheward_keys):
    keys = {n: cacheward_keys(n, ["r"]) for n in ("alice", "bob")}
    with pytest.raises(AssertionError, match="the same body") as info:
        assert_no_cross_key_leak(app.test_client(), "/everyone", keys)
    for key in keys.values():
        assert str(key) not in str(info.value)
        assert redact(key) in str(info.value)


def test_unkeyed_read_is_reported_without_strict(app: Flask, cacheward_keys):
    keys = {n: cacheward_keys(n, ["r"]) for n in ("alice", "bob")}
    with pytest.raises(AssertionError, match="outside its cache key"):
        assert_no_cross_key_leak(app.test_client(), "/lang", keys)


def test_strict_fixture_raises_on_unkeyed_read(app: Flask, cacheward_keys, cacheward_strict):
    from cacheward import UnkeyedInputError

    key = cacheward_keys("alice", ["r"])
    with pytest.raises(UnkeyedInputError, match="Accept-Language"):
        app.test_client().get("/lang", headers={"X-API-Key": key})


def test_normalize_ignores_a_changing_part(app: Flask, cacheward_keys):
    ward = app.extensions["cacheward"]
    ward.enabled = False  # every request runs the view: a fresh counter each time
    counter = iter(range(1000))

    @app.get("/counted")
    def counted():  # type: ignore[no-untyped-def]
        key = request.headers.get("X-API-Key", "")
        principal = ward.keys.verify(key)
        if principal is None:
            return jsonify(error="unauthorized"), 401
        return jsonify(owner=principal.id, n=next(counter))

    keys = {n: cacheward_keys(n, ["r"]) for n in ("alice", "bob")}
    with pytest.raises(AssertionError, match="a body other than its own"):
        assert_no_cross_key_leak(app.test_client(), "/counted", keys)
    assert_no_cross_key_leak(
        app.test_client(), "/counted", keys, normalize=lambda b: json.loads(b)["owner"]
    )


def test_factory_issues_live_keys_with_a_redacted_repr(app: Flask, request: pytest.FixtureRequest):
    factory_fixture = request.getfixturevalue("cacheward_keys")
    key = factory_fixture("alice", ["r"])
    assert isinstance(key, RedactedKey) and repr(key) == repr(redact(key))
    assert app.extensions["cacheward"].keys.verify(key) is not None


def test_needs_distinct_keys():
    with pytest.raises(ValueError, match="its own key"):
        assert_no_cross_key_leak(None, "/", {"a": "k", "b": "k"})  # type: ignore[arg-type]


@pytest.mark.parametrize("offset", [0, 26, 30, 60, 79])
def test_excerpts_redact_before_they_cut(offset: int) -> None:
    from cacheward.testing import _Prober

    key = "cw_abcdefghijkl_" + "S" * 32 + "ZZZZZZ"
    prober = _Prober(None, "/", "X-API-Key", [key], lambda b: b)  # type: ignore[arg-type]
    shown = prober.excerpt(b"x" * offset + key.encode() + b" tail")
    assert key[:12] not in shown and "S" * 8 not in shown
