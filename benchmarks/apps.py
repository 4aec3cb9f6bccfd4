"""The applications compared, one per variant, and a loop-friendly WSGI caller.

Every variant serves the same ~1 KB JSON body at ``/items`` and receives the same
request (with an ``X-API-Key`` header, which the unauthenticated variants ignore):

* ``a`` bare Flask route;
* ``b`` bare route + a dict lookup of ``X-API-Key`` (the floor of an authenticated route);
* ``c`` Flask-Caching ``@cache.cached`` hit, ``SimpleCache``;
* ``d`` cacheward ``protected`` + ``cached`` hit, principal scope, memory backend,
  ``MemoryKeyStore``, input tracking on;
* ``e`` Flask-Caching ``RedisCache`` hit;
* ``f`` cacheward hit on the Redis backend.

``make_app`` is also the gunicorn factory: ``benchmarks.apps:make_app('d')`` (the Redis
URL comes from ``BENCH_REDIS_URL``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, request
from werkzeug.test import EnvironBuilder

from cacheward import Cacheward, ConfigurationError, current_principal
from cacheward.keys import MemoryKeyStore
from cacheward.keys import format as key_format
from cacheward.keys.store import KeyRecord, secret_digest

VARIANTS = ("a", "b", "c", "d", "e", "f")
LABELS = {
    "a": "bare Flask route",
    "b": "bare route + dict lookup of X-API-Key",
    "c": "Flask-Caching hit, SimpleCache",
    "d": "cacheward hit, memory backend",
    "e": "Flask-Caching hit, RedisCache",
    "f": "cacheward hit, Redis backend",
}
REDIS_VARIANTS = frozenset({"e", "f"})

#: A fixed, well-formed key, so that every process (gunicorn workers included) and every
#: run under callgrind authenticates with the same bytes. Benchmark use only.
API_KEY = "cw_benchkeyaaab_QXQgWgGCYBTvMHxOMQzzMjr7Uxn4MKiT0Ylz3r"
SECRET = "benchmark-secret-0123456789abcdef"
PATH = "/items"

#: About 1 KB once serialized.
PAYLOAD: dict[str, Any] = {
    "items": [
        {"id": i, "name": f"item-{i:03d}", "price": round(i * 1.25, 2), "tags": ["a", "b"]}
        for i in range(16)
    ]
}
#: The miss benchmark's view renders a 200-row list.
ROWS = [
    {"id": i, "name": f"row-{i:03d}", "price": round(i * 1.25, 2), "ok": i % 2 == 0}
    for i in range(200)
]


class Unavailable(Exception):
    """A variant that cannot run on this branch or machine; the message says why."""


@dataclass
class Bench:
    """One variant ready to be called in a loop."""

    name: str
    app: Flask
    environ: dict[str, Any]
    runs: list[int] = field(default_factory=lambda: [0])

    def call(self, environ: dict[str, Any] | None = None) -> tuple[str, dict[str, str], bytes]:
        """One request; returns status, headers and body (for checks, not for timing)."""
        got: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
            got["status"], got["headers"] = status, dict(headers)

        it = self.app.wsgi_app(dict(environ or self.environ), start_response)
        body = b"".join(it)
        close = getattr(it, "close", None)
        if close is not None:
            close()
        return got["status"], got["headers"], body


def request_loop(bench: Bench) -> Callable[[], None]:
    """A function doing one request with the prebuilt environ, as cheaply as possible."""
    wsgi_app = bench.app.wsgi_app
    environ = bench.environ

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        return None

    def one() -> None:
        it = wsgi_app(environ.copy(), start_response)
        for _ in it:
            pass
        it.close()  # type: ignore[attr-defined]

    return one


def make_environ(path: str = PATH, query: str = "") -> dict[str, Any]:
    builder = EnvironBuilder(
        path=path,
        query_string=query or None,
        headers={"X-API-Key": API_KEY, "Host": "localhost", "Accept": "*/*"},
    )
    try:
        return builder.get_environ()
    finally:
        builder.close()


def install_key(store: MemoryKeyStore, plaintext: str, principal_id: str, scopes: set[str]) -> None:
    """Register a known plaintext key (the public ``create`` draws a random one)."""
    parsed = key_format.parse(plaintext)
    assert parsed is not None, "API_KEY is not a well-formed key"
    store._insert(
        KeyRecord(
            id=parsed.id,
            principal_id=principal_id,
            scopes=frozenset(scopes),
            tenant=None,
            created=time.time(),
            expires=None,
            revoked=None,
            last_used=None,
            digest=secret_digest(parsed.secret),
        )
    )


def _counting(runs: list[int], view: Callable[[], Any]) -> Callable[[], Any]:
    def counted() -> Any:
        runs[0] += 1
        return view()

    counted.__name__ = view.__name__
    return counted


def _guarded(name: str, backend_url: str, runs: list[int], cached: bool, rows: bool) -> Flask:
    app = Flask(f"bench-{name}")
    app.config.update(CACHEWARD_SECRET=SECRET, CACHEWARD_BACKEND=backend_url)
    store = MemoryKeyStore()
    install_key(store, API_KEY, "alice", {"items:read"})
    ward = Cacheward(app, keys=store)  # raises ConfigurationError for a missing backend

    def items() -> Any:
        runs[0] += 1
        if rows:
            # What a typical list view reads: a parameter and the caller.
            request.args.get("n")
            owner = current_principal.id
            return {"owner": owner, "rows": ROWS}
        return PAYLOAD

    view: Callable[..., Any] = items
    if cached:
        view = ward.cached(ttl=3600)(view)
    view = ward.protected("items:read")(view)
    app.add_url_rule(PATH, "items", view)
    return app


def _flask_caching(name: str, config: dict[str, Any], runs: list[int]) -> Flask:
    from flask_caching import Cache

    app = Flask(f"bench-{name}")
    cache = Cache(app, config=config)

    @app.get(PATH)
    @cache.cached(timeout=3600)
    def items() -> Any:
        runs[0] += 1
        return PAYLOAD

    return app


def make_app(name: str, redis_url: str | None = None, runs: list[int] | None = None) -> Flask:
    """The Flask app of variant ``name``.

    :raises Unavailable: a Redis variant without a Redis URL, or a backend this branch
        does not have.
    """
    runs = runs if runs is not None else [0]
    redis_url = redis_url or os.environ.get("BENCH_REDIS_URL")
    if name in REDIS_VARIANTS and not redis_url:
        raise Unavailable("no redis-server")
    if name == "a":
        app = Flask("bench-a")
        app.add_url_rule(PATH, "items", _counting(runs, lambda: PAYLOAD))
        return app
    if name == "b":
        app = Flask("bench-b")
        keys = {API_KEY: "alice"}

        def items() -> Any:
            runs[0] += 1
            if keys.get(request.headers.get("X-API-Key", "")) is None:
                return {"error": "invalid_credentials"}, 401
            return PAYLOAD

        app.add_url_rule(PATH, "items", items)
        return app
    if name == "c":
        return _flask_caching(name, {"CACHE_TYPE": "SimpleCache"}, runs)
    if name == "e":
        config = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url}
        return _flask_caching(name, config, runs)
    if name in ("d", "f"):
        url = "memory://" if name == "d" else str(redis_url)
        try:
            return _guarded(name, url, runs, cached=True, rows=False)
        except ConfigurationError as e:
            raise Unavailable(
                f"CACHEWARD_BACKEND={url.split('://')[0]}:// on this branch: {e}"
            ) from None
    if name in ("miss-cached", "miss-untracked"):  # miss.py stubs tracking for the latter
        return _guarded(name, "memory://", runs, cached=True, rows=True)
    if name == "miss-uncached":
        return _guarded(name, "memory://", runs, cached=False, rows=True)
    raise ValueError(f"unknown variant {name!r}")


def make_bench(name: str, redis_url: str | None = None, warm: int = 3) -> Bench:
    """Variant ``name`` built and warmed; for a cached variant, checks that it now hits.

    :raises Unavailable: see :func:`make_app`.
    """
    runs = [0]
    bench = Bench(name, make_app(name, redis_url, runs), make_environ(), runs)
    for _ in range(warm):
        status, headers, body = bench.call()
        if not status.startswith("200"):
            raise RuntimeError(f"variant {name}: {status} {body[:200]!r}")
    # At most once: a Redis variant may find the entry an earlier process stored.
    if name in ("c", "d", "e", "f") and runs[0] > 1:
        raise RuntimeError(f"variant {name} ran its view {runs[0]} times: it does not hit")
    if name in ("d", "f") and "hit" not in headers.get("Cache-Status", ""):
        raise RuntimeError(f"variant {name} answered without a hit: {headers}")
    return bench
