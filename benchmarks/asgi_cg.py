"""Run under callgrind by :mod:`benchmarks.asgi`; not a benchmark on its own.

``python -m benchmarks.asgi_cg N VARIANT...``: the :mod:`benchmarks.cg_worker` protocol
for the ASGI variants (each request is ``loop.run_until_complete(app(scope, ...))``).
"""

from __future__ import annotations

import gc
import os
import sys

from .asgi import call_loop


def main(argv: list[str]) -> None:
    n = int(argv[0])
    url = os.environ.get("BENCH_REDIS_URL")
    loops = [call_loop(v, url)[0] for v in argv[1:]]
    for one in loops:
        for _ in range(50):
            one()

    def nothing() -> None:
        return None

    gc.collect()
    gc.freeze()
    os.getppid()  # dump: start-up and warm-up
    for one in loops:
        for _ in range(n):
            one()
        os.getppid()  # dump: N requests
        for _ in range(n):
            nothing()
        os.getppid()  # dump: the empty loop


if __name__ == "__main__":
    main(sys.argv[1:])
