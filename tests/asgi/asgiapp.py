"""The FastAPI application most ASGI guard tests run against."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Header, Request, Security
from fastapi.responses import PlainTextResponse, StreamingResponse

from cacheward.fastapi import Cacheward, Principal
from cacheward.keys import MemoryKeyStore

SECRET = "asgi-test-secret-0123456789abcdef"


@dataclass
class Keys:
    store: MemoryKeyStore
    alice: str
    bob: str
    acme1: str
    acme2: str
    reader: str  # "carol": a valid key without the reports:read scope
    revoked_id: str
    revoked: str


def issue(store: MemoryKeyStore) -> Keys:
    alice = store.create("alice", ["reports:read"])
    bob = store.create("bob", ["reports:read"])
    acme1 = store.create("acme-1", ["reports:read"], tenant="acme")
    acme2 = store.create("acme-2", ["reports:read"], tenant="acme")
    carol = store.create("carol", [])
    gone = store.create("dave", ["reports:read"])
    return Keys(
        store,
        alice.plaintext,
        bob.plaintext,
        acme1.plaintext,
        acme2.plaintext,
        carol.plaintext,
        gone.id,
        gone.plaintext,
    )


def make_app(**settings: Any) -> tuple[FastAPI, Cacheward, Keys, dict[str, int]]:
    """The app, its guard, the keys, and a counter of endpoint runs per route."""
    store = MemoryKeyStore()
    keys = issue(store)
    app = FastAPI(debug=bool(settings.pop("debug", False)))
    settings.setdefault("keys", store)
    ward = Cacheward(app, secret=SECRET, **settings)
    runs: dict[str, int] = {}
    counter = itertools.count()

    def ran(name: str) -> int:
        runs[name] = runs.get(name, 0) + 1
        return next(counter)

    reports = ward.protected("reports:read")

    @app.get("/me")
    @ward.cached(ttl=60)
    async def me(principal: Principal = Security(reports)):  # noqa: B008
        return {"principal": principal.id, "run": ran("me")}

    @app.get("/accounts/{account_id}")
    @ward.cached(ttl=60)
    async def account(
        account_id: str,
        principal: Principal = Security(  # noqa: B008
            ward.protected("reports:read", authorize=lambda p, account_id: p.id == account_id)
        ),
    ):
        return {"account": account_id, "run": ran("account")}

    @app.get("/tenant")
    @ward.cached(ttl=60, scope="tenant")
    async def tenant(principal: Principal = Security(reports)):  # noqa: B008
        return {"tenant": principal.tenant, "run": ran("tenant")}

    @app.get("/catalog")
    @ward.cached(ttl=60, scope="shared", vary=["Accept-Language"])
    async def catalog(request: Request, principal: Principal = Security(reports)):  # noqa: B008
        return {"lang": request.headers.get("accept-language"), "run": ran("catalog")}

    @app.get("/shared-who")
    @ward.cached(ttl=60, scope="shared")
    async def shared_who(principal: Principal = Security(reports)):  # noqa: B008
        return {"who": principal.id, "run": ran("shared-who")}

    @app.get("/declared")
    @ward.cached(ttl=60)
    def declared(
        accept_language: str | None = Header(None),  # noqa: B008
        principal: Principal = Security(reports),  # noqa: B008
    ):
        return {"lang": accept_language, "run": ran("declared")}

    @app.get("/reads-header")
    @ward.cached(ttl=60)
    async def reads_header(request: Request, principal: Principal = Security(reports)):  # noqa: B008
        return {"host": request.headers.get("x-forwarded-host"), "run": ran("reads-header")}

    @app.get("/items")
    @ward.cached(ttl=60)
    async def items(request: Request, principal: Principal = Security(reports)):  # noqa: B008
        q = request.query_params
        return {"page": q.get("page"), "src": q.get("utm_source"), "run": ran("items")}

    @app.get("/raw/{what}")
    @ward.cached(ttl=60)
    async def raw(what: str, request: Request, principal: Principal = Security(reports)):  # noqa: B008
        if what == "scope":
            value: Any = str(request.scope.get("client"))
        elif what == "state":
            value = str(getattr(request.state, "x", None))
        elif what == "url":
            value = str(request.url)
        elif what == "client":
            value = str(request.client)
        elif what == "cookies":
            value = request.cookies.get("session")
        elif what == "body":
            value = (await request.body()).decode()
        else:
            value = what
        return {"value": value, "run": ran("raw")}

    @app.get("/status/{code}")
    @ward.cached(ttl=60)
    async def status(code: int, principal: Principal = Security(reports)):  # noqa: B008
        return PlainTextResponse(f"status {code} run {ran('status')}", status_code=code)

    @app.get("/headers/{kind}")
    @ward.cached(ttl=60)
    async def with_headers(kind: str, principal: Principal = Security(reports)):  # noqa: B008
        response = PlainTextResponse(f"{kind} run {ran('headers')}")
        if kind == "public":
            response.headers["Cache-Control"] = "public, max-age=600"
        elif kind == "no-store":
            response.headers["Cache-Control"] = "no-store"
        elif kind == "vary-star":
            response.headers["Vary"] = "*"
        elif kind == "cookie":
            response.set_cookie("s", "1")
        elif kind == "vary-other":
            response.headers["Vary"] = "X-Other"
        return response

    @app.get("/stream")
    @ward.cached(ttl=60)
    async def stream(principal: Principal = Security(reports)):  # noqa: B008
        n = ran("stream")

        async def body():
            yield b"part1 "
            yield f"run {n}".encode()

        return StreamingResponse(body(), media_type="text/plain")

    @app.api_route("/both", methods=["GET", "HEAD"], include_in_schema=False)
    @ward.cached(ttl=60)
    async def both(principal: Principal = Security(reports)):  # noqa: B008
        return PlainTextResponse(f"both {principal.id} run {ran('both')}")

    @app.get("/uncached")
    async def uncached(principal: Principal = Security(reports)):  # noqa: B008
        return {"principal": principal.id}

    @app.get("/public-route")
    async def public_route():
        return {"ok": True}

    return app, ward, keys, runs


def h(key: str | None, **extra: str) -> dict[str, str]:
    """Request headers carrying ``key`` in ``X-API-Key`` (none for ``None``)."""
    out = dict(extra)
    if key is not None:
        out["X-API-Key"] = key
    return out


def guarded(
    app: FastAPI | None = None, **settings: Any
) -> tuple[FastAPI, Cacheward, MemoryKeyStore, str, str]:
    """A bare guarded app for an attack test: the app, the guard, its key store, and
    alice's and bob's keys."""
    app = app or FastAPI()
    store = MemoryKeyStore()
    ward = Cacheward(app, keys=store, secret=SECRET, **settings)
    return app, ward, store, store.create("alice").plaintext, store.create("bob").plaintext


def cache_status(response: Any) -> str:
    """The response's ``Cache-Status`` ("" when it has none)."""
    return str(response.headers.get("cache-status", ""))
