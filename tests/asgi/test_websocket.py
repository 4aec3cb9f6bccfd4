"""Websocket routes: ``ward.protected`` and ``@ward.cached`` do not apply to them, and
say so when the app starts (not a ``TypeError`` on every handshake, never a route that
looks protected and is not)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Security, WebSocket
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from cacheward.errors import ConfigurationError
from cacheward.fastapi import Cacheward, Principal
from cacheward.keys import MemoryKeyStore
from cacheward.starlette import Cacheward as StarletteCacheward

from .asgiapp import SECRET, h

WHY = "do not apply to websockets"


def _fastapi():
    app = FastAPI()
    store = MemoryKeyStore()
    return app, Cacheward(app, keys=store, secret=SECRET), store


def test_protected_on_a_fastapi_websocket_is_refused_at_startup():
    app, ward, _ = _fastapi()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, p: Principal = Security(ward.protected())):  # noqa: B008
        await websocket.accept()

    with pytest.raises(ConfigurationError, match=WHY) as raised:
        with TestClient(app):
            pass
    assert "'/ws'" in str(raised.value)
    assert "ward.keys.verify" in str(raised.value)


def test_cached_on_a_fastapi_websocket_is_refused_at_startup():
    app, ward, _ = _fastapi()

    @app.websocket("/ws")
    @ward.cached(ttl=60)
    async def ws(websocket: WebSocket, p: Principal = Security(ward.protected())):  # noqa: B008
        await websocket.accept()

    with pytest.raises(ConfigurationError, match=WHY):
        with TestClient(app):
            pass


def test_protected_on_a_starlette_websocket_is_refused_at_startup():
    ward = StarletteCacheward(keys=MemoryKeyStore(), secret=SECRET)

    @ward.protected()
    async def ws(websocket):
        await websocket.accept()

    app = Starlette(routes=[WebSocketRoute("/ws", ws)])
    ward.init_app(app)
    with pytest.raises(ConfigurationError, match=WHY):
        with TestClient(app):
            pass


def test_a_websocket_the_guard_does_not_touch_still_works_beside_guarded_routes():
    app, ward, store = _fastapi()
    alice = store.create("alice").plaintext

    @app.get("/me")
    @ward.cached(ttl=60)
    async def me(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"id": p.id}

    @app.websocket("/echo")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    with TestClient(app) as c:
        assert c.get("/me", headers=h(alice)).json() == {"id": "alice"}
        with c.websocket_connect("/echo") as ws:
            assert ws.receive_text() == "hello"
