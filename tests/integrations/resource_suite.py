"""The checks every class-based resource framework gets (issue 14): flask-restx and
flask-restful ``Resource`` classes, Flask-Smorest ``MethodView``\\ s.

Each test module defines an ``adapter`` fixture (how its framework registers a resource
class at a path) and imports these tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Blueprint, Flask, abort, request
from flask_limiter.util import get_remote_address

from cacheward import Cacheward, current_principal
from cacheward.keys import MemoryKeyStore

from .neighbours import install

#: Registers ``cls`` at ``path`` on ``app``, or on ``bp`` (then registered by the caller).
Register = Callable[[Flask, Any, str, type, Blueprint | None], None]


@dataclass
class Adapter:
    base: type  # Resource, or MethodView
    register: Register
    config: dict[str, Any] = field(default_factory=dict)
    #: What the framework itself reads (flask-restx and flask-restful pick the
    #: representation by ``Accept``).
    vary: tuple[str, ...] = ()


@dataclass
class Built:
    app: Flask
    keys: dict[str, str]
    seen: list[dict[str, Any]]
    runs: list[str]


def build(adapter: Adapter) -> Built:
    app = Flask("resources")
    app.config.update(TESTING=True, CACHEWARD_SECRET="s" * 32, CACHEWARD_STRICT=False)
    app.config.update(adapter.config)
    store = MemoryKeyStore()
    install(app, lambda: request.headers.get("X-API-Key") or get_remote_address())
    ward = Cacheward(app, keys=store)
    keys = {
        "alice": store.create("alice", ["accounts:read"], tenant="acme").plaintext,
        "alice2": store.create("alice", ["accounts:read"], tenant="acme").plaintext,
        "bob": store.create("bob", ["accounts:read"], tenant="acme").plaintext,
    }
    seen: list[dict[str, Any]] = []
    runs: list[str] = []

    def owner(principal: Any, **view_args: Any) -> bool:
        seen.append(view_args)
        return bool(principal.id == view_args["account_id"])

    base: Any = adapter.base

    class Account(base):  # type: ignore[misc,valid-type]
        @ward.protected("accounts:read", authorize=owner)
        @ward.cached(ttl=60, vary=adapter.vary)
        def get(self, account_id: str) -> Any:
            runs.append(f"account:{account_id}")
            return {"account": account_id, "owner": current_principal.id}

    class Catalog(base):  # type: ignore[misc,valid-type]
        @ward.protected()
        @ward.cached(ttl=60, scope="shared", vary=adapter.vary)
        def get(self) -> Any:
            runs.append("catalog")
            return {"items": [1, 2, 3]}

    class WhoAmI(base):  # type: ignore[misc,valid-type]
        @ward.protected()
        @ward.cached(ttl=60, scope="shared", vary=adapter.vary)
        def get(self) -> Any:
            return {"me": current_principal.id}

    class TenantWho(base):  # type: ignore[misc,valid-type]
        @ward.protected()
        @ward.cached(ttl=60, scope="tenant", vary=adapter.vary)
        def get(self) -> Any:
            return {"me": current_principal.id}

    api = adapter.register(app, None, "/accounts/<account_id>", Account, None)
    adapter.register(app, api, "/catalog", Catalog, None)
    adapter.register(app, api, "/whoami", WhoAmI, None)
    adapter.register(app, api, "/tenant-who", TenantWho, None)

    closed = Blueprint("closed", __name__, url_prefix="/closed")

    @closed.before_request
    def refuse() -> None:
        abort(403)

    class Closed(base):  # type: ignore[misc,valid-type]
        @ward.protected()
        @ward.cached(ttl=60, vary=adapter.vary)
        def get(self) -> Any:
            return {"never": True}

    adapter.register(app, None, "/thing", Closed, closed)
    return Built(app, keys, seen, runs)


@pytest.fixture
def built(adapter: Adapter) -> Built:
    return build(adapter)


def status(r: Any) -> str:
    return str(r.headers.get("Cache-Status", ""))


def test_unauthenticated_gets_a_401(built: Built) -> None:
    c = built.app.test_client()
    for path in ("/accounts/alice", "/catalog", "/whoami"):
        r = c.get(path)
        assert r.status_code == 401 and r.get_json()["error"] == "missing_credentials"
    r = c.get("/catalog", headers={"X-API-Key": "cw_nope"})
    assert r.status_code == 401 and r.get_json()["error"] == "invalid_key"


def test_authorize_never_receives_the_resource(built: Built) -> None:
    """Issue 14: with flask-restx, ``authorize=`` got the Resource among the view
    arguments (a 500)."""
    c = built.app.test_client()
    r = c.get("/accounts/alice", headers={"X-API-Key": built.keys["alice"]})
    assert r.status_code == 200
    assert c.get("/accounts/alice", headers={"X-API-Key": built.keys["bob"]}).status_code == 403
    assert built.seen and all(args == {"account_id": "alice"} for args in built.seen)


def test_each_user_gets_their_own_entry(built: Built) -> None:
    c = built.app.test_client()
    alice, alice2, bob = ({"X-API-Key": built.keys[n]} for n in ("alice", "alice2", "bob"))
    assert "stored" in status(c.get("/accounts/alice", headers=alice))
    r = c.get("/accounts/alice", headers=alice2)
    assert status(r) == "cacheward; hit" and r.get_json()["owner"] == "alice"
    assert "stored" in status(c.get("/accounts/bob", headers=bob))
    assert c.get("/accounts/bob", headers=bob).get_json()["owner"] == "bob"
    assert built.runs == ["account:alice", "account:bob"]


def test_a_shared_route_is_shared(built: Built) -> None:
    c = built.app.test_client()
    assert "stored" in status(c.get("/catalog", headers={"X-API-Key": built.keys["alice"]}))
    r = c.get("/catalog", headers={"X-API-Key": built.keys["bob"]})
    assert status(r) == "cacheward; hit" and r.get_json() == {"items": [1, 2, 3]}


@pytest.mark.parametrize("path", ["/whoami", "/tenant-who"])
def test_a_shared_or_tenant_resource_reading_the_principal_is_never_stored(
    built: Built, path: str
) -> None:
    c = built.app.test_client()
    assert "unkeyed-input" in status(c.get(path, headers={"X-API-Key": built.keys["alice"]}))
    assert c.get(path, headers={"X-API-Key": built.keys["bob"]}).get_json() == {"me": "bob"}


def test_the_guards_own_400s_stay_400(built: Built) -> None:
    """Issue 14: under flask-restx's error handling a repeated parameter or a key in the
    URL became a 500 (the guard's error is not an HTTPException)."""
    c = built.app.test_client()
    key = built.keys["alice"]
    r = c.get("/catalog?page=1&page=2", headers={"X-API-Key": key})
    assert r.status_code == 400 and r.get_json()["error"] == "malformed_query"
    r = c.get(f"/catalog?api_key={key}")
    assert r.status_code == 400 and r.get_json()["error"] == "credential_in_query"
    assert key not in r.get_data(as_text=True)


def test_hooks_answering_before_the_view_never_500(built: Built) -> None:
    c = built.app.test_client()
    alice = {"X-API-Key": built.keys["alice"]}
    assert c.get("/closed/thing", headers=alice).status_code == 403
    preflight = c.options(
        "/catalog", headers={"Origin": "https://a.example", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 200
    built.app.config["MAINTENANCE"] = True
    assert c.get("/catalog", headers=alice).status_code == 503
    assert c.get("/catalog").status_code == 503
    built.app.config["MAINTENANCE"] = False
    assert c.get("/catalog", headers=alice).status_code == 200
