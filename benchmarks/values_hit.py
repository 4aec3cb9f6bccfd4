"""``python -m benchmarks.values_hit``: a ``ward.memoize`` hit and a ``ward.data.get``
beside Flask-Caching's ``memoize`` hit and ``cache.get`` (SimpleCache; memory backend),
in interleaved rounds; ratios are medians of per-round ratios. Not part of
docs/benchmarks.md: a migration check, printed."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask_caching import Cache

from cacheward import Cacheward

ROUNDS = 5


def _per_call(fn: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main(n: int = 20000) -> None:
    app = Flask("values-bench")
    app.config.update(CACHEWARD_SECRET="s" * 32, CACHE_TYPE="SimpleCache")
    ward = Cacheward(app)
    cache = Cache(app)

    @ward.memoize(600, scope="shared", name="bench.f")
    def ours(a: int, b: int = 2) -> dict[str, Any]:
        return {"a": a, "b": [b, "x"]}

    @cache.memoize(600)
    def theirs(a: int, b: int = 2) -> dict[str, Any]:
        return {"a": a, "b": [b, "x"]}

    value = {"a": [1, 2], "b": "text"}
    variants: dict[str, Callable[[], Any]] = {
        "ward.memoize hit": lambda: ours(7),
        "Flask-Caching memoize hit": lambda: theirs(7),
        "ward.data.get": lambda: ward.data.get("k", scope="shared"),
        "Flask-Caching cache.get": lambda: cache.get("k"),
    }
    with app.app_context():
        ours(7)
        theirs(7)
        ward.data.set("k", value, scope="shared")
        cache.set("k", value)
        rows: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(ROUNDS):
            for name, fn in variants.items():
                rows[name].append(_per_call(fn, n))
    for name, times in rows.items():
        print(f"{name:28s} {statistics.median(times):8.2f} us/call")
    pairs = [
        ("ward.memoize hit", "Flask-Caching memoize hit"),
        ("ward.data.get", "Flask-Caching cache.get"),
    ]
    for a, b in pairs:
        ratio = statistics.median(x / y for x, y in zip(rows[a], rows[b], strict=True))
        print(f"{a} vs {b}: {ratio:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
