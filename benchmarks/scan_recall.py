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
import dataclasses
import importlib
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
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


def _modules() -> tuple[Any, Any, Any]:
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    return (
        importlib.import_module("targets.vulnerable"),
        importlib.import_module("targets.oracle"),
        importlib.import_module("targets.harness"),
    )


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
    ]


def measure(s: Scenario) -> dict[str, Any] | None:
    """One scenario's counts, or ``None`` when this ``cacheward`` lacks its options."""
    from cacheward.scan import Settings, scan_async

    _, _, harness = _modules()
    fields = {f.name for f in dataclasses.fields(Settings)}
    if not set(s.settings) <= fields:
        return None
    app = getattr(importlib.import_module(s.module), s.factory)()
    paths = [*s.expected, *s.clean]
    base = "http://target.test"
    settings = Settings(rate=0, concurrency=8, **s.settings)
    report = asyncio.run(
        scan_async(
            harness.endpoints(base, paths),
            harness.creds(),
            settings,
            transport=harness.AsyncWSGITransport(app),
        )
    )
    found: dict[str, set[str]] = defaultdict(set)
    for f in report.findings:
        found[(f.url or "").removeprefix(base)].add(f.id)
    hits = [r for r, ids in s.expected.items() if ids and ids[0] in found[r]]
    unexpected = sum(len(found[r] - set(ids)) for r, ids in s.expected.items())
    false = sum(len(found[r]) for r in s.clean)
    return {
        "planted": len(s.expected),
        "found": len(hits),
        "missed": sorted(set(s.expected) - set(hits)),
        "unexpected": unexpected,
        "false": false,
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
