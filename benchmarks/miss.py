"""Section 2: the miss path (view runs with its reads recorded, then the entry is stored)
against the same protected view with no cache."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cacheward.flask.serve as serve_module

from . import instructions, timing
from .apps import Bench, make_app, make_environ
from .budget import Budget
from .report import Section, Target

#: The variants of this section, in the order they are reported.
VARIANTS = ("miss-cached", "miss-untracked", "miss-uncached")
LABELS = {
    "miss-cached": "protected + cached, miss, tracking on",
    "miss-untracked": "protected + cached, miss, tracking stubbed out",
    "miss-uncached": "protected only, no cache",
}


class _Untracked:
    """Stands in for :class:`cacheward.flask.tracking.Swap`: no proxies swapped in."""

    def __init__(self, ctx: Any, rec: Any) -> None:
        self.rec = rec
        self.active = False

    def track_g(self) -> None:
        return None

    def undo(self) -> None:
        return None


def _loop(bench: Bench, counter: itertools.count[int]) -> Callable[[], None]:
    """One request with a query string never sent before, so that every one misses.

    For ``miss-untracked``, ``serve``'s ``Swap`` is swapped for a no-op around each
    request (and only then: cacheward has no switch for it, by design); the swap is two
    module attribute stores, noise next to a miss.
    """
    wsgi_app = bench.app.wsgi_app
    environ = bench.environ
    real = serve_module.Swap

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        return None

    def one() -> None:
        env = environ.copy()
        env["QUERY_STRING"] = f"n={next(counter)}"
        it = wsgi_app(env, start_response)
        for _ in it:
            pass
        it.close()  # type: ignore[attr-defined]

    if bench.name != "miss-untracked":
        return one

    def untracked() -> None:
        serve_module.Swap = _Untracked  # type: ignore[assignment,misc]
        try:
            one()
        finally:
            serve_module.Swap = real

    return untracked


def _bench(name: str) -> Bench:
    runs = [0]
    return Bench(name, make_app(name, runs=runs), make_environ(), runs)


def run(budget: Budget, callgrind: bool = False) -> Section:
    s = Section(
        "2. Miss path",
        "The view renders a 200-row JSON list (about 11 KB), reading `request.args['n']`"
        " and `current_principal.id`. Every request carries a query string never sent"
        " before, so the cached variants always miss: lookup, single-flight, lookup again,"
        " the view under input tracking, then the entry is stored (in a 64 MiB memory"
        " backend that starts evicting once full). The second variant is the same app with"
        " `cacheward.flask.serve.Swap` swapped for a stub that records nothing"
        " around each of its requests (benchmark only: cacheward has no switch for it), so"
        " the difference is what tracking costs. The uncached variant is the same"
        " `protected` view without `cached`.",
    )
    benches = {v: _bench(v) for v in VARIANTS}
    for v in ("miss-cached", "miss-untracked"):
        real = serve_module.Swap
        if v == "miss-untracked":
            serve_module.Swap = _Untracked  # type: ignore[assignment,misc]
        try:
            status, headers, _ = benches[v].call(dict(benches[v].environ, QUERY_STRING="n=-1"))
        finally:
            serve_module.Swap = real
        if "stored" not in headers.get("Cache-Status", ""):
            raise RuntimeError(f"{v} does not store its entries: {status} {headers}")
    counter = itertools.count()
    loops = {v: _loop(benches[v], counter) for v in VARIANTS}
    samples = timing.interleaved(loops, budget.miss_rounds, budget.miss_batch)
    ratio = timing.ratio(samples, "miss-cached", "miss-uncached")
    lo, hi = timing.spread(samples, "miss-cached", "miss-uncached")
    us = {v: timing.median(samples, v) * 1e6 for v in VARIANTS}
    s.table(
        ["variant", "µs/request (median)", "vs uncached"],
        [
            [LABELS[v], f"{us[v]:.1f}", f"{timing.ratio(samples, v, 'miss-uncached'):.2f}x"]
            for v in VARIANTS
        ],
    )
    s.targets.append(
        Target(
            "miss with tracking vs uncached",
            f"{ratio:.2f}x (rounds {lo:.2f}–{hi:.2f})",
            "≤ 1.15x",
            ratio <= 1.15,
        )
    )
    # Per round, tracked minus untracked: both ran in the same round.
    deltas = [a - b for a, b in zip(samples["miss-cached"], samples["miss-untracked"], strict=True)]
    overhead_us = sorted(deltas)[len(deltas) // 2] * 1e6
    untracked_ratio = timing.ratio(samples, "miss-untracked", "miss-uncached")
    s.notes.append(
        f"{budget.miss_rounds} interleaved rounds of {budget.miss_batch} requests per variant;"
        " ratios are medians of per-round ratios."
    )
    s.targets.append(
        Target(
            "tracking overhead per miss, wall time (report only)",
            f"{overhead_us:.1f} µs ({overhead_us / us['miss-cached']:.1%} of a miss);"
            f" miss without tracking {untracked_ratio:.2f}x uncached",
            "report",
            None,
        )
    )
    if callgrind and instructions.available():
        _instructions(s, budget)
    return s


def _instructions(s: Section, budget: Budget) -> None:
    n = max(2, budget.callgrind_requests // 2)
    variants = list(VARIANTS)
    with tempfile.TemporaryDirectory(prefix="cacheward-cg-") as tmp:
        runs = []
        for i in range(2):
            out = Path(tmp) / f"run{i}" / "cg.out"
            out.parent.mkdir()
            args = [str(n), *variants]
            runs.append(instructions.phases("benchmarks.cg_worker", args, variants, out))
    first = runs[0]
    s.table(
        ["variant", "instructions/request, run 1", "run 2", "vs uncached"],
        [
            [LABELS[v]]
            + [f"{r[v] / 1000:,.1f}k" for r in runs]
            + [f"{first[v] / first['miss-uncached']:.2f}x"]
            for v in variants
        ],
    )
    s.notes.append(
        f"Instructions: two `valgrind --tool=callgrind` runs of `python -m benchmarks.cg_worker"
        f" {n} {' '.join(variants)}`, as in section 1."
    )
    ratio = first["miss-cached"] / first["miss-uncached"]
    s.targets.append(
        Target(
            "miss with tracking vs uncached, instructions",
            f"{ratio:.2f}x",
            "≤ 1.15x",
            ratio <= 1.15,
        )
    )
    tracking = first["miss-cached"] - first["miss-untracked"]
    s.targets.append(
        Target(
            "tracking overhead per miss, instructions (report only)",
            f"{tracking / 1000:,.1f}k ({tracking / first['miss-cached']:.1%} of a miss)",
            "report",
            None,
        )
    )
