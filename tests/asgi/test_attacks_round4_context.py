"""Round four of attacks on the ASGI guard: context variables, cancellation, websockets.

The context check compares the context at authentication with the one the server gives
every request (the guard's lifespan context): a variable an ``app = Wrapper(app)`` sets
outside the guard is as unseen a read as one a middleware sets inside it. A variable
named in ``unread_context`` whose value is in the route's response *was* read. A miss
cancelled mid-way releases its single-flight lock and stores nothing. A websocket route
added after startup is never served by a guard it skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Security, WebSocket
from fastapi.testclient import TestClient

from cacheward.fastapi import Cacheward, Principal
from cacheward.keys import MemoryKeyStore

from .asgiapp import SECRET, h


def _status(response: httpx.Response) -> str:
    return response.headers.get("cache-status", "")


request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "round4_request_id", default=None
)
#: Set at import (uvicorn's main context) and in the app's lifespan: the same for every
#: request, so it never makes a response unstorable.
process_wide: contextvars.ContextVar[str] = contextvars.ContextVar("round4_process_wide")
in_lifespan: contextvars.ContextVar[str] = contextvars.ContextVar("round4_in_lifespan")


class _CorrelationId:
    """A pure ASGI wrapper, ``app = _CorrelationId(app)``: outside the guard. It sets
    its variable only for a request that names its id."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        given = dict(scope.get("headers") or ()).get(b"x-request-id")
        if scope["type"] != "http" or given is None:  # only when the caller sends one
            await self.app(scope, receive, send)
            return
        token = request_id.set(given.decode())
        try:
            await self.app(scope, receive, send)
        finally:
            request_id.reset(token)


def wrapped_app() -> Any:
    """The app the uvicorn test serves (``--factory``); keys from ``CW_R4_KEYS``."""
    from cacheward.keys import SQLiteKeyStore

    process_wide.set("set-at-start")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        in_lifespan.set("set-in-lifespan")
        yield

    app = FastAPI(lifespan=lifespan)
    keys = SQLiteKeyStore(os.environ["CW_R4_KEYS"]) if "CW_R4_KEYS" in os.environ else None
    ward = Cacheward(app, keys=keys or MemoryKeyStore(), secret=SECRET)
    app.state.ward = ward

    @app.get("/echo")
    @ward.cached(ttl=60, scope="shared")
    async def echo(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"request_id": request_id.get()}

    @app.get("/plain")
    @ward.cached(ttl=60, scope="shared")
    async def plain(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"ok": True}

    return _CorrelationId(app)


def _check_wrapper(c: Any, alice: str, bob: str) -> None:
    c.get("/echo", headers=h(alice, **{"X-Request-ID": "alice-1"}))
    victim = c.get("/echo", headers=h(bob, **{"X-Request-ID": "bob-1"}))
    assert victim.json() == {"request_id": "bob-1"}, "Bob was replayed Alice's request id"
    assert "stored" in _status(c.get("/plain", headers=h(alice)))
    assert "hit" in _status(c.get("/plain", headers=h(bob)))


def test_a_wrappers_context_variable_is_not_replayed_and_a_process_wide_one_still_caches():
    wrapped = wrapped_app()
    store: MemoryKeyStore = wrapped.app.state.ward.keys
    alice, bob = store.create("alice").plaintext, store.create("bob").plaintext
    with TestClient(wrapped) as c:
        _check_wrapper(c, alice, bob)


def test_a_wrappers_context_variable_is_not_replayed_through_real_uvicorn(tmp_path):
    """Fails on the old code (the variable was in the context the request entered the
    guard with). uvicorn runs each request in a copy of its main context, where
    ``process_wide`` was set at startup: that one must not stop caching."""
    from tests.support.proxies import HOST, ROOT, _says, _spawn, _start_on_free_port

    from cacheward.keys import SQLiteKeyStore

    keys = SQLiteKeyStore(str(tmp_path / "keys.db"))
    alice, bob = keys.create("alice").plaintext, keys.create("bob").plaintext
    keys.close()
    env = {**os.environ, "CW_R4_KEYS": str(tmp_path / "keys.db")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])

    def build(port: int) -> Any:
        log = tmp_path / "uvicorn.log"
        argv = [sys.executable, "-m", "uvicorn", "--factory"]
        argv += ["tests.asgi.test_attacks_round4_context:wrapped_app", "--host", HOST]
        argv += ["--port", str(port), "--no-access-log", "--app-dir", str(ROOT)]
        ready = _says(log, f"Uvicorn running on http://{HOST}:{port}")
        return _spawn("uvicorn", argv, tmp_path, port, env, log=log, ready=ready)

    server = _start_on_free_port(build)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as c:
            _check_wrapper(c, alice, bob)
    finally:
        server.stop()


@pytest.mark.xfail(
    strict=True,
    reason=(
        "BUG: with no lifespan (httpx.ASGITransport, uvicorn --lifespan off) the guard has"
        " no context of the server's to compare with, and a wrapper's variable is in the"
        " one the request entered with. Proposed fix: Cacheward(require_lifespan=True),"
        " storing nothing until a lifespan ran (a warning at the first miss without one)"
    ),
)
@pytest.mark.anyio
async def test_a_wrappers_context_variable_without_a_lifespan_is_not_replayed():
    wrapped = wrapped_app()
    store: MemoryKeyStore = wrapped.app.state.ward.keys
    alice, bob = store.create("alice").plaintext, store.create("bob").plaintext
    transport = httpx.ASGITransport(app=wrapped)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        await c.get("/echo", headers=h(alice, **{"X-Request-ID": "alice-1"}))
        victim = await c.get("/echo", headers=h(bob, **{"X-Request-ID": "bob-1"}))
        assert victim.json() == {"request_id": "bob-1"}


def test_an_unread_context_variable_the_endpoint_echoes_is_not_replayed(caplog):
    """Fails on the old code: ``unread_context`` was taken at its word. A listed
    variable whose value is in the route's own response was read: not stored."""
    from asgi_correlation_id import CorrelationIdMiddleware, correlation_id

    app, store = FastAPI(), MemoryKeyStore()
    ward = Cacheward(app, keys=store, secret=SECRET, unread_context=["correlation_id"])
    app.add_middleware(CorrelationIdMiddleware)
    alice, bob = store.create("alice").plaintext, store.create("bob").plaintext

    @app.get("/receipt")
    @ward.cached(ttl=60, scope="shared")
    async def receipt(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"trace": correlation_id.get()}

    @app.get("/catalog")
    @ward.cached(ttl=60, scope="shared")
    async def catalog(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"items": ["tea"]}

    alices, bobs = uuid.uuid4().hex, uuid.uuid4().hex
    with caplog.at_level(logging.WARNING, logger="cacheward"), TestClient(app) as c:
        first = c.get("/receipt", headers=h(alice, **{"X-Request-ID": alices}))
        victim = c.get("/receipt", headers=h(bob, **{"X-Request-ID": bobs}))
        assert "stored" not in _status(first)
        assert victim.json() == {"trace": bobs}, "Bob was replayed Alice's correlation id"
        assert "stored" in _status(c.get("/catalog", headers=h(alice, **{"X-Request-ID": alices})))
        assert "hit" in _status(c.get("/catalog", headers=h(bob, **{"X-Request-ID": bobs})))
    assert "'correlation_id' is in Cacheward(unread_context" in caplog.text
    assert alices not in caplog.text and alice not in caplog.text


# -- cancellation ---------------------------------------------------------------------------


async def _get(app: Any, path: str, key: str) -> tuple[int, dict[bytes, bytes]]:
    """One GET through the ASGI app; the start message's status and headers."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"t"), (b"x-api-key", key.encode())],
        "client": ("127.0.0.1", 1), "server": ("t", 80),
    }
    await app(scope, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"])


@pytest.mark.anyio
async def test_a_miss_cancelled_mid_way_releases_its_lock_and_stores_nothing():
    app, store = FastAPI(), MemoryKeyStore()
    ward = Cacheward(app, keys=store, secret=SECRET, flight_timeout=600)
    alice = store.create("alice").plaintext
    entered, release = asyncio.Event(), asyncio.Event()
    runs: list[int] = []

    @app.get("/slow")
    @ward.cached(ttl=60)
    async def slow(p: Principal = Security(ward.protected())):  # noqa: B008
        runs.append(len(runs))
        entered.set()
        await release.wait()
        return {"run": len(runs)}

    first = asyncio.ensure_future(_get(app, "/slow", alice))
    await entered.wait()
    first.cancel()  # the client went away, the server cancels the request's task
    with contextlib.suppress(asyncio.CancelledError):
        await first
    assert ward.stats()["stored"] == 0
    release.set()
    # A lock left held would make this miss wait flight_timeout (600 s): the bound below
    # only keeps a broken build from hanging the suite.
    status, headers = await asyncio.wait_for(_get(app, "/slow", alice), 60)
    assert status == 200 and b"stored" in headers[b"cache-status"]
    assert len(runs) == 2


# -- websockets -----------------------------------------------------------------------------


def test_a_guarded_websocket_route_added_after_startup_is_never_served():
    """The startup check cannot see a route added later; the guard still fails closed:
    no handshake is accepted, with or without a valid key."""
    app, store = FastAPI(), MemoryKeyStore()
    ward = Cacheward(app, keys=store, secret=SECRET)
    alice = store.create("alice").plaintext
    received: list[str] = []
    with TestClient(app, raise_server_exceptions=False) as c:
        c.get("/openapi.json")  # started

        async def feed(websocket: WebSocket, p: Principal = Security(ward.protected())):  # noqa: B008
            await websocket.accept()
            await websocket.send_text("secret feed")

        app.add_api_websocket_route("/feed", feed)
        for headers in (h(alice), {}):
            with contextlib.suppress(Exception):
                with c.websocket_connect("/feed", headers=headers) as ws:
                    received.append(ws.receive_text())
    assert received == []
