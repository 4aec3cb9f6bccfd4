"""Shared fixtures: an app guarded by cacheward, its keys and a client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask, jsonify
from tests.guardapp import make_app

from cacheward import Cacheward, current_principal
from cacheward.keys import MemoryKeyStore


@dataclass
class Keys:
    """Plaintext keys of the test principals."""

    alice: str
    alice2: str
    bob: str
    admin: str
    low: str
    acme1: str
    acme2: str


@pytest.fixture
def store() -> MemoryKeyStore:
    return MemoryKeyStore()


@pytest.fixture
def guarded() -> Iterator[tuple[Flask, Cacheward, Keys]]:
    """An API with per-principal, tenant and shared cached routes; counts view runs."""
    app, ward, store = make_app()
    keys = Keys(
        alice=store.create("alice", ["accounts:read"]).plaintext,
        alice2=store.create("alice", ["accounts:read"]).plaintext,
        bob=store.create("bob", ["accounts:read"]).plaintext,
        admin=store.create("admin", ["accounts:read", "admin"]).plaintext,
        low=store.create("low", []).plaintext,
        acme1=store.create("carol", ["accounts:read"], tenant="acme").plaintext,
        acme2=store.create("dave", ["accounts:read"], tenant="acme").plaintext,
    )
    app.config["RUNS"] = 0

    def count() -> int:
        app.config["RUNS"] += 1
        return int(app.config["RUNS"])

    @app.get("/me")
    @ward.protected("accounts:read")
    @ward.cached(ttl=60)
    def me():  # type: ignore[no-untyped-def]
        return jsonify(principal=current_principal.id, run=count())

    @app.get("/accounts/<account_id>")
    @ward.protected(
        "accounts:read",
        authorize=lambda p, account_id: p.id == account_id or "admin" in p.scopes,
    )
    @ward.cached(ttl=60, tags=["accounts"])
    def account(account_id: str):  # type: ignore[no-untyped-def]
        return jsonify(account=account_id, run=count())

    @app.get("/tenant")
    @ward.protected("accounts:read")
    @ward.cached(ttl=60, scope="tenant")
    def tenant():  # type: ignore[no-untyped-def]
        return jsonify(tenant=current_principal.tenant, run=count())

    @app.get("/catalog")
    @ward.protected()
    @ward.cached(ttl=60, scope="shared", vary=["Accept-Language"])
    def catalog():  # type: ignore[no-untyped-def]
        from flask import request

        return jsonify(lang=request.headers.get("Accept-Language"), run=count())

    yield app, ward, keys
