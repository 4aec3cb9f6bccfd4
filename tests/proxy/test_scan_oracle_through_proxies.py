"""The oracle's targets (``targets.oracle``) behind real nginx and Varnish.

Behind either proxy the query buster busts the proxy but not the Flask-Caching entry
behind it (a cache behind the cache): the scan must see that the proxy's "miss" was
served from a store, say so in a note, and still prove the path-keyed leaks with the
identities ``/o/whoami`` teaches, also where the copy carries no request id (``/o/plain``:
the proxy's miss is no proof that the app answered anew, so the copy is not fresh).
The fixed twin behind the same proxies, and the noise trap in both, yield nothing.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator

import pytest
from tests.proxy.conftest import ProxyFactory
from tests.support.proxies import Server, target_server
from tests.targets import oracle
from tests.targets.harness import creds, endpoints
from tests.targets.kit import RAW_KEYS

from cacheward.core.finding import Report
from cacheward.scan import Settings, scan_async

FAST = Settings(rate=0, concurrency=8)
PROFILES = ("nginx", "varnish")
PATHS = [*oracle.ALL, oracle.WHOAMI]


def _target(tmp_path_factory: pytest.TempPathFactory, factory: str) -> Iterator[Server]:
    yield from target_server(f"tests.targets.oracle:{factory}()", tmp_path_factory.mktemp(factory))


@pytest.fixture(scope="module")
def vulnerable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _target(tmp_path_factory, "create_app")


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _target(tmp_path_factory, "create_fixed_app")


def _scan(base: str) -> tuple[Report, dict[str, set[str]]]:
    report = asyncio.run(scan_async(endpoints(base, PATHS), creds(), FAST))
    found: dict[str, set[str]] = defaultdict(set)
    for f in report.findings:
        found[(f.url or "").removeprefix(base)].add(f.id)
    return report, found


@pytest.mark.parametrize("profile", PROFILES)
def test_vulnerable_behind_proxy(profile: str, proxy: ProxyFactory, vulnerable: Server) -> None:
    front = proxy(profile, vulnerable)
    report, found = _scan(front.url)
    print(f"oracle targets via {profile}: {dict(found)}")
    for route, (planted, *also) in oracle.ROUTES.items():
        added = set(oracle.AT_A_PROXY.get(route, ()))
        # the proxy stores the public inbox: a leak at the proxy, found although /o/news
        # set a cookie earlier (no cookie jar: Varnish would pass every later request)
        assert {planted, *added} <= found[route], (route, found[route])
        assert found[route] <= {planted, *also, *added}, (route, found[route])
    for trap in (*oracle.TRAPS, oracle.WHOAMI):
        assert found[trap] == set(), (trap, found[trap])
    assert any("/o/me" in n and "cache behind the cache" in n for n in report.notes)
    assert "cross-key-leak" in found["/o/plain"]  # a note only before freshness evidence
    text = repr(report)
    assert not any(k in text or k[-12:] in text for k in RAW_KEYS)


@pytest.mark.parametrize("profile", PROFILES)
def test_fixed_behind_proxy(profile: str, proxy: ProxyFactory, fixed: Server) -> None:
    front = proxy(profile, fixed)
    report, found = _scan(front.url)
    assert report.findings == (), dict(found)
