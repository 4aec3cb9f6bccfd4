"""Round four of attacks on the ASGI guard: responses that do not end as they began.

A stream that fails after its first chunk, a middleware that answers in its place (above
the capture, or below it with the capture's own ``send``), and a middleware that runs
the route twice for one request: none of them may leave a response stored that the
route did not produce whole, once.
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
from fastapi import FastAPI, Request, Security
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route

from cacheward.fastapi import Cacheward, Principal
from cacheward.keys import MemoryKeyStore
from cacheward.starlette import Cacheward as StarletteCacheward

from .asgiapp import SECRET, h


def _status(response: httpx.Response) -> str:
    return response.headers.get("cache-status", "")


def _starlette() -> tuple[StarletteCacheward, str, str]:
    store = MemoryKeyStore()
    ward = StarletteCacheward(keys=store, secret=SECRET)
    return ward, store.create("alice").plaintext, store.create("bob").plaintext


# -- a stream that fails, a middleware that retries ----------------------------------------


class _Fallback:
    """Pure ASGI middleware that answers a fixed 200 when the app below it raises
    before its response started (a "graceful degradation" middleware)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:  # noqa: BLE001 - an ExceptionGroup on older Starlette
            if started:
                raise
            await JSONResponse({"fallback": True})(scope, receive, send)


def test_a_stream_that_fails_after_its_first_chunk_is_never_stored_even_made_a_200():
    """The capture holds a one-chunk stream until it ends; one that raises instead never
    ends, so nothing is stored, whatever a middleware answers in its place."""
    from fastapi.responses import StreamingResponse

    app, store = FastAPI(), MemoryKeyStore()
    ward = Cacheward(app, keys=store, secret=SECRET)
    alice, bob = store.create("alice").plaintext, store.create("bob").plaintext
    app.add_middleware(_Fallback)

    @app.get("/export")
    @ward.cached(ttl=60, scope="shared")
    async def export(p: Principal = Security(ward.protected())):  # noqa: B008
        async def rows() -> Any:
            yield b'{"partial": '
            raise RuntimeError("database went away")

        return StreamingResponse(rows(), media_type="application/json")

    with TestClient(app) as c:
        first = c.get("/export", headers=h(alice))
        second = c.get("/export", headers=h(bob))
    assert first.json() == second.json() == {"fallback": True}
    assert "stored" not in _status(first) and "hit" not in _status(second)
    assert ward.stats()["stored"] == 0


class _RetryOnce:
    """Pure ASGI middleware that runs the app a second time when the first run answers
    503 (a retry middleware), sending only the second response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        first: list[Any] = []

        async def hold(message: Any) -> None:
            first.append(message)

        await self.app(scope, receive, hold)
        if first and first[0]["status"] == 503:
            await self.app(scope, receive, send)
            return
        for message in first:
            await send(message)


def test_a_middleware_that_runs_the_route_twice_never_stores_the_second_run():
    """The second run is a cached endpoint entered again in one request: served, never
    stored, and it never waits on the lock its own first run holds (fails on the old
    code)."""
    app, store = FastAPI(), MemoryKeyStore()
    ward = Cacheward(app, keys=store, secret=SECRET)
    alice, bob = store.create("alice").plaintext, store.create("bob").plaintext
    app.add_middleware(_RetryOnce)
    runs: list[str] = []

    @app.get("/flaky")
    @ward.cached(ttl=60, scope="shared")
    async def flaky(request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        runs.append(p.id)
        if len(runs) % 2:
            return JSONResponse({"busy": True}, status_code=503)
        return {"caller": p.id}

    with TestClient(app) as c:
        first = c.get("/flaky", headers=h(alice))
        second = c.get("/flaky", headers=h(bob))
    assert first.json() == {"caller": "alice"} and "stored" not in _status(first)
    assert second.json() == {"caller": "bob"}, "Bob was served Alice's retried response"
    assert runs == ["alice", "alice", "bob", "bob"]
    # One lookup per request: on the old code the second run looked up again after
    # waiting (flight_timeout) on the single-flight lock its own first run still held.
    assert ward.stats()["backend"]["misses"] == 2


class _AnswerOnError:
    """A route's own middleware that answers a failed export itself, with the ``send``
    it was given (not wrapped: the capture's own), and what the caller sent."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except RuntimeError:
            tag = dict(scope["headers"]).get(b"x-tag", b"").decode()
            await JSONResponse({"error": "export failed", "for": tag})(scope, receive, send)


def test_a_second_response_start_below_the_capture_is_never_stored():
    """Fails on the old code: the capture held the stream's start and first chunk, took
    the middleware's second start and body as the rest of it, and stored the lot, the
    first caller's ``X-Tag`` included, for every caller."""
    from starlette.responses import StreamingResponse

    ward, alice, bob = _starlette()

    @ward.protected()
    @ward.cached(ttl=60, scope="shared")
    async def export(request: Any) -> StreamingResponse:
        async def rows() -> Any:
            yield b'{"partial": '
            raise RuntimeError("database went away")

        return StreamingResponse(rows(), media_type="application/json")

    app = Starlette(routes=[Route("/export", export, middleware=[Middleware(_AnswerOnError)])])
    ward.init_app(app)
    served: list[str] = []
    with TestClient(app, raise_server_exceptions=False) as c:
        for key, tag in ((alice, "alice-secret"), (bob, "")):
            with contextlib.suppress(Exception):  # two starts: the client may refuse
                served.append(c.get("/export", headers=h(key, **{"X-Tag": tag})).text)
    assert ward.stats()["stored"] == 0
    assert not any("alice-secret" in text for text in served[1:])


def test_a_route_middleware_answering_with_the_captures_own_send_is_never_stored(tmp_path):
    """Fails on the old code (and on a check of the ``send`` alone): the middleware does
    not wrap ``send``, so the route's ``Request`` holds the capture's; the missing file
    raises before any start, and the middleware's answer, made from the first caller's
    ``X-Tag``, was taken for the route's own response and stored for everyone."""
    from starlette.responses import FileResponse

    ward, alice, bob = _starlette()

    @ward.protected()
    @ward.cached(ttl=60, scope="shared")
    async def report(request: Any) -> FileResponse:
        return FileResponse(tmp_path / "not-built-yet.pdf")

    app = Starlette(routes=[Route("/report", report, middleware=[Middleware(_AnswerOnError)])])
    ward.init_app(app)
    with TestClient(app) as c:
        first = c.get("/report", headers=h(alice, **{"X-Tag": "alice-secret"}))
        victim = c.get("/report", headers=h(bob))
    assert first.json()["for"] == "alice-secret"
    assert victim.json() == {"error": "export failed", "for": ""}, "Bob was served Alice's"
    assert ward.stats()["stored"] == 0
