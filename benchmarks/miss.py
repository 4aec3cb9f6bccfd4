"""Section 2: the miss path (view runs with its reads recorded, then the entry is stored)
against the same protected view with no cache."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import g, request

from cacheward import current_principal
from cacheward.flask.serve import PRINCIPAL_ATTR
from cacheward.flask.tracking import Recorder, tracking

from . import instructions, timing
from .apps import Bench, make_app, make_environ
from .budget import Budget
from .report import Section, Target


def _loop(bench: Bench, counter: itertools.count[int]) -> Callable[[], None]:
    """One request with a query string never sent before, so that every one misses."""
    wsgi_app = bench.app.wsgi_app
    environ = bench.environ

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        return None

    def one() -> None:
        env = environ.copy()
        env["QUERY_STRING"] = f"n={next(counter)}"
        it = wsgi_app(env, start_response)
        for _ in it:
            pass
        it.close()  # type: ignore[attr-defined]

    return one


def _bench(name: str) -> Bench:
    runs = [0]
    return Bench(name, make_app(name, runs=runs), make_environ(), runs)


def run(budget: Budget, callgrind: bool = False) -> Section:
    s = Section(
        "2. Miss path",
        "The view renders a 200-row JSON list (about 11 KB), reading `request.args['n']`"
        " and `current_principal.id`. Every request carries a query string never sent"
        " before, so the cached variant always misses: lookup, single-flight, lookup again,"
        " the view under input tracking, then the entry is stored (in a 64 MiB memory"
        " backend that starts evicting once full). The uncached variant is the same"
        " `protected` view without `cached`.",
    )
    cached, uncached = _bench("miss-cached"), _bench("miss-uncached")
    status, headers, _ = cached.call(dict(cached.environ, QUERY_STRING="n=-1"))
    if "stored" not in headers.get("Cache-Status", ""):
        raise RuntimeError(f"the miss benchmark does not store its entries: {status} {headers}")
    counter = itertools.count()
    loops = {"miss": _loop(cached, counter), "uncached": _loop(uncached, counter)}
    samples = timing.interleaved(loops, budget.miss_rounds, budget.miss_batch)
    ratio = timing.ratio(samples, "miss", "uncached")
    lo, hi = timing.spread(samples, "miss", "uncached")
    miss_us = timing.median(samples, "miss") * 1e6
    s.table(
        ["variant", "µs/request (median)", "ratio"],
        [
            ["protected + cached, miss, tracking on", f"{miss_us:.1f}", f"{ratio:.2f}x"],
            [
                "protected only, no cache",
                f"{timing.median(samples, 'uncached') * 1e6:.1f}",
                "1.00x",
            ],
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
    if callgrind and instructions.available():
        _instructions(s, budget)
    overhead = _tracking_overhead(cached, budget.tracking_batch)
    s.notes.append(
        f"{budget.miss_rounds} interleaved rounds of {budget.miss_batch} requests per variant."
    )
    s.notes.append(
        "Tracking has no off switch (no setting, by design), so its cost is timed directly"
        " inside one request context: entering and leaving `tracking(ctx, Recorder(...))`"
        " plus the view's two reads through the recording proxies, against the same two"
        f" reads on the plain request: **{overhead * 1e6:.1f} µs per miss**, about"
        f" {overhead * 1e6 / miss_us:.1%} of the miss above."
    )
    s.targets.append(
        Target(
            "tracking overhead per miss (report only)",
            f"{overhead * 1e6:.1f} µs ({overhead * 1e6 / miss_us:.1%} of a miss)",
            "report",
            None,
        )
    )
    return s


def _instructions(s: Section, budget: Budget) -> None:
    n = max(2, budget.callgrind_requests // 2)
    variants = ["miss-cached", "miss-uncached"]
    with tempfile.TemporaryDirectory(prefix="cacheward-cg-") as tmp:
        runs = []
        for i in range(2):
            out = Path(tmp) / f"run{i}" / "cg.out"
            out.parent.mkdir()
            args = [str(n), *variants]
            runs.append(instructions.phases("benchmarks.cg_worker", args, variants, out))
    ratio = runs[0]["miss-cached"] / runs[0]["miss-uncached"]
    s.table(
        ["variant", "instructions/request, run 1", "run 2", "ratio"],
        [
            ["protected + cached, miss, tracking on"]
            + [f"{r['miss-cached'] / 1000:,.1f}k" for r in runs]
            + [f"{ratio:.2f}x"],
            ["protected only, no cache"]
            + [f"{r['miss-uncached'] / 1000:,.1f}k" for r in runs]
            + ["1.00x"],
        ],
    )
    s.notes.append(
        f"Instructions: two `valgrind --tool=callgrind` runs of `python -m benchmarks.cg_worker"
        f" {n} miss-cached miss-uncached`, as in section 1."
    )
    s.targets.append(
        Target(
            "miss with tracking vs uncached, instructions",
            f"{ratio:.2f}x",
            "≤ 1.15x",
            ratio <= 1.15,
        )
    )


def _tracking_overhead(bench: Bench, batch: int) -> float:
    app = bench.app
    environ = dict(bench.environ, QUERY_STRING="n=1")
    state = app.extensions["cacheward"]
    principal = state.keys.verify(environ["HTTP_X_API_KEY"])
    with app.request_context(environ) as ctx:
        setattr(g, PRINCIPAL_ATTR, principal)

        def reads() -> None:
            request.args.get("n")
            current_principal.id  # noqa: B018 - the read is the point

        def plain() -> None:
            reads()

        def tracked() -> None:
            with tracking(ctx, Recorder(state.key_header, ctx.request.environ)):
                reads()

        samples = timing.interleaved({"plain": plain, "tracked": tracked}, 5, batch)
    return max(0.0, timing.median(samples, "tracked") - timing.median(samples, "plain"))
