"""Recall and false findings of ``cacheward scan`` on the scanner's own targets.

Every scenario scans a target app of ``tests/targets`` in-process (a WSGI transport, so
no port and no thread), with the CLI's default budget and concurrency and no rate
limit, and counts, route by route, the planted bugs found (a route's first expected
id among its findings), the findings outside a route's expected ids, every finding on
a fixed twin or a trap, and the requests per endpoint.

``python -m benchmarks.scan_recall --json`` prints the measurements as JSON; the scan
section runs it a second time on another checkout's code (``CW_BASELINE_SRC=/path/src``
puts that ``cacheward`` first on ``sys.path``) to show today's main side by side.
Scenarios that need options main does not have are measured on this branch only.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import json
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .servers import ROOT

TESTS = ROOT / "tests"


@dataclass(frozen=True)
class Scenario:
    name: str
    module: str
    factory: str
    #: route -> the ids it must be reported with (first) and may also be
    expected: dict[str, tuple[str, ...]]
    #: routes scanned where any finding is false (fixed twins: every route)
    clean: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: a real proxy in front of the target under gunicorn (``None``: in process)
    via: str | None = None
    #: findings a proxy in front adds on a route (its own leak of an uncontrolled 200)
    also: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


def _modules() -> tuple[Any, Any, Any]:
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    return (
        importlib.import_module("targets.vulnerable"),
        importlib.import_module("targets.oracle"),
        importlib.import_module("targets.harness"),
    )


def _fresh_scenarios() -> list[Scenario]:
    """``targets.fresh`` (issue 15 B), in process and behind real nginx and Varnish."""
    fresh = importlib.import_module("targets.fresh")
    out = []
    for via in (None, "nginx", "varnish"):
        where = f" via {via}" if via else ""
        also = fresh.AT_A_PROXY if via else {}
        clean = (*fresh.PUBLIC, fresh.ME)
        out += [
            Scenario(
                f"fresh.py{where} ({len(fresh.ROUTES)} routes, {len(clean)} public pages)",
                "targets.fresh",
                "create_app",
                dict(fresh.ROUTES),
                clean,
                via=via,
                also=also,
            ),
            Scenario(
                f"fresh.py fixed twin{where}",
                "targets.fresh",
                "create_fixed_app",
                {},
                tuple(fresh.ALL),
                via=via,
            ),
        ]
    return out


def scenarios() -> list[Scenario]:
    vulnerable, oracle, _ = _modules()
    planted = {**vulnerable.ROUTES, **vulnerable.PATH_KEYED}
    alone = {r: oracle.ROUTES[r] for r in ("/o/me", "/o/plain", "/o/report")}
    return [
        Scenario(
            f"vulnerable.py ({len(planted)} routes)", "targets.vulnerable", "create_app", planted
        ),
        Scenario("fixed.py (its twin)", "targets.fixed", "create_app", {}, tuple(planted)),
        Scenario(
            f"oracle.py ({len(oracle.ROUTES)} routes, {len(oracle.TRAPS)} traps, /o/whoami)",
            "targets.oracle",
            "create_app",
            dict(oracle.ROUTES),
            (*oracle.TRAPS, oracle.WHOAMI),
        ),
        Scenario(
            "oracle.py fixed twin",
            "targets.oracle",
            "create_fixed_app",
            {},
            (*oracle.ROUTES, *oracle.TRAPS, oracle.WHOAMI),
        ),
        Scenario("path-keyed routes alone, no hint", "targets.oracle", "create_app", alone),
        Scenario(
            "path-keyed routes alone, --whoami /o/whoami",
            "targets.oracle",
            "create_app",
            alone,
            settings={"whoami": oracle.WHOAMI},
        ),
        Scenario(
            "/o/short alone, --wait-ttl 1.5",
            "targets.oracle",
            "create_app",
            dict(oracle.SHORT),
            settings={"wait_ttl": 1.5},
        ),
        *_fresh_scenarios(),
    ]


@contextlib.contextmanager
def _served(s: Scenario) -> Iterator[tuple[str, Any]]:
    """The scenario's base URL and transport: in process, or gunicorn behind a proxy."""
    if s.via is None:
        _, _, harness = _modules()
        app = getattr(importlib.import_module(s.module), s.factory)()
        yield "http://target.test", harness.AsyncWSGITransport(app)
        return
    from tests.support.proxies import start_gunicorn, start_proxy

    with tempfile.TemporaryDirectory() as tmp:
        app = start_gunicorn(
            f"{s.module}:{s.factory}()",
            Path(tmp) / "app",
            env={"PYTHONPATH": str(TESTS)},
            workers=1,  # the in-app caches live in the process
            threads=8,
        )
        try:
            front = start_proxy(s.via, Path(tmp) / s.via, app.port)
            try:
                yield front.url, None
            finally:
                front.stop()
        finally:
            app.stop()


def measure(s: Scenario) -> dict[str, Any] | None:
    """One scenario's counts, or ``None`` when this ``cacheward`` lacks its options."""
    from cacheward.scan import Settings, scan_async

    _, _, harness = _modules()
    fields = {f.name for f in dataclasses.fields(Settings)}
    if not set(s.settings) <= fields:
        return None
    paths = [*s.expected, *s.clean]
    settings = Settings(rate=0, concurrency=8, **s.settings)
    with _served(s) as (base, transport):
        report = asyncio.run(
            scan_async(
                harness.endpoints(base, paths), harness.creds(), settings, transport=transport
            )
        )
    found: dict[str, set[str]] = defaultdict(set)
    for f in report.findings:
        found[(f.url or "").removeprefix(base)].add(f.id)
    hits = [r for r, ids in s.expected.items() if ids and ids[0] in found[r]]
    allowed = {r: {*ids, *s.also.get(r, ())} for r, ids in s.expected.items()}
    unexpected = sum(len(found[r] - allowed[r]) for r in s.expected)
    false = sum(len(found[r]) for r in s.clean)
    # clean routes the scan could not call clean (a note that makes it inconclusive)
    unsure = [r for r in s.clean if any(f"{base}{r}:" in g for g in report.inconclusive)]
    return {
        "planted": len(s.expected),
        "found": len(hits),
        "missed": sorted(set(s.expected) - set(hits)),
        "unexpected": unexpected,
        "false": false,
        "inconclusive": len(unsure),
        "clean": len(s.clean),
        "per_max": report.stats["requests_per_endpoint_max"],
        "per_mean": report.stats["requests_per_endpoint_mean"],
    }


def measure_all() -> dict[str, dict[str, Any] | None]:
    return {s.name: measure(s) for s in scenarios()}


def cell(m: dict[str, Any] | None, what: str) -> str:
    if m is None:
        return "n/a (option missing)"
    if what == "recall":
        return f"{m['found']}/{m['planted']}" if m["planted"] else "–"
    if what == "false":
        return str(m["false"] + m["unexpected"])
    if what == "unsure":
        return f"{m['inconclusive']}/{m['clean']}" if "inconclusive" in m else "n/a"
    return f"{m['per_max']} / {m['per_mean']}"


Table = Callable[[list[str], list[list[str]]], None]


def main(argv: list[str]) -> int:
    if "--json" in argv:
        print(json.dumps(measure_all()))
        return 0
    for name, m in measure_all().items():
        print(name, m)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
