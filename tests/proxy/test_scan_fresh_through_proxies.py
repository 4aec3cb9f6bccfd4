"""Freshness evidence (``targets.fresh``) behind real nginx and Varnish.

Behind either proxy a fresh buster is a miss at the proxy, yet the application's own
cache, keyed on the path, serves alice's stored body to every key: with nothing per
request in it, only evidence can show a response fresh. The scan must not take the
proxy's miss for freshness (the leak is found with the identities ``/f/me`` teaches),
must find the layered cache that says it hit (``/f/layer``: the buster does not isolate,
so no poisoning probe runs there), must keep the public pages that show their freshness
(a canonical link, a ``Link: rel=self``, a random number) clean and conclusive, and must
call a static page with nothing to show inconclusive, saying what to pass.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator

import pytest
from tests.proxy.conftest import ProxyFactory
from tests.support.proxies import Server, target_server
from tests.targets import fresh
from tests.targets.harness import creds, endpoints
from tests.targets.kit import RAW_KEYS

from cacheward.core.finding import Report
from cacheward.scan import Settings, scan_async

FAST = Settings(rate=0, concurrency=8)
PROFILES = ("nginx", "varnish")


def _target(tmp_path_factory: pytest.TempPathFactory, factory: str) -> Iterator[Server]:
    yield from target_server(f"tests.targets.fresh:{factory}()", tmp_path_factory.mktemp(factory))


@pytest.fixture(scope="module")
def vulnerable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _target(tmp_path_factory, "create_app")


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _target(tmp_path_factory, "create_fixed_app")


def _scan(base: str, paths: list[str]) -> tuple[Report, dict[str, set[str]]]:
    report = asyncio.run(scan_async(endpoints(base, paths), creds(), FAST))
    found: dict[str, set[str]] = defaultdict(set)
    for f in report.findings:
        found[(f.url or "").removeprefix(base)].add(f.id)
    return report, found


def _gaps(report: Report, route: str) -> list[str]:
    return [g for g in report.inconclusive if f"{route}:" in g or g.endswith(route)]


@pytest.mark.parametrize("profile", PROFILES)
def test_vulnerable_behind_proxy(profile: str, proxy: ProxyFactory, vulnerable: Server) -> None:
    front = proxy(profile, vulnerable)
    report, found = _scan(front.url, fresh.ALL)
    print(f"fresh targets via {profile}: {dict(found)}")
    for route, (planted, *also) in fresh.ROUTES.items():
        added = set(fresh.AT_A_PROXY.get(route, ()))
        assert planted in found[route], (route, found[route])
        assert found[route] <= {planted, *also, *added}, (route, found[route])
    for page in (*fresh.PUBLIC, fresh.ME):
        assert found[page] == set(), (page, found[page])
        assert _gaps(report, page) == [], (page, _gaps(report, page))
    # the layered cache says it hit on a fresh buster: not isolated, so never poisoned
    layer = [n for n in report.notes if "/f/layer:" in n]
    assert any("cache behind the cache" in n for n in layer)
    assert any("active checks skipped" in n for n in layer), layer
    text = repr(report)
    assert not any(k in text or k[-12:] in text for k in RAW_KEYS)


@pytest.mark.parametrize("profile", PROFILES)
def test_fixed_behind_proxy(profile: str, proxy: ProxyFactory, fixed: Server) -> None:
    front = proxy(profile, fixed)
    report, found = _scan(front.url, fresh.ALL)
    assert report.findings == (), dict(found)
    for page in fresh.ALL:
        if page == "/f/layer":
            # keyed per principal, but not on the buster: no probe may poison it
            assert any("cache behind the cache" in g for g in _gaps(report, page))
            continue
        assert _gaps(report, page) == [], (page, _gaps(report, page))


@pytest.mark.parametrize("profile", PROFILES)
def test_nothing_to_show_is_inconclusive(profile: str, proxy: ProxyFactory, fixed: Server) -> None:
    """A static page every key gets byte for byte, with nothing per request: the proxy's
    miss is all there is, so a keyed scan may not call it clean."""
    front = proxy(profile, fixed)
    report, found = _scan(front.url, [fresh.UNSHOWABLE])
    assert found == {}
    [gap] = _gaps(report, fresh.UNSHOWABLE)
    assert "inconclusive" in gap
    assert all(opt in gap for opt in ("--whoami", "--identity", "--wait-ttl"))


@pytest.mark.parametrize("profile", PROFILES)
def test_a_stated_identity_absent_from_the_page_is_conclusive(
    profile: str, proxy: ProxyFactory, fixed: Server
) -> None:
    """What the user said alice's responses carry is not on the page: it is not hers."""
    front = proxy(profile, fixed)
    settings = Settings(rate=0, identities=(("alice", "alice@example.test"),))
    report = asyncio.run(scan_async(endpoints(front.url, [fresh.UNSHOWABLE]), creds(), settings))
    assert report.findings == () and report.inconclusive == ()
