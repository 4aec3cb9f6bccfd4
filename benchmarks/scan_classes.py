"""Section 5b: the technique classes of issue 16, class by class.

The planted routes and traps of ``tests/targets/classes.py`` (and its wordlist route) are
scanned with the full wordlists, in process (werkzeug on a loopback port) and behind
nginx, Varnish, Squid, HAProxy's cache and Traffic Server (the test suite's own
configurations, ``tests/support/proxies.py``, ``tests/support/caches.py`` and
``tests/proxy/class_proxies.py``), the vulnerable target and its fixed twin. Every
probe is wrapped to count the requests it sends per endpoint.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import importlib
import sys
import tempfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

from cacheward.core.finding import Report
from cacheward.scan import Settings, engine, scan_async
from cacheward.scan.probes import PROBES, ProbeSpec

from .budget import Budget
from .report import Section, Target
from .scan import MAX_REQUESTS_PER_ENDPOINT, TESTS, _serve

SETTINGS = Settings(rate=0, concurrency=8)
#: class -> (check id, the probes that implement it, WCVS 2.0's requests for it per URL
#: where its sources state them: one per wordlist name, 3 headers x 10 methods; n/a: not
#: stated)
CLASSES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "unkeyed headers": ("unkeyed-header", ("header-wordlist", "unkeyed-header"), "2,921"),
    "unkeyed parameters": ("unkeyed-param", ("param-wordlist", "unkeyed-param"), "6,452"),
    "unkeyed cookies": ("unkeyed-cookie", ("unkeyed-cookie",), "1 per cookie the site sets"),
    "CPDoS": ("cpdos", ("cpdos", "method-override"), "30 (method override) + HHO/HMC"),
    "Host-ish headers": ("host-header", ("host-header",), "n/a"),
    "duplicate Host": ("duplicate-host", ("duplicate-host",), "n/a"),
    "response splitting": ("response-splitting", ("response-splitting",), "n/a"),
    "path normalization": ("path-normalization", ("path-normalization",), "n/a"),
    "deception, encoded": (
        "cache-deception-path",
        ("cache-deception-path", "cache-deception"),
        "14 delimiters + static dirs",
    ),
    "parameter pollution": ("param-pollution", ("param-pollution",), "n/a"),
    "no status header": ("hidden-cache", ("hidden-cache",), "not tested"),
}
PROXIES = ("nginx", "varnish", "squid", "haproxy", "trafficserver")

Counts = collections.Counter[tuple[str, str]]


def _counting(spec: ProbeSpec, counts: Counts) -> ProbeSpec:
    def run(ctx: Any) -> Generator[Any, Any, Any]:
        gen = spec.run(ctx)
        key = (spec.name, ctx.endpoint.url)
        try:
            req = next(gen)
            while True:
                counts[key] += 1
                req = gen.send((yield req))
        except StopIteration as stop:
            return stop.value

    return dataclasses.replace(spec, run=run)


@contextlib.contextmanager
def _counted() -> Iterator[Counts]:
    counts: Counts = collections.Counter()
    saved = engine.PROBES
    engine.PROBES = tuple(_counting(s, counts) for s in PROBES)
    try:
        yield counts
    finally:
        engine.PROBES = saved


def _by_route(report: Report, base: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = collections.defaultdict(set)
    for f in report.findings:
        out[(f.url or "").removeprefix(base)].add(f.id)
    return out


def _modules() -> tuple[Any, Any, Any]:
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    if str(TESTS.parent) not in sys.path:
        sys.path.insert(0, str(TESTS.parent))
    return (
        importlib.import_module("targets.classes"),
        importlib.import_module("targets.harness"),
        importlib.import_module("targets.vulnerable"),
    )


def _scan(base: str, paths: list[str], harness: Any) -> Report:
    return asyncio.run(scan_async(harness.endpoints(base, paths), harness.creds(), SETTINGS))


@contextlib.contextmanager
def _behind(profile: str, which: str) -> Iterator[str]:
    """The ``which`` target under gunicorn behind ``profile``; yields the proxy's URL."""
    from tests.proxy.class_proxies import start_squid, stop_squid
    from tests.support.proxies import start_gunicorn, start_proxy

    with tempfile.TemporaryDirectory(prefix="cw-bench-") as tmp:
        app = start_gunicorn(
            f"targets.{which}:create_app()",
            Path(tmp) / "app",
            env={"PYTHONPATH": str(TESTS)},
            workers=1,
            threads=8,
        )
        try:
            if profile == "squid":
                proxy = start_squid(Path(tmp) / profile, app.port)
                stop: Callable[[Any], None] = stop_squid
            else:
                proxy = start_proxy(profile, Path(tmp) / profile, app.port)
                stop = type(proxy).stop
            try:
                yield proxy.url
            finally:
                stop(proxy)
        finally:
            app.stop()


def run(budget: Budget) -> Section:
    classes, harness, vulnerable = _modules()
    planted: dict[str, tuple[str, ...]] = {
        **classes.ROUTES,
        **classes.RAW_ROUTES,  # werkzeug on a loopback port: raw requests reach it
        classes.WORDLIST_ROUTE: ("unkeyed-header", "unkeyed-param"),
    }
    paths = [*planted, *classes.TRAPS]
    s = Section(
        "5b. Scanner: the technique classes",
        "Each class's planted routes (`tests/targets/classes.py`, the bug in an in-app edge"
        " cache or the origin) and the traps (a dynamic page echoing every input, a public"
        " page setting a cookie), scanned with the full wordlists (3,273 headers, 6,840"
        " parameters, 159 cookies) as alice, bob and the low key eve: in process, then"
        " behind nginx, Varnish, Squid, HAProxy's cache and Traffic Server under gunicorn;"
        " the fixed twin the same way."
        " Requests are counted per probe and endpoint. WCVS 2.0's cost is one request per"
        " wordlist name or payload, per URL.",
    )
    found: dict[str, dict[str, set[str]]] = {}
    false: dict[str, int] = {}
    with _counted() as counts:
        app = vulnerable.create_app()
        with _serve(app.wsgi_app) as base:
            report = _scan(base, paths, harness)
        found["in process"] = _by_route(report, base)
        stats = report.stats
        fixed = importlib.import_module("targets.fixed").create_app()
        with _serve(fixed.wsgi_app) as base:
            false["in process"] = len(_scan(base, paths, harness).findings)
    skipped: list[str] = []
    if not budget.quick:
        for profile in PROXIES:
            try:
                with _behind(profile, "vulnerable") as url:
                    found[profile] = _by_route(_scan(url, paths, harness), url)
                with _behind(profile, "fixed") as url:
                    false[profile] = len(_scan(url, paths, harness).findings)
            except BaseException as exc:  # noqa: BLE001 - pytest.skip for a missing binary
                skipped.append(f"{profile}: {type(exc).__name__}: {exc}")
    where = list(found)
    urls = {url for _name, url in counts}
    rows = []
    for label, (cid, probes, wcvs) in CLASSES.items():
        routes = [
            r
            for r, ids in planted.items()
            if ids[0] == cid or (r == classes.WORDLIST_ROUTE and cid in ids)
        ]
        cells = []
        for w in where:
            hit = sum(cid in found[w].get(r, set()) for r in routes)
            cells.append(f"{hit}/{len(routes)}")
        traps = sum(bool(found[w].get(t)) for w in where for t in classes.TRAPS)
        sent = [sum(counts[(p, u)] for p in probes) for u in urls]
        mean = sum(sent) / max(1, len(sent))
        rows.append(
            [label, f"`{cid}`", *cells, str(traps), f"{mean:,.1f} / {max(sent, default=0):,}", wcvs]
        )
    s.table(
        [
            "class",
            "check id",
            *[f"planted found: {w}" for w in where],
            "trap findings",
            "requests/endpoint (mean / max)",
            "WCVS 2.0 requests/URL",
        ],
        rows,
    )
    s.table(
        ["measure", *where],
        [
            ["false findings on the fixed twin", *[str(false.get(w, "-")) for w in where]],
            [
                "requests per endpoint, whole scan (in process, max / mean)",
                f"{stats['requests_per_endpoint_max']} / {stats['requests_per_endpoint_mean']}",
                *["" for _ in where[1:]],
            ],
        ],
    )
    unexpected = sorted(
        f"{w} {r}: {', '.join(sorted(ids - set(planted.get(r, ()))))}"
        for w in where
        for r, ids in found[w].items()
        if ids - set(planted.get(r, ()))
    )
    s.notes.append(
        "Planted bugs a proxy makes unreachable (pinned in"
        " `tests/proxy/test_scan_classes_through_proxies.py`):"
        " `hidden-cache` behind any of them (each announces itself, so the edge behind it"
        " is not hidden; nginx without `add_header` is the hidden cache the tests find),"
        " `cpdos` through `Range` behind nginx and Varnish (neither passes `Range` to the"
        " origin when caching; HAProxy and Traffic Server do, on a miss), `host-header`"
        " behind Squid (`defaultsite` + `no-vhost` rewrites Host) and Traffic Server (a"
        " Host no `map` rule names is its own 404), `duplicate-host` behind all five"
        " (nginx, Varnish, HAProxy and Traffic Server answer two `Host` fields, in either"
        " spelling, with 400; Squid sends its own `Host`; gunicorn 27 behind them answers"
        " 400 too). In process the origin is Werkzeug's server, which joins them."
    )
    if unexpected:
        s.notes.append("Findings outside a route's planted ids: " + "; ".join(unexpected) + ".")
    s.notes += [f"Not run: {x}" for x in skipped]
    per_max = int(stats["requests_per_endpoint_max"])
    ok_found = all(planted[r][0] in found["in process"].get(r, set()) for r in planted) and not any(
        found["in process"].get(t) for t in classes.TRAPS
    )
    s.targets.append(
        Target(
            "scanner classes: planted found in process, max requests/endpoint",
            f"{sum(planted[r][0] in found['in process'].get(r, set()) for r in planted)}"
            f"/{len(planted)} found, {false['in process']} false; max {per_max} req/endpoint",
            f"all, 0 false, ≤ {MAX_REQUESTS_PER_ENDPOINT}",
            ok_found and false["in process"] == 0 and per_max <= MAX_REQUESTS_PER_ENDPOINT,
        )
    )
    return s
