"""Section 1: the guard's hit path against bare Flask and Flask-Caching, in process."""

from __future__ import annotations

from collections.abc import Callable

from . import instructions, timing
from .apps import LABELS, VARIANTS, Unavailable, make_bench, request_loop
from .budget import Budget
from .report import Section, Target


def _fmt_ratio(r: float | None) -> str:
    return "–" if r is None else f"{r:.2f}x"


def run(budget: Budget, redis_url: str | None, callgrind: bool) -> Section:
    s = Section(
        "1. Guard hit path, in process",
        "Each variant answers `GET /items` (about 1 KB of JSON) with the same prebuilt"
        " WSGI environ, called as `app.wsgi_app(environ.copy(), start_response)` in a loop"
        " (the copy and the loop are the same for every variant). Every cached variant is"
        " checked to hit before it is timed. (d) authenticates the key against a"
        " `MemoryKeyStore`, checks its scope, builds the principal-scoped key and serves"
        " the stored entry; input tracking is on (it only runs on a miss). (e) and (f)"
        " share one redis-server the benchmark starts on a free loopback port and stops by"
        " PID: (e) is Flask-Caching's `RedisCache` (one `GET`, then unpickling); (f) is"
        ' (d) with `CACHEWARD_BACKEND="redis://127.0.0.1:PORT/0"` (one `MGET` of the'
        " signed entry and its generation counters, then the HMAC check, skipped for bytes"
        " already verified).",
    )
    loops: dict[str, Callable[[], None]] = {}
    for v in VARIANTS:
        try:
            loops[v] = request_loop(make_bench(v, redis_url))
        except Unavailable as e:
            s.notes.append(f"({v}) {LABELS[v]}: skipped, {e}.")
    samples = timing.interleaved(loops, budget.hit_rounds, budget.hit_batch)

    def r(num: str, den: str) -> float | None:
        return timing.ratio(samples, num, den) if num in loops and den in loops else None

    rows = []
    for v in VARIANTS:
        if v not in loops:
            rows.append([f"({v})", LABELS[v], "skipped", "–", "–", "–"])
            continue
        us = timing.median(samples, v) * 1e6
        rows.append(
            [f"({v})", LABELS[v], f"{us:.1f}"]
            + [_fmt_ratio(r(v, base)) for base in ("a", "b", "c")]
        )
    s.table(["", "variant", "µs/request (median)", "vs (a)", "vs (b)", "vs (c)"], rows)
    s.notes.append(
        f"{budget.hit_rounds} interleaved rounds of {budget.hit_batch} requests per variant;"
        " ratios are medians of per-round ratios."
    )
    db = r("d", "b")
    if db is not None:
        lo, hi = timing.spread(samples, "d", "b")
        s.targets.append(
            Target(
                "(d) vs (b), wall time",
                f"{db:.2f}x (rounds {lo:.2f}–{hi:.2f})",
                "≤ 1.10x",
                db <= 1.10,
            )
        )
    fe = r("f", "e")
    s.targets.append(
        Target(
            "(f) vs (e), wall time",
            _fmt_ratio(fe),
            "< 1.00x (faster)",
            None if fe is None else fe < 1.0,
        )
    )
    if callgrind:
        _instructions(s, budget, redis_url, list(loops))
    else:
        s.notes.append("Instruction counts: run with `--callgrind`.")
    return s


def _instructions(s: Section, budget: Budget, redis_url: str | None, variants: list[str]) -> None:
    if not instructions.available():
        s.notes.append("Instruction counts: valgrind is not installed.")
        s.targets.append(Target("(d) vs (c), instructions", "–", "≤ 1.00x", None))
        return
    n = budget.callgrind_requests
    runs = instructions.per_request(variants, n, redis_url)
    rows = []
    for v in variants:
        counts = [run[v] for run in runs]
        rows.append(
            [f"({v})", LABELS[v]]
            + [f"{c / 1000:,.1f}k" for c in counts]
            + [
                f"{counts[0] / runs[0][base]:.2f}x" if base in runs[0] else "–"
                for base in ("a", "b", "c")
            ]
        )
    s.tables.append(
        (
            ["", "variant", "instructions/request, run 1", "run 2", "vs (a)", "vs (b)", "vs (c)"],
            rows,
        )
    )
    s.notes.append(
        f"Instructions: two independent `valgrind --tool=callgrind` runs (PYTHONHASHSEED=0)"
        f" of `python -m benchmarks.cg_worker {n} {' '.join(variants)}`: after 50 warm-up"
        f" requests per variant, {n} requests, minus the same loop around a no-op, divided by"
        f" {n}. Phases are split with `--dump-before=getppid`. For (e) and (f) only the"
        " Python process is counted, not redis-server, and the wait for the reply costs"
        " no instructions: compare them by wall time too."
    )
    first = runs[0]
    if "d" in first and "c" in first:
        dc = first["d"] / first["c"]
        s.targets.append(
            Target(
                "(d) vs (c), instructions",
                f"{first['d'] / 1000:,.0f}k vs {first['c'] / 1000:,.0f}k = {dc:.2f}x",
                "≤ 1.00x",
                dc <= 1.0,
            )
        )
    if "d" in first and "b" in first:
        db = first["d"] / first["b"]
        s.targets.append(Target("(d) vs (b), instructions", f"{db:.2f}x", "≤ 1.10x", db <= 1.10))
    if "f" in first and "e" in first:
        fe = first["f"] / first["e"]
        s.targets.append(Target("(f) vs (e), instructions", f"{fe:.2f}x", "< 1.00x", fe < 1.0))
