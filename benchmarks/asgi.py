"""Section 7: the ASGI guard's hit against fastapi-cache2's, in process and over HTTP.

Every variant serves the same ~1 KB JSON body at ``/items`` (``benchmarks.apps.PAYLOAD``)
to the same request, with an ``X-API-Key`` header:

* ``g`` a bare FastAPI route whose ``APIKeyHeader`` dependency looks the key up in a dict
  (the floor of an authenticated FastAPI route);
* ``h`` fastapi-cache2 ``@cache(expire=60)`` hit, ``InMemoryBackend``, no authentication
  (its documented usage);
* ``i`` cacheward ``Security(ward.protected("items:read"))`` + ``@ward.cached(ttl=60)``
  hit: authenticates against a ``MemoryKeyStore``, checks the scope, principal-scoped
  key, ``AsyncMemoryBackend``;
* ``j`` fastapi-cache2 hit, ``RedisBackend`` (``redis.asyncio``);
* ``k`` (i) on ``AsyncRedisBackend``.

``factory`` is the uvicorn factory: ``BENCH_VARIANT=i uvicorn --factory
benchmarks.asgi:factory`` (the Redis URL comes from ``BENCH_REDIS_URL``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

from tests.support import free_port, stop_process, wait_for_port

from . import timing
from .apps import API_KEY, PATH, PAYLOAD, SECRET, Unavailable, install_key
from .budget import Budget
from .overhttp import _wrk
from .report import Section, Target
from .servers import ROOT

VARIANTS = ("g", "h", "i", "j", "k")
LABELS = {
    "g": "bare FastAPI route + APIKeyHeader dict lookup",
    "h": "fastapi-cache2 hit, InMemoryBackend (no auth)",
    "i": "cacheward hit, memory (auth + scope + principal key)",
    "j": "fastapi-cache2 hit, RedisBackend (no auth)",
    "k": "cacheward hit, Redis (auth + scope + principal key)",
}
REDIS = frozenset({"j", "k"})


def make_app(variant: str, redis_url: str | None = None) -> tuple[Any, Callable[[], None]]:
    """The app of ``variant`` and a hook to run before each call (fastapi-cache2 keeps
    its backend in a class attribute: the hook puts this variant's back)."""
    from fastapi import FastAPI, HTTPException, Security
    from fastapi.security import APIKeyHeader

    if variant in REDIS and not redis_url:
        raise Unavailable("no redis-server")
    app = FastAPI()
    before: Callable[[], None] = lambda: None  # noqa: E731
    if variant == "g":
        known = {API_KEY: "bench"}
        header = APIKeyHeader(name="X-API-Key")

        def user(key: str = Security(header)) -> str:  # noqa: B008
            found = known.get(key)
            if found is None:
                raise HTTPException(401)
            return found

        @app.get(PATH)
        async def items_g(who: str = Security(user)) -> Any:  # noqa: B008
            return PAYLOAD

    elif variant in ("h", "j"):
        from fastapi_cache import FastAPICache
        from fastapi_cache.decorator import cache

        if variant == "h":
            from fastapi_cache.backends.inmemory import InMemoryBackend

            backend: Any = InMemoryBackend()
        else:
            from fastapi_cache.backends.redis import RedisBackend
            from redis.asyncio import Redis

            backend = RedisBackend(Redis.from_url(str(redis_url)))

        def select() -> None:
            FastAPICache._backend = backend
            FastAPICache._prefix = f"bench-{variant}"

        FastAPICache.init(backend, prefix=f"bench-{variant}")
        before = select

        @app.get(PATH)
        @cache(expire=60)
        async def items_h() -> Any:
            return PAYLOAD

    elif variant in ("i", "k"):
        from cacheward.fastapi import Cacheward, Principal
        from cacheward.keys import MemoryKeyStore

        store = MemoryKeyStore()
        install_key(store, API_KEY, "bench", {"items:read"})
        ward = Cacheward(
            app,
            keys=store,
            secret=SECRET,
            backend=redis_url if variant == "k" else "memory://",
            namespace=f"bench-{variant}",
        )

        @app.get(PATH)
        @ward.cached(ttl=60)
        async def items_i(p: Principal = Security(ward.protected("items:read"))) -> Any:  # noqa: B008
            return PAYLOAD

    else:
        raise ValueError(f"unknown variant {variant!r}")
    return app, before


def factory() -> Any:
    """uvicorn's ``--factory`` entry point."""
    return make_app(os.environ["BENCH_VARIANT"], os.environ.get("BENCH_REDIS_URL"))[0]


_SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": PATH,
    "raw_path": PATH.encode(),
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"bench.local"), (b"x-api-key", API_KEY.encode())],
    "client": ("127.0.0.1", 40000),
    "server": ("bench.local", 80),
}


def call_loop(variant: str, redis_url: str | None) -> tuple[Callable[[], None], Callable[[], Any]]:
    """One in-process request to ``variant`` (checked to be a 200 hit), and a closer."""
    app, before = make_app(variant, redis_url)
    loop = asyncio.new_event_loop()
    out: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = message["headers"]
        else:
            out["body"] = message.get("body", b"")

    def one() -> None:
        before()
        scope = dict(_SCOPE)
        loop.run_until_complete(app(scope, receive, send))

    for _ in range(3):
        one()
    assert out["status"] == 200, (variant, out)
    headers = {k.decode().lower(): v.decode() for k, v in out["headers"]}
    status = headers.get("cache-status") or headers.get("x-fastapi-cache", "")
    assert variant == "g" or "hit" in status.lower(), (variant, headers)
    return one, loop.close


def run_in_process(budget: Budget, redis_url: str | None, s: Section) -> dict[str, float]:
    loops: dict[str, Callable[[], None]] = {}
    closers = []
    for v in VARIANTS:
        try:
            loops[v], close = call_loop(v, redis_url)
            closers.append(close)
        except Unavailable as e:
            s.notes.append(f"({v}) {LABELS[v]}: skipped, {e}.")
    samples = timing.interleaved(loops, budget.hit_rounds, budget.hit_batch)
    for close in closers:
        close()

    def r(num: str, den: str) -> float | None:
        return timing.ratio(samples, num, den) if num in loops and den in loops else None

    rows = []
    for v in VARIANTS:
        if v not in loops:
            rows.append([f"({v})", LABELS[v], "skipped", "–", "–", "–"])
            continue
        us = timing.median(samples, v) * 1e6
        cells = [r(v, base) for base in ("g", "h", "j")]
        rows.append(
            [f"({v})", LABELS[v], f"{us:.1f}"]
            + ["–" if c is None else f"{c:.2f}x" for c in cells]
        )
    s.table(["", "variant", "µs/request (median)", "vs (g)", "vs (h)", "vs (j)"], rows)
    s.notes.append(
        f"In process: {budget.hit_rounds} interleaved rounds of {budget.hit_batch} requests"
        " per variant, each `loop.run_until_complete(app(scope, receive, send))` with the same"
        " scope; ratios are medians of per-round ratios (lower is faster)."
    )
    return {k: v for k, v in (("ih", r("i", "h")), ("kj", r("k", "j"))) if v is not None}


@contextlib.contextmanager
def uvicorn(variant: str, redis_url: str | None) -> Iterator[int]:
    """One uvicorn worker serving ``variant``; yields its port, stops it by PID."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), BENCH_VARIANT=variant)
    if redis_url:
        env["BENCH_REDIS_URL"] = redis_url
    args = [sys.executable, "-m", "uvicorn", "--factory", "benchmarks.asgi:factory"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    args += ["--no-access-log"]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        yield port
    finally:
        stop_process(proc)


def run_over_http(budget: Budget, redis_url: str | None, s: Section) -> dict[str, float]:
    if shutil.which("wrk") is None:
        s.notes.append("Over HTTP: skipped, wrk is not installed.")
        return {}
    variants = [v for v in VARIANTS if v not in REDIS or redis_url]
    rps: dict[str, list[float]] = {v: [] for v in variants}
    with contextlib.ExitStack() as stack:
        ports = {v: stack.enter_context(uvicorn(v, redis_url)) for v in variants}
        for port in ports.values():
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}{PATH}", headers={"X-API-Key": API_KEY}
            )
            for _ in range(3):
                with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
                    assert resp.status == 200
            _wrk(port, min(1.0, budget.http_seconds))
        for rnd in range(budget.http_rounds):
            k = rnd % len(variants)
            for v in variants[k:] + variants[:k]:
                rps[v].append(_wrk(ports[v], budget.http_seconds)[0])

    def ratio(num: str, den: str) -> float | None:
        if num not in rps or den not in rps:
            return None
        return statistics.median(a / b for a, b in zip(rps[num], rps[den], strict=True))

    rows = []
    for v in variants:
        cells = [ratio(v, base) for base in ("g", "h", "j")]
        rows.append(
            [f"({v})", LABELS[v], f"{statistics.median(rps[v]):,.0f}"]
            + ["–" if c is None else f"{c:.2f}x" for c in cells]
        )
    s.table(["", "variant", "req/s (median)", "vs (g)", "vs (h)", "vs (j)"], rows)
    s.notes.append(
        f"Over HTTP: one uvicorn worker per variant, `wrk -t1 -c4 --latency`, "
        f"{budget.http_rounds} round(s) of {budget.http_seconds:g} s per variant in rotating"
        " order; req/s ratios are medians of per-round ratios (higher is faster)."
    )
    return {k: v for k, v in (("ih", ratio("i", "h")), ("kj", ratio("k", "j"))) if v is not None}


def run_instructions(budget: Budget, s: Section) -> dict[str, float]:
    """Instructions per in-process request of the memory variants (two runs)."""
    import tempfile
    from pathlib import Path

    from . import instructions

    variants = ["g", "h", "i"]
    runs = []
    with tempfile.TemporaryDirectory(prefix="cacheward-asgi-cg-") as tmp:
        for i in range(2):
            out = Path(tmp) / f"run{i}" / "cg.out"
            out.parent.mkdir()
            args = [str(budget.callgrind_requests), *variants]
            runs.append(instructions.phases("benchmarks.asgi_cg", args, variants, out))
    rows = [
        [f"({v})", LABELS[v], f"{runs[0][v] / 1000:,.0f}k", f"{runs[1][v] / 1000:,.0f}k"]
        for v in variants
    ]
    s.table(["", "variant", "instructions/request (run 1)", "(run 2)"], rows)
    s.notes.append(
        f"Instructions: `valgrind --tool=callgrind`, {budget.callgrind_requests} requests per"
        " variant after 50 warm-up requests, the empty loop subtracted; two independent runs."
    )
    return runs[0]


def run(budget: Budget, redis_url: str | None, callgrind: bool = False) -> Section:
    s = Section(
        "7. ASGI guard hit vs fastapi-cache2",
        "FastAPI apps serving the same ~1 KB JSON at `/items`. (g) is an authenticated"
        " route without a cache; (h)/(j) are fastapi-cache2 hits in its documented usage,"
        " which authenticate nothing; (i)/(k) are cacheward hits that authenticate the key,"
        " check its scope and serve the principal-scoped entry. The Redis variants share"
        " one redis-server started on a free loopback port and stopped by PID.",
    )
    import importlib.metadata as md

    s.notes.append(
        "Versions: "
        + ", ".join(
            f"{d} {md.version(d)}" for d in ("fastapi", "starlette", "fastapi-cache2", "uvicorn")
        )
        + "."
    )
    inproc = run_in_process(budget, redis_url, s)
    for name, label, num, den in (("ih", "memory", "i", "h"), ("kj", "Redis", "k", "j")):
        value = inproc.get(name)
        s.targets.append(
            Target(
                f"({num}) vs ({den}), {label}, in process (wall time)",
                "–" if value is None else f"{value:.2f}x",
                "≤ 1.00x",
                None if value is None else value <= 1.0,
            )
        )
    if callgrind:
        from . import instructions

        if instructions.available():
            counts = run_instructions(budget, s)
            ratio = counts["i"] / counts["h"]
            s.targets.append(
                Target(
                    "(i) vs (h), memory, in process (instructions)",
                    f"{counts['i'] / 1000:,.0f}k vs {counts['h'] / 1000:,.0f}k = {ratio:.2f}x",
                    "≤ 1.00x",
                    ratio <= 1.0,
                )
            )
    http = run_over_http(budget, redis_url, s)
    for name, label, num, den in (("ih", "memory", "i", "h"), ("kj", "Redis", "k", "j")):
        value = http.get(name)
        s.targets.append(
            Target(
                f"({num}) vs ({den}), {label}, over HTTP (req/s)",
                "–" if value is None else f"{value:.2f}x",
                "≥ 1.00x",
                None if value is None else value >= 1.0,
            )
        )
    return s
