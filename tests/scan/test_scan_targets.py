"""End to end: the vulnerable target is reported route by route, its fixed twin is clean."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable

import pytest
from tests.targets import classes, vulnerable
from tests.targets.harness import (
    ALL_PATHS,
    PLANTED,
    RAW_IDS,
    SOCKET_PATHS,
    SOCKET_PLANTED,
    AsyncWSGITransport,
    creds,
    endpoints,
)

from cacheward.core.finding import SCAN_CHECK_IDS, Report
from cacheward.scan import Settings, scan_async

FAST = Settings(rate=0, concurrency=8)


def _by_route(report: Report, base: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for f in report.findings:
        assert f.url is not None
        out[f.url.removeprefix(base)].add(f.id)
    return out


def _scan_in_process(app: object) -> Report:
    base = "http://target.test"
    return asyncio.run(
        scan_async(endpoints(base, ALL_PATHS), creds(), FAST, transport=AsyncWSGITransport(app))
    )


def _assert_vulnerable(report: Report, base: str, *, socket: bool) -> None:
    """Every planted bug found (over a socket, the raw-only ones too), nothing else."""
    found = _by_route(report, base)
    for route, (planted, *also) in (SOCKET_PLANTED if socket else PLANTED).items():
        assert planted in found[route], (route, found[route])
        assert found[route] <= {planted, *also}, (route, found[route])
    for trap in classes.TRAPS:
        assert found[trap] == set(), (trap, found[trap])
    for route, expected in vulnerable.PATH_KEYED.items():
        # No buster busts: only the read-only cross-key probe may report, marked as such.
        assert {"cross-key-leak", "anonymous-cache-leak"} <= found[route], (route, found[route])
        assert found[route] <= set(expected), (route, found[route])
        assert any(route in n and "skipped" in n for n in report.notes)
        leaks = [f for f in report.findings if f.url == base + route and "leak" in f.id]
        assert all(f.evidence["buster"] == "none" for f in leaks)
        assert all("own legitimate response" in f.evidence["mode"] for f in leaks)
    assert {f.id for f in report.findings} <= set(SCAN_CHECK_IDS)
    assert set(SCAN_CHECK_IDS) - (set() if socket else RAW_IDS) <= {f.id for f in report.findings}


def test_vulnerable_in_process(vulnerable_app: object) -> None:
    report = _scan_in_process(vulnerable_app)
    _assert_vulnerable(report, "http://target.test", socket=False)
    assert report.stats["requests_per_endpoint_max"] <= 400


def test_fixed_in_process(fixed_app: object) -> None:
    report = _scan_in_process(fixed_app)
    assert report.findings == ()
    assert not [n for n in report.notes if "skipped" in n]


@pytest.mark.parametrize("which", ["vulnerable", "fixed"])
def test_targets_on_loopback(
    which: str,
    vulnerable_app: object,
    fixed_app: object,
    serve: Callable[[object], str],
) -> None:
    base = serve(vulnerable_app if which == "vulnerable" else fixed_app)
    assert base.startswith("http://127.0.0.1:")
    report = asyncio.run(scan_async(endpoints(base, SOCKET_PATHS), creds(), FAST))
    if which == "vulnerable":
        _assert_vulnerable(report, base, socket=True)
    else:
        assert report.findings == ()
