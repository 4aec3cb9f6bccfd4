"""Where a variant's request spends its time: ``python -m benchmarks.profile d [N]``;
``python -m benchmarks.profile --callgrind [N]`` counts the instructions of each piece of
cacheward's hit path instead (:mod:`benchmarks.cg_parts`).

Runs N requests of the variant under cProfile after a warm-up and prints the functions
with the most own time, then by cumulative time. The call counts are exact; the times
carry cProfile's per-call overhead, so compare variants, not absolute figures. For
C-level costs use callgrind on ``benchmarks.cg_worker`` (see docs/benchmarks.md).
"""

from __future__ import annotations

import cProfile
import pstats
import sys

from .apps import make_bench, request_loop


def parts(n: int) -> None:
    """Instructions of each piece of the hit path, two runs side by side."""
    import tempfile
    from pathlib import Path

    from .cg_parts import LABELS
    from .instructions import phases

    with tempfile.TemporaryDirectory(prefix="cacheward-cg-") as tmp:
        runs = []
        for i in range(2):
            out = Path(tmp) / f"run{i}" / "cg.out"
            out.parent.mkdir()
            runs.append(phases("benchmarks.cg_parts", [str(n)], LABELS, out))
    print(f"{'piece':60} {'instr/call':>12} {'run 2':>12}")
    for label in LABELS:
        print(f"{label:60} {runs[0][label]:12,.0f} {runs[1][label]:12,.0f}")


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--callgrind":
        parts(int(argv[1]) if len(argv) > 1 else 200)
        return
    variant = argv[0] if argv else "d"
    n = int(argv[1]) if len(argv) > 1 else 5000
    one = request_loop(make_bench(variant, warm=100))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        one()
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main(sys.argv[1:])
