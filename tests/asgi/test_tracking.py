"""Invariant 3 on ASGI: what the endpoint read is in its key, or nothing is stored."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI, Request, Security
from fastapi.testclient import TestClient

from cacheward.errors import UnkeyedInputError
from cacheward.fastapi import Cacheward, Principal
from cacheward.keys import MemoryKeyStore

from .asgiapp import SECRET, h, make_app


def test_a_poisoned_header_is_never_served_to_another_caller(guarded, client):
    _, _, keys, _ = guarded
    evil = client.get("/reads-header", headers=h(keys.alice, **{"X-Forwarded-Host": "evil"}))
    assert evil.json()["host"] == "evil"
    assert evil.headers["cache-status"] == "cacheward; fwd=miss; detail=unkeyed-input"
    clean = client.get("/reads-header", headers=h(keys.alice))
    assert clean.json()["host"] is None


def test_strict_mode_names_the_input():
    app, _, keys, _ = make_app(debug=True)
    with TestClient(app) as c, pytest.raises(UnkeyedInputError, match="X-Forwarded-Host"):
        c.get("/reads-header", headers=h(keys.alice, **{"X-Forwarded-Host": "evil"}))


def test_declared_header_parameters_are_keyed_automatically(guarded, client):
    _, _, keys, runs = guarded
    fr = client.get("/declared", headers=h(keys.alice, **{"Accept-Language": "fr"}))
    assert fr.headers["cache-status"].endswith("stored") and fr.headers["vary"] == "Accept-Language"
    de = client.get("/declared", headers=h(keys.alice, **{"Accept-Language": "de"}))
    assert de.json()["lang"] == "de"
    hit = client.get("/declared", headers=h(keys.alice, **{"Accept-Language": "fr"}))
    assert hit.headers["cache-status"] == "cacheward; hit" and hit.json()["lang"] == "fr"
    none = client.get("/declared", headers=h(keys.alice))
    assert none.json()["lang"] is None
    assert runs["declared"] == 3


def test_query_parameters_are_keyed_and_dropped_ones_are_unkeyed(guarded, client):
    _, _, keys, _ = guarded
    one = client.get("/items?page=1", headers=h(keys.alice)).json()
    two = client.get("/items?page=2", headers=h(keys.alice)).json()
    assert one["page"] == "1" and two["page"] == "2"
    # A dropped parameter shares the entry of the request without it...
    assert client.get("/items?page=1&utm_source=x", headers=h(keys.alice)).json() == one
    # ...and a response that read one is never stored.
    tracked = client.get("/items?page=3&utm_source=evil", headers=h(keys.alice))
    assert tracked.json()["src"] == "evil"
    assert "unkeyed-input" in tracked.headers["cache-status"]
    assert client.get("/items?page=3", headers=h(keys.alice)).json()["src"] is None


@pytest.mark.parametrize("what", ["scope", "state", "client", "cookies", "url?utm_id=1"])
def test_raw_reads_are_not_stored(guarded, client, what):
    _, _, keys, _ = guarded
    r = client.get(f"/raw/{what}", headers=h(keys.alice))
    assert r.status_code == 200
    assert "unkeyed-input" in r.headers["cache-status"], what


@pytest.mark.parametrize("what", ["plain", "url?page=2"])
def test_reads_the_key_covers_are_stored(guarded, client, what):
    _, _, keys, _ = guarded
    r = client.get(f"/raw/{what}", headers=h(keys.alice))
    assert r.headers["cache-status"].endswith("stored")


def _app_with(**routes):
    app = FastAPI()
    store = MemoryKeyStore()
    ward = Cacheward(app, keys=store, secret=SECRET)
    return app, ward, store


def test_a_dependency_that_takes_the_request_makes_the_route_unstorable():
    app, ward, store = _app_with()

    def lang(request: Request) -> str | None:
        return request.headers.get("accept-language")

    @app.get("/d")
    @ward.cached(ttl=5)
    async def d(lang: str | None = Depends(lang), p: Principal = Security(ward.protected())):  # noqa: B008
        return {"lang": lang}

    key = store.create("alice").plaintext
    with TestClient(app) as c:
        r = c.get("/d", headers=h(key, **{"Accept-Language": "fr"}))
        assert "unkeyed-input" in r.headers["cache-status"]
        assert c.get("/d", headers=h(key)).json()["lang"] is None


def test_a_dependency_deriving_from_the_principal_counts_as_the_whole_principal():
    app, ward, store = _app_with()
    protect = ward.protected()

    def user(p: Principal = Security(protect)) -> dict:  # noqa: B008
        return {"name": p.id.upper(), "scopes": sorted(p.scopes)}

    @app.get("/u")
    @ward.cached(ttl=5, scope="tenant")
    async def u(me: dict = Depends(user), p: Principal = Security(protect)):  # noqa: B008
        return me

    @app.get("/v")
    @ward.cached(ttl=5, vary=[":scopes", ":key-id"])
    async def v(me: dict = Depends(user), p: Principal = Security(protect)):  # noqa: B008
        return me

    a = store.create("alice", tenant="t").plaintext
    b = store.create("bob", tenant="t").plaintext
    with TestClient(app) as c:
        assert "unkeyed-input" in c.get("/u", headers=h(a)).headers["cache-status"]
        assert c.get("/u", headers=h(b)).json()["name"] == "BOB"
        assert c.get("/v", headers=h(a)).headers["cache-status"].endswith("stored")
        assert c.get("/v", headers=h(b)).json()["name"] == "BOB"


def test_principal_fields_are_recorded():
    app, ward, store = _app_with()
    protect = ward.protected()

    @app.get("/t")
    @ward.cached(ttl=5, scope="tenant")
    async def t(p: Principal = Security(protect)):  # noqa: B008
        return {"tenant": p.tenant}

    @app.get("/whole")
    @ward.cached(ttl=5, scope="tenant")
    async def whole(p: Principal = Security(protect)):  # noqa: B008
        return {"p": repr(p)}

    @app.get("/scopes")
    @ward.cached(ttl=5)
    async def scopes(p: Principal = Security(protect)):  # noqa: B008
        return {"s": sorted(p.scopes)}

    a = store.create("alice", ["x"], tenant="t").plaintext
    with TestClient(app) as c:
        assert c.get("/t", headers=h(a)).headers["cache-status"].endswith("stored")
        assert "unkeyed-input" in c.get("/whole", headers=h(a)).headers["cache-status"]
        assert "unkeyed-input" in c.get("/scopes", headers=h(a)).headers["cache-status"]


def test_a_middleware_added_after_the_guard_is_still_seen():
    """The guard wraps the whole app: a user middleware's Set-Cookie is final-response."""
    app, ward, store = _app_with()

    @app.middleware("http")
    async def add_cookie(request, call_next):
        response = await call_next(request)
        if request.url.path == "/c":
            response.set_cookie("tracking", "1")
        response.headers["Cache-Control"] = "public, max-age=999"
        return response

    protect = ward.protected()
    runs = []

    @app.get("/c")
    @ward.cached(ttl=5)
    async def c_(p: Principal = Security(protect)):  # noqa: B008
        runs.append(1)
        return {"n": len(runs)}

    @app.get("/ok")
    @ward.cached(ttl=5)
    async def ok(p: Principal = Security(protect)):  # noqa: B008
        return {"ok": 1}

    a = store.create("alice").plaintext
    with TestClient(app) as c:
        first = c.get("/c", headers=h(a))
        assert "not-storable" in first.headers["cache-status"]
        assert first.headers["cache-control"] == "no-store"
        assert c.get("/c", headers=h(a)).json()["n"] == 2
        r = c.get("/ok", headers=h(a))
        assert r.headers["cache-control"] == "private, no-cache"  # public was replaced
        # BaseHTTPMiddleware re-streams every body (a chunk, then an empty end): the
        # response is still complete, stored, and its hits are kept private too.
        assert r.headers["cache-status"] == "cacheward; fwd=miss; stored"
        hit = c.get("/ok", headers=h(a))
        assert hit.headers["cache-status"] == "cacheward; hit"
        assert hit.headers["cache-control"] == "private, no-cache"


def test_declared_cookie_query_body_and_credential_parameters():
    from fastapi import Body, Cookie, Header, Query
    from pydantic import BaseModel

    class Filter(BaseModel):
        q: str = ""

    app, ward, store = _app_with()
    protect = ward.protected()

    @app.get("/cookie")
    @ward.cached(ttl=5)
    async def cookie(theme: str | None = Cookie(None), p: Principal = Security(protect)):  # noqa: B008
        return {"theme": theme}

    @app.get("/query")
    @ward.cached(ttl=5, scope="shared")
    async def query(page: int = Query(1), p: Principal = Security(protect)):  # noqa: B008
        return {"page": page}

    @app.get("/body")
    @ward.cached(ttl=5)
    async def body(f: Filter | None = Body(None), p: Principal = Security(protect)):  # noqa: B008
        return {"f": None if f is None else f.q}

    @app.get("/cred")
    @ward.cached(ttl=5, vary=[":key-id"])  # what the credential decided is each key's own
    async def cred(x_api_key: str = Header(), p: Principal = Security(protect)):  # noqa: B008
        return {"len": len(x_api_key)}

    @app.get("/cred-shared")
    @ward.cached(ttl=5, scope="shared")
    async def cred_shared(x_api_key: str = Header(), p: Principal = Security(protect)):  # noqa: B008
        return {"len": len(x_api_key)}

    a = store.create("alice").plaintext
    b = store.create("bob").plaintext
    with TestClient(app) as c:
        dark = c.get("/cookie", headers=h(a, Cookie="theme=dark"))
        assert dark.headers["cache-status"].endswith("stored") and dark.headers["vary"] == "Cookie"
        light = c.get("/cookie", headers=h(a, Cookie="theme=light"))
        assert light.json() == {"theme": "light"}
        assert c.get("/query?page=2", headers=h(a)).headers["cache-status"].endswith("stored")
        assert c.get("/query?page=2", headers=h(b)).headers["cache-status"] == "cacheward; hit"
        assert c.get("/query?page=3", headers=h(b)).json() == {"page": 3}
        assert "unkeyed-input" in c.get("/body", headers=h(a)).headers["cache-status"]
        assert c.get("/cred", headers=h(a)).headers["cache-status"].endswith("stored")
        shared = c.get("/cred-shared", headers=h(a))
        assert "unkeyed-input" in shared.headers["cache-status"]  # the credential, shared
        assert ward.state.keys_memo and all(a not in repr(k) for k in ward.state.keys_memo)


def test_routers_and_router_dependencies():
    from fastapi import APIRouter

    app, ward, store = _app_with()
    router = APIRouter()
    protect = ward.protected()

    def audit() -> None:  # a router-level dependency that reads nothing
        return None

    @router.get("/r/{name}")
    @ward.cached(ttl=5)
    async def r(name: str, p: Principal = Security(protect)):  # noqa: B008
        return {"name": name, "id": p.id}

    app.include_router(router, prefix="/v1", dependencies=[Depends(audit)])
    app.include_router(router, prefix="/v2")
    a = store.create("alice").plaintext
    with TestClient(app) as c:
        assert c.get("/v1/r/x", headers=h(a)).headers["cache-status"].endswith("stored")
        assert c.get("/v1/r/x", headers=h(a)).headers["cache-status"] == "cacheward; hit"
        v2 = c.get("/v2/r/x", headers=h(a))  # another path: another entry
        assert v2.headers["cache-status"].endswith("stored")
        assert c.get("/v1/r/x").status_code == 401
