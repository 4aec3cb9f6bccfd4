"""Run under callgrind by :mod:`benchmarks.instructions`; not a benchmark on its own.

``python -m benchmarks.cg_worker N VARIANT...``: builds and warms every variant, then for
each one runs N requests and the same loop N times around a no-op, calling
``os.getppid()`` between phases. Callgrind is started with ``--dump-before=getppid``, so
each phase lands in its own dump file: (with - without) / N is the instructions of one
request, the loop itself subtracted.
"""

from __future__ import annotations

import gc
import itertools
import os
import sys

from .apps import make_bench, request_loop
from .miss import _bench as miss_bench
from .miss import _loop as miss_loop

WARM = 50


def main(argv: list[str]) -> None:
    n = int(argv[0])
    counter = itertools.count()
    loops = []
    for v in argv[1:]:
        if v.startswith("miss-"):  # a query string never sent before: every request misses
            loops.append(miss_loop(miss_bench(v), counter))
            for _ in range(WARM):
                loops[-1]()
        else:
            loops.append(request_loop(make_bench(v, warm=WARM)))

    def nothing() -> None:
        return None

    # Start-up objects move to the permanent generation, so that a full collection
    # traversing them cannot land in one variant's phase and not another's; the
    # requests' own garbage is still collected, as in a server.
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
