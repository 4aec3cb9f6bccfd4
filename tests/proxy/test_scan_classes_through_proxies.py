"""The issue-16 technique classes through real proxies: nginx, Varnish, Squid, HAProxy's
cache and Apache Traffic Server.

Each planted route of ``tests/targets/classes.py`` must be reported with its id through
every proxy (the proxies forward what the probes send; their own caches leave the
routes' ``private`` answers alone), its fixed twin and the traps must yield nothing. What
a proxy changes, observed and pinned below:

- Every one of them announces itself (nginx, HAProxy and Traffic Server ``X-Cache`` as
  configured, Varnish ``X-Varnish`` and ``Age``, Squid ``X-Cache`` and ``Via``), so the
  in-app edge behind them that sends no header (``/c/hidden``) is not reported as
  ``hidden-cache``: a cache header is present.
  The real hidden cache is nginx itself without ``add_header``, tested last.
- nginx with ``proxy_cache`` does not pass ``Range`` (nor ``If-Range``) to the origin
  (it fetches whole responses to cache them; proxy module documentation), so the
  origin's 416 of ``/c/cpdos-range`` never happens behind it; nor does Varnish, which
  answers ``Range`` from the whole object (it passes a request only with a cookie or a
  credential it is told to, and the scanner replays no cookie).
- Squid as an accelerator with ``defaultsite=`` and ``no-vhost`` sends the origin its
  configured site as ``Host``, whatever the client sent: ``/c/host-port``'s origin never
  sees the port. Traffic Server (``remap_required``) answers a Host that no ``map`` rule
  names with its own 404, "Not Found on Accelerator": the same route, out of reach.
- HAProxy's cache and Traffic Server forward ``Range`` to the origin on a miss (neither
  stores the 416): ``/c/cpdos-range`` is found through both.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.proxy.class_proxies import start_nginx_silent, start_squid, stop_squid
from tests.support.proxies import ROOT, Server, start_gunicorn, start_proxy
from tests.targets import classes
from tests.targets.harness import creds, endpoints

from cacheward.core.finding import Report
from cacheward.scan import Settings, scan_async

FAST = Settings(rate=0, concurrency=8)
PROXIES = ("nginx", "varnish", "squid", "haproxy", "trafficserver")
CLASS_PATHS = [*classes.ROUTES, *classes.TRAPS]
#: Planted bugs a proxy hides, by profile (see the module docstring).
NEUTRALIZED: dict[str, set[str]] = {
    "nginx": {"/c/hidden", "/c/cpdos-range"},
    # Varnish answers Range from the whole object it fetched; with no cookie jar (issue 15)
    # nothing makes it pass the request, so the origin's 416 is out of reach.
    "varnish": {"/c/hidden", "/c/cpdos-range"},
    "squid": {"/c/hidden", "/c/host-port"},
    # HAProxy and Traffic Server add the X-Cache of their configurations (tests.support.caches)
    # and, on a miss, forward Range to the origin: its 416 is reached through both.
    "haproxy": {"/c/hidden"},
    # remap_required: a Host no map rule names (another port) is ATS's own 404, "Not Found
    # on Accelerator"; the origin never sees the port.
    "trafficserver": {"/c/hidden", "/c/host-port"},
}


def _target(tmp_path_factory: pytest.TempPathFactory, which: str) -> Iterator[Server]:
    server = start_gunicorn(
        f"targets.{which}:create_app()",
        tmp_path_factory.mktemp(which),
        env={"PYTHONPATH": str(ROOT / "tests")},
        workers=1,  # the edge cache lives in the process
        threads=8,
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def vulnerable_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _target(tmp_path_factory, "vulnerable")


@pytest.fixture(scope="module")
def fixed_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _target(tmp_path_factory, "fixed")


Front = Callable[[str, Server], Server]


@pytest.fixture
def front(tmp_path: Path) -> Iterator[Front]:
    """``front(profile, upstream)``: nginx, Varnish, Squid or silent nginx, stopped by PID."""
    started: list[tuple[Server, Callable[[Server], None]]] = []

    def start(profile: str, upstream: Server) -> Server:
        where = tmp_path / profile
        if profile == "squid":
            server, stop = start_squid(where, upstream.port), stop_squid
        elif profile == "nginx-silent":
            server, stop = start_nginx_silent(where, upstream.port), Server.stop
        else:
            server, stop = start_proxy(profile, where, upstream.port), Server.stop
        started.append((server, stop))
        return server

    yield start
    for server, stop in reversed(started):
        stop(server)


def scan(base: str, paths: list[str]) -> tuple[Report, dict[str, set[str]]]:
    report = asyncio.run(scan_async(endpoints(base, paths), creds(), FAST))
    found: dict[str, set[str]] = defaultdict(set)
    for f in report.findings:
        found[(f.url or "").removeprefix(base)].add(f.id)
    return report, found


@pytest.mark.parametrize("profile", PROXIES)
def test_classes_found_through_proxy(profile: str, front: Front, vulnerable_target: Server) -> None:
    proxy = front(profile, vulnerable_target)
    report, found = scan(proxy.url, CLASS_PATHS)
    hits = [r for r, (planted, *_) in classes.ROUTES.items() if planted in found[r]]
    print(
        f"classes via {profile}: {len(hits)}/{len(classes.ROUTES)} planted found,"
        f" requests/endpoint max {report.stats['requests_per_endpoint_max']}"
        f" mean {report.stats['requests_per_endpoint_mean']}"
    )
    for route, (planted, *also) in classes.ROUTES.items():
        if route in NEUTRALIZED[profile]:
            assert found[route] == set(), (route, found[route])
            continue
        assert planted in found[route], (route, found[route], report.notes)
        assert found[route] <= {planted, *also}, (route, found[route])
    for trap in classes.TRAPS:
        assert found[trap] == set(), (trap, found[trap])
    assert report.stats["requests_per_endpoint_max"] <= 400


@pytest.mark.parametrize("profile", PROXIES)
def test_fixed_classes_through_proxy(profile: str, front: Front, fixed_target: Server) -> None:
    proxy = front(profile, fixed_target)
    report, found = scan(proxy.url, CLASS_PATHS)
    print(f"fixed classes via {profile}: {len(report.findings)} findings")
    assert dict(found) == {}


def test_hidden_cache_is_nginx_without_its_header(front: Front, vulnerable_target: Server) -> None:
    """nginx's proxy_cache as documented sends no status header: found by timing; the
    same nginx with ``add_header X-Cache`` (the fix) announces itself and is not."""
    silent = front("nginx-silent", vulnerable_target)
    report, found = scan(silent.url, [classes.SLOW])
    print(f"hidden cache via nginx-silent: {sorted(found[classes.SLOW])}")
    assert found[classes.SLOW] == {"hidden-cache"}, report.notes
    (f,) = report.findings
    assert f.evidence["repeats"] == 7 and f.evidence["median_gap_ms"] >= 25
    loud = front("nginx", vulnerable_target)
    report, found = scan(loud.url, [classes.SLOW])
    assert dict(found) == {}
