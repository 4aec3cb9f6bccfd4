"""Round three of attacks on the ASGI guard: the URL as spelled against the canonical key
(query order and encoding, the default port), in process and through a real uvicorn
with ``--proxy-headers`` (``X-Forwarded-Proto``, ``X-Forwarded-For``, a raw request line).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Security
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from cacheward.fastapi import Cacheward, Principal

from .asgiapp import SECRET, cache_status, guarded, h

# -- the raw URL against the canonical key ------------------------------------------------


def _self_link(app: FastAPI, ward: Cacheward) -> None:
    @app.get("/search", response_class=HTMLResponse)
    @ward.cached(ttl=60, scope="shared")
    async def search(request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        # A "share this search" link, pasted as is: Starlette's URL is what was sent.
        return f'<a href="{request.url}">this search</a>'


async def _raw_get(app: Any, path: str, query: bytes, key: str) -> tuple[int, bytes]:
    """One GET straight through the ASGI interface, with the query bytes exactly as a
    server hands them over (httpx would percent-encode ``<`` first)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"api"), (b"x-api-key", key.encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


@pytest.mark.anyio
async def test_the_raw_query_spelling_of_one_caller_is_never_served_to_another():
    """The key holds the query parsed and sorted; ``request.url`` is the query as sent.
    Alice's spelling (a raw ``<``, as uvicorn passes it on) must not reach Bob, who sent
    the same parameters percent-encoded: a reflected-XSS entry made from a safe URL."""
    app, ward, _, alice, bob = guarded()
    _self_link(app, ward)
    await _raw_get(app, "/search", b"page=1&q=<script>x</script>", alice)
    await _raw_get(app, "/search", b"q=<script>x</script>&page=1", alice)
    status, victim = await _raw_get(app, "/search", b"page=1&q=%3Cscript%3Ex%3C%2Fscript%3E", bob)
    assert status == 200
    assert b"<script>" not in victim, "Bob was served Alice's raw query spelling"
    assert b"page=1&q=%3Cscript%3Ex%3C%2Fscript%3E" in victim


def test_the_query_order_of_one_caller_is_never_served_to_another():
    app, ward, _, alice, bob = guarded()
    _self_link(app, ward)
    with TestClient(app) as c:
        c.get("/search?q=tea&page=1", headers=h(alice))
        victim = c.get("/search?page=1&q=tea", headers=h(bob))
        assert "search?page=1&amp;q=tea" in victim.text or "search?page=1&q=tea" in victim.text


def test_the_raw_query_is_still_cached_when_it_is_the_canonical_spelling():
    app, ward, _, alice, bob = guarded()
    _self_link(app, ward)
    with TestClient(app) as c:
        first = c.get("/search?page=1&q=tea", headers=h(alice))
        assert "stored" in cache_status(first)
        again = c.get("/search?page=1&q=tea", headers=h(bob))
        assert "hit" in cache_status(again)
        assert again.text == first.text
        # The spelling docs/fastapi.md promises is stored.
        assert "stored" in cache_status(c.get("/search?page=1&q=green+tea", headers=h(alice)))


def test_the_default_port_of_one_caller_is_never_served_to_another():
    """``Host: api:80`` and ``Host: api`` share a key (the default port is dropped), but
    ``request.url`` keeps the ``:80`` that was sent."""
    app, ward, _, alice, bob = guarded()
    _self_link(app, ward)
    with TestClient(app, base_url="http://api") as c:
        c.get("/search?q=tea", headers=h(alice, Host="api:80"))
        victim = c.get("/search?q=tea", headers=h(bob, Host="api"))
        assert "api:80" not in victim.text, "Bob was served the port Alice's Host carried"


def test_url_for_with_the_default_port_of_one_caller_is_never_served_to_another():
    app, ward, _, alice, bob = guarded()

    @app.get("/items/{item_id}", name="item")
    async def item(item_id: str) -> dict[str, str]:
        return {"item": item_id}

    @app.get("/index")
    @ward.cached(ttl=60, scope="shared")
    async def index(request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        return {"first": str(request.url_for("item", item_id="1"))}

    with TestClient(app, base_url="http://api") as c:
        c.get("/index", headers=h(alice, Host="api:80"))
        victim = c.get("/index", headers=h(bob, Host="api"))
        assert victim.json() == {"first": "http://api/items/1"}
        assert "stored" in cache_status(c.get("/index", headers=h(alice, Host="other")))


# -- the same through a real uvicorn with --proxy-headers ----------------------------------


def proxy_headers_app() -> FastAPI:
    """The app the uvicorn test serves (``--factory``); keys from ``CW_R3_KEYS``."""
    import os

    from cacheward.keys import SQLiteKeyStore

    app = FastAPI()
    ward = Cacheward(app, keys=SQLiteKeyStore(os.environ["CW_R3_KEYS"]), secret=SECRET)

    @app.get("/link")
    @ward.cached(ttl=60, scope="shared")
    async def link(request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        return {"url": str(request.url)}

    @app.get("/client")
    @ward.cached(ttl=60, scope="shared", vary=[":remote-addr"])
    async def client(request: Request, p: Principal = Security(ward.protected())):  # noqa: B008
        return {"client": request.client.host if request.client else None}

    return app


def _raw_get_over_tcp(port: int, target: str, key: str) -> bytes:
    """One request line exactly as written (httpx would percent-encode ``<``)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: api\r\nX-API-Key: {key}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_uvicorn_proxy_headers_and_raw_request_lines_never_cross_callers(tmp_path):
    import os
    import sys

    from tests.support.proxies import HOST, ROOT, _says, _spawn, _start_on_free_port

    from cacheward.keys import SQLiteKeyStore

    keys = SQLiteKeyStore(str(tmp_path / "keys.db"))
    alice, bob = keys.create("alice").plaintext, keys.create("bob").plaintext
    keys.close()
    env = {**os.environ, "CW_R3_KEYS": str(tmp_path / "keys.db")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])

    def build(port: int) -> Any:
        log = tmp_path / "uvicorn.log"
        argv = [sys.executable, "-m", "uvicorn", "--factory"]
        argv += ["tests.asgi.test_attacks_round3_urls:proxy_headers_app", "--host", HOST]
        argv += ["--port", str(port), "--proxy-headers", "--forwarded-allow-ips", "*"]
        argv += ["--no-access-log", "--app-dir", str(ROOT)]
        ready = _says(log, f"Uvicorn running on http://{HOST}:{port}")
        return _spawn("uvicorn", argv, tmp_path, port, env, log=log, ready=ready)

    server = _start_on_free_port(build)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as c:
            https = c.get("/link", headers=h(alice, **{"X-Forwarded-Proto": "https"}))
            assert https.json()["url"].startswith("https://")
            assert c.get("/link", headers=h(bob)).json()["url"].startswith("http://")
            spoofed = c.get("/client", headers=h(alice, **{"X-Forwarded-For": "203.0.113.9"}))
            assert spoofed.json() == {"client": "203.0.113.9"}
            assert c.get("/client", headers=h(bob)).json() == {"client": "127.0.0.1"}
            c.get("/link?q=tea", headers=h(alice, Host="api:80"))
            assert "api:80" not in c.get("/link?q=tea", headers=h(bob, Host="api")).text
        _raw_get_over_tcp(server.port, "/link?page=1&q=<b>x</b>", alice)
        victim = _raw_get_over_tcp(server.port, "/link?page=1&q=%3Cb%3Ex%3C%2Fb%3E", bob)
        assert b" 200 " in victim.split(b"\r\n", 1)[0]
        assert b"<b>" not in victim, "Bob was served the raw query Alice's request line carried"
    finally:
        server.stop()
