"""Attacks on the ASGI guard that it withstands: ETags of another principal, HEAD and
OPTIONS, websockets, mounted sub-apps and ``root_path``, ``response: Response`` cookies,
``HTTPException`` headers, dependencies with ``yield``, ``FileResponse`` ranges,
concurrent principals, forged Redis entries, and secrets in logs, messages and keys.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
import redis
from fastapi import Depends, FastAPI, HTTPException, Request, Response, Security
from fastapi.responses import FileResponse, PlainTextResponse
from fastapi.testclient import TestClient
from starlette.middleware.cors import CORSMiddleware
from starlette.websockets import WebSocket

from cacheward.errors import UnkeyedInputError
from cacheward.fastapi import Cacheward, Principal
from cacheward.keys import MemoryKeyStore

from .asgiapp import SECRET, h


def _app(**settings):
    app = FastAPI(debug=bool(settings.pop("debug", False)))
    store = MemoryKeyStore()
    ward = Cacheward(app, keys=store, secret=SECRET, **settings)
    alice = store.create("alice").plaintext
    bob = store.create("bob").plaintext
    return app, ward, store, alice, bob


def _me(app, ward, **cached):
    @app.get("/me")
    @ward.cached(ttl=60, **cached)
    async def me(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"id": p.id}


def test_another_principals_etag_is_never_a_304():
    app, ward, _, alice, bob = _app()
    _me(app, ward)
    with TestClient(app) as c:
        c.get("/me", headers=h(alice))
        etag = c.get("/me", headers=h(alice)).headers["etag"]
        assert c.get("/me", headers=h(alice, **{"If-None-Match": etag})).status_code == 304
        theirs = c.get("/me", headers=h(bob, **{"If-None-Match": etag}))
        assert theirs.status_code == 200 and theirs.json() == {"id": "bob"}
        star = c.get("/me", headers=h(None, **{"If-None-Match": "*"}))
        assert star.status_code == 401 and star.headers["cache-control"] == "no-store"


def test_head_and_options_never_reach_or_fill_an_entry():
    app, ward, _, alice, bob = _app()
    app.add_middleware(
        CORSMiddleware, allow_origins=["https://a.example"], allow_headers=["X-API-Key"]
    )
    _me(app, ward)
    with TestClient(app) as c:
        c.get("/me", headers=h(alice))
        assert c.head("/me", headers=h(None)).status_code in (401, 405)
        pre = c.options(
            "/me",
            headers={
                "Origin": "https://a.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "X-API-Key",
            },
        )
        assert "alice" not in pre.text and "cache-status" not in pre.headers
        # An Origin makes CORS add Vary: Origin, which the key does not cover.
        cors = c.get("/me", headers=h(bob, Origin="https://a.example"))
        assert cors.json() == {"id": "bob"}
        assert "hit" not in cors.headers["cache-status"]


def test_a_websocket_route_with_protected_never_starts():
    """``protected`` does not apply to a websocket: the app refuses to start (before,
    every handshake failed with a TypeError), so no websocket looks protected."""
    from cacheward.errors import ConfigurationError

    app, ward, _, _, _ = _app()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, p: Principal = Depends(ward.protected())):  # noqa: B008
        await websocket.accept()
        await websocket.send_text(p.id)

    with pytest.raises(ConfigurationError, match="websocket"):
        with TestClient(app, raise_server_exceptions=False):
            pass


def test_mounted_sub_apps_and_root_path_are_keyed_apart():
    app, ward, _, alice, _ = _app()
    sub = FastAPI()

    @sub.get("/where")
    @ward.cached(ttl=60, scope="shared")
    async def where(request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        return {"root": request.url.path}

    app.mount("/one", sub)
    app.mount("/two", sub)
    with TestClient(app) as c:
        assert c.get("/one/where", headers=h(alice)).json() == {"root": "/one/where"}
        assert c.get("/two/where", headers=h(alice)).json() == {"root": "/two/where"}
        assert c.get("/one/where", headers=h(alice)).json() == {"root": "/one/where"}
    with TestClient(app, root_path="/api") as c:
        assert c.get("/api/one/where", headers=h(alice)).json() == {"root": "/api/one/where"}


def test_a_cookie_set_through_the_response_parameter_is_never_stored():
    app, ward, _, alice, _ = _app()

    @app.get("/login-ish")
    @ward.cached(ttl=60)
    async def login_ish(response: Response, p: Principal = Security(ward.protected())):  # noqa: B008
        response.set_cookie("session", f"for-{p.id}")
        response.headers["Cache-Control"] = "public, max-age=600"
        return {"ok": True}

    with TestClient(app) as c:
        for _ in range(2):
            r = c.get("/login-ish", headers=h(alice))
            assert "hit" not in r.headers["cache-status"]
            assert r.headers["cache-control"] == "no-store"
            assert "session=for-alice" in r.headers["set-cookie"]


def test_http_exception_with_headers_is_never_stored_and_keeps_its_headers():
    app, ward, _, alice, _ = _app()
    runs: list[int] = []

    @app.get("/limited")
    @ward.cached(ttl=60)
    async def limited(p: Principal = Security(ward.protected())):  # noqa: B008
        runs.append(1)
        raise HTTPException(429, "slow down", headers={"Retry-After": "7"})

    with TestClient(app) as c:
        for _ in range(2):
            r = c.get("/limited", headers=h(alice))
            assert r.status_code == 429 and r.headers["retry-after"] == "7"
            assert r.headers["cache-control"] == "no-store"
    assert len(runs) == 2


def test_a_yield_dependency_that_reads_the_request_is_not_stored():
    app, ward, _, alice, bob = _app()

    async def note(request: Request):
        yield request.headers.get("x-note")

    @app.get("/note")
    @ward.cached(ttl=60, scope="shared")
    async def with_note(n: str | None = Depends(note), p: Principal = Security(ward.protected())):  # noqa: B008
        return {"note": n}

    with TestClient(app) as c:
        c.get("/note", headers=h(alice, **{"X-Note": "poison"}))
        assert c.get("/note", headers=h(bob)).json() == {"note": None}


@pytest.mark.skipif(
    not hasattr(FileResponse, "_handle_single_range"),
    reason="this Starlette's FileResponse answers no Range (Range support is newer)",
)
def test_file_response_ranges_are_never_stored(tmp_path):
    app, ward, _, alice, _ = _app()
    path = tmp_path / "report.txt"
    path.write_bytes(b"0123456789" * 10)

    @app.get("/file")
    @ward.cached(ttl=60)
    async def file(p: Principal = Security(ward.protected())):  # noqa: B008
        return FileResponse(path)

    with TestClient(app) as c:
        part = c.get("/file", headers=h(alice, Range="bytes=0-3"))
        assert part.status_code == 206 and part.content == b"0123"
        full = c.get("/file", headers=h(alice))
        assert full.status_code == 200 and len(full.content) == 100
        assert "hit" not in full.headers["cache-status"]


@pytest.mark.anyio
async def test_concurrent_misses_of_different_principals_never_cross():
    app, ward, store, _, _ = _app()
    gate = asyncio.Event()

    @app.get("/slow")
    @ward.cached(ttl=60)
    async def slow(p: Principal = Security(ward.protected())):  # noqa: B008
        await gate.wait()
        return {"id": p.id}

    names = [f"user{i}" for i in range(8)]
    keys = {n: store.create(n).plaintext for n in names}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        tasks = [asyncio.create_task(c.get("/slow", headers=h(keys[n]))) for n in names * 2]
        await asyncio.sleep(0.05)
        gate.set()
        replies = await asyncio.gather(*tasks)
    for name, reply in zip(names * 2, replies, strict=True):
        assert reply.json() == {"id": name}


async def _async_client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.mark.anyio
async def test_a_validly_signed_redis_entry_moved_to_another_key_is_a_miss(redis_url):
    app, ward, _, alice, bob = _app(backend=redis_url)

    @app.get("/a")
    @ward.cached(ttl=60, scope="shared")
    async def a(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"route": "a"}

    @app.get("/b")
    @ward.cached(ttl=60, scope="shared")
    async def b(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"route": "b"}

    _me(app, ward)
    async with await _async_client(app) as c:
        await c.get("/a", headers=h(alice))
        await c.get("/b", headers=h(alice))
        await c.get("/me", headers=h(alice))
        await c.get("/me", headers=h(bob))
        with redis.Redis.from_url(redis_url) as raw:
            names = sorted(raw.keys("*:e:*"))
            blobs = {n: raw.get(n) for n in names}
            # Every entry swapped onto every other key (same secret, valid tags).
            for target in names:
                for source in names:
                    if source != target:
                        raw.set(target, blobs[source])
                        got = {
                            "/a": (await c.get("/a", headers=h(alice))).json(),
                            "/b": (await c.get("/b", headers=h(alice))).json(),
                            "alice": (await c.get("/me", headers=h(alice))).json(),
                            "bob": (await c.get("/me", headers=h(bob))).json(),
                        }
                        assert got == {
                            "/a": {"route": "a"},
                            "/b": {"route": "b"},
                            "alice": {"id": "alice"},
                            "bob": {"id": "bob"},
                        }
                raw.set(target, blobs[target])
    await ward.state.backend.close()


def test_no_api_key_in_logs_messages_headers_or_keys(caplog):
    app, ward, store, alice, bob = _app(debug=True)
    issued = store.create("eve")
    eve = issued.plaintext

    @app.get("/echo-note")
    @ward.cached(ttl=60, scope="shared")
    async def echo(request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        return {"n": request.headers.get("x-note")}

    @app.get("/reads-key")
    @ward.cached(ttl=60, scope="shared")
    async def reads_key(request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        return {"len": len(request.headers["x-api-key"])}

    _me(app, ward)
    store.revoke(issued.id)
    seen: list[str] = []
    caplog.set_level(logging.DEBUG)
    with TestClient(app, raise_server_exceptions=False) as c:
        for key in (alice, bob, eve, alice[:-1], alice + "x"):
            for r in (
                c.get("/me", headers=h(key)),
                c.get("/me", headers={"Authorization": f"Bearer {key}"}),
                c.get(f"/me?token={key}"),
                c.get(f"/me?api_key={key}&page=1"),
                c.get("/me", headers={"X-API-Key": key, "Authorization": "Bearer other"}),
            ):
                seen.append(r.text + repr(r.headers))
        for path in ("/echo-note", "/reads-key"):
            try:
                with TestClient(app) as strict:
                    strict.get(path, headers=h(alice, **{"X-Note": "n"}))
            except UnkeyedInputError as e:
                seen.append(str(e) + repr(e.args))
    # httpx logs the test client's own URLs; what cacheward logs is what counts.
    seen.extend(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    seen.append(repr(ward.state.keys_memo) + repr(ward.state.backend.sync._entries))
    dump = "\n".join(seen)
    for key in (alice, bob, eve):
        secret = key.split("_")[2]
        assert key not in dump and secret[:12] not in dump, "an API key leaked"


def test_a_key_accepted_in_the_query_never_reaches_the_cache_key():
    app, ward, store, alice, _ = _app(allow_query_key=True)
    _me(app, ward)
    with TestClient(app) as c:
        for query in (f"token={alice}", f"api_key={alice}&page=1"):
            assert c.get(f"/me?{query}").json() == {"id": "alice"}
    parts = [made[0].parts for made in ward.state.keys_memo.values()]
    assert alice not in repr(parts), "the API key is a piece of the cache key"
    assert alice not in repr(list(ward.state.keys_memo)), "the API key is held in keys_memo"
    assert alice not in repr(ward.state.backend.sync._entries)


def test_a_query_key_is_a_dropped_parameter_for_the_endpoint_that_reads_it():
    app, ward, store, alice, _ = _app(allow_query_key=True)

    @app.get("/tok")
    @ward.cached(ttl=60)
    async def tok(request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        return {"n": len(request.query_params.get("token") or "")}

    with TestClient(app) as c:
        first = c.get(f"/tok?token={alice}&page=1")
        assert first.json() == {"n": len(alice)}
        assert "unkeyed-input" in first.headers["cache-status"]
        # The same principal's other key on the same path and page is its own request.
        other = store.create("alice").plaintext
        assert "hit" not in c.get(f"/tok?token={other}&page=1").headers["cache-status"]


@pytest.mark.anyio
async def test_a_purge_during_a_miss_is_not_undone_by_that_miss():
    """A response computed before ``purge`` must not be served after it."""
    app, ward, _, alice, _ = _app()
    gate = asyncio.Event()
    started = asyncio.Event()
    version = {"v": 1}

    @app.get("/doc")
    @ward.cached(ttl=60)
    async def doc(p: Principal = Security(ward.protected())):  # noqa: B008
        seen = version["v"]
        started.set()
        await gate.wait()
        return {"v": seen}

    async with await _async_client(app) as c:
        slow = asyncio.create_task(c.get("/doc", headers=h(alice)))
        await started.wait()
        version["v"] = 2
        await ward.purge(principal="alice")
        gate.set()
        assert (await slow).json() == {"v": 1}
        after = await c.get("/doc", headers=h(alice))
        assert after.json() == {"v": 2}, "a pre-purge response was served after the purge"


def test_a_middleware_that_makes_every_response_public_is_overruled_on_hits_too():
    app, ward, _, alice, _ = _app()

    @app.middleware("http")
    async def public(request, call_next):
        response = await call_next(request)
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    _me(app, ward)
    with TestClient(app) as c:
        miss = c.get("/me", headers=h(alice))
        hit = c.get("/me", headers=h(alice))
        assert hit.headers["cache-status"] == "cacheward; hit"
        for r in (miss, hit):
            assert "public" not in r.headers["cache-control"]
            assert "private" in r.headers["cache-control"]


def test_a_security_scheme_sub_dependency_reading_another_header_is_not_stored():
    from fastapi.security import APIKeyHeader

    app, ward, _, alice, bob = _app()
    other = APIKeyHeader(name="X-Partner", auto_error=False)

    @app.get("/partner")
    @ward.cached(ttl=60, scope="shared")
    async def partner(
        who: str | None = Security(other),  # noqa: B008
        p: Principal = Security(ward.protected()),  # noqa: B008
    ):
        return {"partner": who}

    with TestClient(app) as c:
        c.get("/partner", headers=h(alice, **{"X-Partner": "acme"}))
        assert c.get("/partner", headers=h(bob)).json() == {"partner": None}


def test_router_level_protection_alone_is_refused_at_import():
    from fastapi import APIRouter

    from cacheward.errors import UnsafeCacheOrder

    app, ward, _, _, _ = _app()
    router = APIRouter(dependencies=[Security(ward.protected())])
    with pytest.raises(UnsafeCacheOrder):

        @router.get("/r")
        @ward.cached(ttl=60)
        async def r():
            return {"who": "?"}


def test_a_route_that_forgot_auth_still_leaves_private_for_key_holders():
    app, _, _, alice, _ = _app()

    @app.get("/forgot")
    async def forgot():
        return PlainTextResponse("whose?")

    with TestClient(app) as c:
        assert c.get("/forgot", headers=h(alice)).headers["cache-control"] == "private"
        bearer = c.get("/forgot", headers={"Authorization": f"Bearer {alice}"})
        assert bearer.headers["cache-control"] == "private"


def test_a_one_chunk_stream_that_reads_the_request_while_streaming_is_not_stored():
    from fastapi.responses import StreamingResponse

    app, ward, _, alice, bob = _app()

    @app.get("/lazy")
    @ward.cached(ttl=60, scope="shared")
    async def lazy(request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        async def body():
            yield (request.headers.get("x-note") or "none").encode()

        return StreamingResponse(body(), media_type="text/plain")

    with TestClient(app) as c:
        c.get("/lazy", headers=h(alice, **{"X-Note": "poison"}))
        assert c.get("/lazy", headers=h(bob)).text == "none"
