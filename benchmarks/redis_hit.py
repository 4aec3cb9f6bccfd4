"""Redis hit path, side by side: Flask-Caching's ``RedisCache.get`` and
``RedisBackend.lookup``, on one local redis-server this script starts and stops.

Run: ``uv run python -m benchmarks.redis_hit`` from the repository root (not a test;
prints the figures).
Rounds are interleaved so that drift (CPU frequency, other load) hits both alike.
"""

from __future__ import annotations

import statistics
import time
import timeit

from flask_caching.backends.rediscache import RedisCache
from tests.support.redis import RedisServer

from cacheward.backends.redis import RedisBackend
from cacheward.core.cachekey import CacheKey
from cacheward.core.entry import Entry
from cacheward.core.secret import Secrets

BODY = b'{"id": "42", "items": [' + b'"x", ' * 200 + b'"y"]}'  # ~1 KB JSON
HEADERS = (("Content-Type", "application/json"), ("Cache-Control", "private"))
ROUNDS, NUMBER = 15, 2000


def main() -> None:
    server = RedisServer().start()
    try:
        run(server)
    finally:
        server.cleanup()


def run(server: RedisServer) -> None:
    fc = RedisCache(host="127.0.0.1", port=server.port, default_timeout=300)
    fc.set("k", {"status": 200, "headers": list(HEADERS), "body": BODY})
    assert fc.get("k")["body"] == BODY

    cw = RedisBackend.from_url(server.url, Secrets("benchmark-secret-0123456789"))
    key = CacheKey("0" * 40, "principal:" + "a" * 32, ())
    found = cw.lookup(key)
    cw.store(
        key, Entry(200, HEADERS, BODY, time.time(), 300, '"e"', key.scope, (), found.generation)
    )
    hit = cw.lookup(key).entry
    assert hit is not None and hit.body == BODY

    fc_times: list[float] = []
    cw_times: list[float] = []
    for _ in range(ROUNDS):
        fc_times.append(timeit.timeit(lambda: fc.get("k"), number=NUMBER) / NUMBER)
        cw_times.append(timeit.timeit(lambda: cw.lookup(key), number=NUMBER) / NUMBER)
    fc_us = statistics.median(fc_times) * 1e6
    cw_us = statistics.median(cw_times) * 1e6
    print(f"body {len(BODY)} bytes, {ROUNDS} interleaved rounds x {NUMBER} hits, median per hit")
    print(f"  Flask-Caching RedisCache.get : {fc_us:7.1f} us")
    print(f"  cacheward RedisBackend.lookup: {cw_us:7.1f} us")
    print(f"  ratio cacheward / Flask-Caching: {cw_us / fc_us:.2f}")
    cold = RedisBackend.from_url(server.url, Secrets("benchmark-secret-0123456789"), memo_bytes=0)
    cold_times = [timeit.timeit(lambda: cold.lookup(key), number=NUMBER) / NUMBER for _ in range(5)]
    cold_us = statistics.median(cold_times) * 1e6
    print(f"  cacheward, memo off (verify + parse every hit): {cold_us:7.1f} us")
    cold.close()
    cw.close()
    fc._write_client.close()


if __name__ == "__main__":
    main()
