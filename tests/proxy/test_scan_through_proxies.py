"""``cacheward scan`` through the proxies: the vulnerable target behind each profile is
reported with the right ids, including the bugs only the proxy makes exploitable, and
its fixed twin behind the same proxies yields no finding.

What each proxy changes (observed, pinned below):

- nginx and both CDN profiles store ``/v/public-cc`` (``public``) and ``/v/no-cc`` (no
  caching headers, stored through ``proxy_cache_valid``) whatever credential asked: the
  planted ``cacheable-authenticated`` becomes a real ``cross-key-leak`` and
  ``anonymous-cache-leak`` at the proxy. Varnish does too (its default TTL for a
  response without caching headers), now that the scanner keeps no cookie jar: a
  ``Set-Cookie`` from ``/v/cookie`` replayed on later requests made the builtin VCL
  pass them all and hid these leaks.
- Varnish does not forward the body of a GET to the app, so the planted ``fat-get`` bugs
  cannot be reached through it, and are rightly not reported.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator

import pytest
from tests.proxy.conftest import ProxyFactory
from tests.support.proxies import PROFILES, Server, target_server
from tests.targets import vulnerable
from tests.targets.harness import ALL_PATHS, PLANTED, creds, endpoints

from cacheward.core.finding import Report
from cacheward.scan import Settings, scan_async

FAST = Settings(rate=0, concurrency=8)
LEAKS_AT_THE_PROXY = {"cross-key-leak", "anonymous-cache-leak"}

#: Findings the proxy adds to a route's planted ids, by profile.
ADDED: dict[str, dict[str, set[str]]] = {
    "nginx": {"/v/public-cc": LEAKS_AT_THE_PROXY, "/v/no-cc": LEAKS_AT_THE_PROXY},
    "varnish": {"/v/public-cc": LEAKS_AT_THE_PROXY, "/v/no-cc": LEAKS_AT_THE_PROXY},
    "cdn-static": {"/v/public-cc": LEAKS_AT_THE_PROXY, "/v/no-cc": LEAKS_AT_THE_PROXY},
    "cdn-utm": {"/v/public-cc": LEAKS_AT_THE_PROXY, "/v/no-cc": LEAKS_AT_THE_PROXY},
}
#: Planted bugs the proxy makes unreachable, by profile.
NEUTRALIZED: dict[str, set[str]] = {
    "nginx": set(),
    "varnish": {"/v/fat", "/v/fat-json"},
    "cdn-static": set(),
    "cdn-utm": set(),
}


def target(tmp_path_factory: pytest.TempPathFactory, which: str) -> Iterator[Server]:
    yield from target_server(f"tests.targets.{which}:create_app()", tmp_path_factory.mktemp(which))


@pytest.fixture(scope="module")
def vulnerable_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from target(tmp_path_factory, "vulnerable")


@pytest.fixture(scope="module")
def fixed_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from target(tmp_path_factory, "fixed")


def scan(base: str) -> Report:
    return asyncio.run(scan_async(endpoints(base, ALL_PATHS), creds(), FAST))


def by_route(report: Report, base: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for finding in report.findings:
        assert finding.url is not None
        out[finding.url.removeprefix(base)].add(finding.id)
    return out


@pytest.mark.parametrize("profile", PROFILES)
def test_vulnerable_target_through_proxy(
    profile: str, proxy: ProxyFactory, vulnerable_target: Server
) -> None:
    front = proxy(profile, vulnerable_target)
    report = scan(front.url)
    found = by_route(report, front.url)
    print(
        f"scan vulnerable via {profile}: {len(report.findings)} findings,"
        f" {sum(map(len, found.values()))} (route, id) pairs"
    )
    for route in vulnerable.ROUTES:  # the classes' routes: test_scan_classes_through_proxies
        planted, *also = PLANTED[route]
        added = ADDED[profile].get(route, set())
        if route in NEUTRALIZED[profile]:
            assert found[route] == set(), (route, found[route])
            continue
        assert {planted, *added} <= found[route], (route, found[route])
        assert found[route] <= {planted, *also, *added}, (route, found[route])
    for route, expected in vulnerable.PATH_KEYED.items():
        # No buster busts these: only the read-only cross-key probe may run. Behind a
        # proxy whose own X-Cache hides the app's cache it cannot always prove the leak
        # (it then leaves a note), but it never reports anything else.
        assert found[route] <= set(expected), (route, found[route])
    assert set(found) <= set(ALL_PATHS)


@pytest.mark.parametrize("profile", PROFILES)
def test_fixed_target_through_proxy(
    profile: str, proxy: ProxyFactory, fixed_target: Server
) -> None:
    front = proxy(profile, fixed_target)
    report = scan(front.url)
    print(f"scan fixed via {profile}: {len(report.findings)} findings")
    assert report.findings == ()


def test_scan_output_never_shows_a_key(proxy: ProxyFactory, vulnerable_target: Server) -> None:
    """Through a proxy too, findings carry keys only redacted."""
    from tests.targets.kit import RAW_KEYS

    front = proxy("nginx", vulnerable_target)
    text = repr(scan(front.url))
    for key in RAW_KEYS:
        assert key not in text and key[-12:] not in text
