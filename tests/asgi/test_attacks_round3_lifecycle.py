"""Round three of attacks on the ASGI guard: dependencies declared away from the endpoint
(app-wide, ``include_router``, classes, callable objects), ``BackgroundTasks``, lifespan
state, path converters and trailing-slash redirects, a key revoked while its miss runs,
a real Redis killed between lookup and store, and a parameter kind FastAPI may add.
"""

from __future__ import annotations

import asyncio
import contextvars
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Header, Request, Security
from fastapi.testclient import TestClient

from cacheward.fastapi import Principal

from .asgiapp import cache_status, guarded, h

# -- dependencies declared away from the endpoint -----------------------------------------


def _reads_request(request: Request) -> str | None:
    return request.headers.get("x-note")


def test_app_wide_and_include_router_dependencies_that_read_the_request_are_not_stored():
    note: contextvars.ContextVar[str | None] = contextvars.ContextVar("test_note", default=None)

    def remember_note(request: Request) -> None:
        note.set(request.headers.get("x-note"))

    for where in ("app", "include_router"):
        app = FastAPI(dependencies=[Depends(remember_note)] if where == "app" else [])
        app, ward, _, alice, bob = guarded(app)
        router = APIRouter()

        @router.get("/noted")
        @ward.cached(ttl=60, scope="shared")
        async def noted(p: Principal = Security(ward.protected())):  # noqa: B008
            return {"note": note.get()}

        extra = [Depends(remember_note)] if where == "include_router" else []
        app.include_router(router, dependencies=extra)
        with TestClient(app) as c:
            c.get("/noted", headers=h(alice, **{"X-Note": "poison"}))
            victim = c.get("/noted", headers=h(bob))
            assert victim.json() == {"note": None}, f"{where}: Bob was served Alice's note"


class _Pager:
    """A class dependency (FastAPI's "classes as dependencies")."""

    def __init__(self, x_page_size: int = Header(10)) -> None:  # noqa: B008
        self.size = x_page_size


class _Locale:
    """A callable object dependency with per-instance configuration."""

    def __init__(self, default: str) -> None:
        self.default = default

    def __call__(self, request: Request) -> str:
        return request.headers.get("accept-language", self.default)


# FastAPI 0.110 resolves a callable object's string annotations in no module (it has no
# __globals__): give it the class itself, as a module without `from __future__` would.
_Locale.__call__.__annotations__["request"] = Request


def test_class_and_callable_object_dependencies_are_keyed_or_unstorable():
    app, ward, _, alice, bob = guarded()
    locale = _Locale("en")

    @app.get("/paged")
    @ward.cached(ttl=60, scope="shared")
    async def paged(pager: _Pager = Depends(), p: Principal = Security(ward.protected())):  # noqa: B008
        return {"size": pager.size}

    @app.get("/localized")
    @ward.cached(ttl=60, scope="shared")
    async def localized(
        lang: str = Depends(locale),  # noqa: B008
        p: Principal = Security(ward.protected()),  # noqa: B008
    ):
        return {"lang": lang}

    with TestClient(app) as c:
        c.get("/paged", headers=h(alice, **{"X-Page-Size": "99"}))
        assert c.get("/paged", headers=h(bob)).json() == {"size": 10}
        stored = c.get("/paged", headers=h(bob))
        assert "hit" in cache_status(stored), (
            "a class dependency's Header() is keyed, not unstorable"
        )
        c.get("/localized", headers=h(alice, **{"Accept-Language": "fr"}))
        assert c.get("/localized", headers=h(bob)).json() == {"lang": "en"}


# -- what runs around the endpoint ---------------------------------------------------------


def test_background_tasks_run_on_a_miss_and_never_change_the_stored_response():
    app, ward, _, alice, bob = guarded()
    ran: list[str] = []

    @app.get("/audit")
    @ward.cached(ttl=60, scope="shared")
    async def audit(
        request: Request,
        tasks: BackgroundTasks,
        p: Principal = Security(ward.protected()),  # noqa: B008
    ):
        # The task runs after the response is sent, hence after the store decision:
        # what it reads cannot have shaped the stored body.
        tasks.add_task(lambda: ran.append(request.headers.get("x-note") or "-"))
        return {"ok": True}

    with TestClient(app) as c:
        first = c.get("/audit", headers=h(alice, **{"X-Note": "alice"}))
        assert "stored" in cache_status(first)
        assert ran == ["alice"]
        second = c.get("/audit", headers=h(bob))
        assert "hit" in cache_status(second)
        assert second.json() == {"ok": True}
    assert ran == ["alice"], "a hit runs no endpoint, so no background task either"


def test_lifespan_state_read_through_request_state_is_not_stored():
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield {"greeting": "hello"}

    app, ward, _, alice, bob = guarded(FastAPI(lifespan=lifespan))

    @app.get("/hello")
    @ward.cached(ttl=60, scope="shared")
    async def hello(request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        return {"greeting": request.state.greeting}

    with TestClient(app) as c:
        first = c.get("/hello", headers=h(alice))
        assert first.json() == {"greeting": "hello"}
        assert "unkeyed-input" in cache_status(first)


def test_path_converters_and_trailing_slash_redirects_never_share_entries():
    app, ward, _, alice, bob = guarded()

    @app.get("/files/{name:path}")
    @ward.cached(ttl=60, scope="shared")
    async def files(name: str, p: Principal = Security(ward.protected())):  # noqa: B008
        return {"name": name}

    @app.get("/n/{n:int}")
    @ward.cached(ttl=60, scope="shared")
    async def number(n: int, request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        return {"n": n, "path": request.url.path}

    with TestClient(app, follow_redirects=False) as c:
        assert c.get("/files/a/b", headers=h(alice)).json() == {"name": "a/b"}
        assert c.get("/files/a//b", headers=h(bob)).json() == {"name": "a//b"}
        assert c.get("/files/a%2Fb", headers=h(bob)).json() == {"name": "a/b"}
        assert c.get("/n/007", headers=h(alice)).json() == {"n": 7, "path": "/n/007"}
        assert c.get("/n/7", headers=h(bob)).json() == {"n": 7, "path": "/n/7"}
        # The router's trailing-slash redirect is built from the caller's own Host, and
        # never kept: Bob's Location names his host, not the one Alice sent.
        poisoned = c.get("/n/7/", headers=h(alice, Host="evil.example"))
        assert poisoned.status_code == 307
        assert poisoned.headers["location"].startswith("http://evil.example/")
        moved = c.get("/n/7/", headers=h(bob, Host="api"))
        assert moved.headers["location"] == "http://api/n/7"
        assert "hit" not in cache_status(moved)


# -- a key revoked while its miss runs; a backend failing mid-request ----------------------


@pytest.mark.anyio
async def test_a_key_revoked_while_its_miss_runs_is_refused_on_the_next_request():
    app, ward, store, alice, _ = guarded()
    issued = store.create("eve")
    started, release = asyncio.Event(), asyncio.Event()

    @app.get("/slow")
    @ward.cached(ttl=60)
    async def slow(p: Principal = Security(ward.protected())):  # noqa: B008
        started.set()
        await release.wait()
        return {"for": p.id}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        first = asyncio.create_task(c.get("/slow", headers=h(issued.plaintext)))
        await started.wait()
        store.revoke(issued.id)
        release.set()
        assert (await first).json() == {"for": "eve"}
        again = await c.get("/slow", headers=h(issued.plaintext))
        assert again.status_code == 401
        assert "eve" not in again.text


@pytest.mark.anyio
async def test_redis_killed_while_a_miss_runs_serves_uncached_and_still_authenticates():
    from tests.support.redis import RedisServer

    server = RedisServer().start()
    try:
        app, ward, _, alice, _ = guarded(backend=server.url)
        started, release = asyncio.Event(), asyncio.Event()

        @app.get("/me")
        @ward.cached(ttl=60)
        async def me(p: Principal = Security(ward.protected())):  # noqa: B008
            started.set()
            await release.wait()
            return {"me": p.id}

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            first = asyncio.create_task(c.get("/me", headers=h(alice)))
            await started.wait()
            server.kill()  # between the lookup and the store
            release.set()
            served = await first
            assert served.json() == {"me": "alice"}
            assert "stored" not in cache_status(served) and "hit" not in cache_status(served)
            assert served.headers["cache-control"].startswith("private")
            again = await c.get("/me", headers=h(alice))
            assert again.json() == {"me": "alice"}
            assert "backend-unavailable" in cache_status(again)
            assert (await c.get("/me")).status_code == 401
        assert ward.stats()["backend_errors"] >= 1
        await ward.state.backend.close()
    finally:
        server.cleanup()


# -- a parameter kind FastAPI may add --------------------------------------------------------


def _with_new_parameter_kind(dependant: Any) -> Any:
    """``dependant`` as a FastAPI release with one more parameter kind would build it."""
    import dataclasses

    if not dataclasses.is_dataclass(dependant):  # FastAPI before 0.115: a plain class
        dependant.trailer_param_name = "trailers"
        return dependant

    @dataclasses.dataclass
    class FutureDependant(type(dependant)):  # type: ignore[misc]
        trailer_param_name: str | None = None

    values = {f.name: getattr(dependant, f.name) for f in dataclasses.fields(dependant)}
    return FutureDependant(**values, trailer_param_name="trailers")


def test_a_parameter_kind_the_guard_does_not_map_makes_the_route_unstorable():
    app, ward, _, alice, _ = guarded()

    @app.get("/future")
    @ward.cached(ttl=60)
    async def future(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"ok": True}

    route = next(r for r in app.routes if getattr(r, "path", "") == "/future")
    route.dependant = _with_new_parameter_kind(route.dependant)  # type: ignore[attr-defined]
    with TestClient(app) as c:
        served = c.get("/future", headers=h(alice))
    assert served.json() == {"ok": True}
    assert "unkeyed-input" in cache_status(served), "an unmapped parameter kind was trusted"
