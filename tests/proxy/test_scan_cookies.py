"""No cookie jar, behind real Varnish: a ``Set-Cookie`` from one endpoint is never
replayed, so stock Varnish (which passes any request with a ``Cookie``) still caches,
and the leak beside the cookie-setting endpoints is found. The fixed twin is clean."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.proxies import ROOT, Server, start_gunicorn, start_varnish
from tests.targets.cookies import TRACKING
from tests.targets.harness import creds

from cacheward.core.finding import Report
from cacheward.scan import Endpoint, Settings, scan_async

CROSS_KEY = {"cross-key-leak", "anonymous-cache-leak"}


def _serve(tmp: Path, factory: str) -> Iterator[Server]:
    server = start_gunicorn(
        f"targets.cookies:{factory}()", tmp, env={"PYTHONPATH": str(ROOT / "tests")}, workers=1
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def vulnerable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve(tmp_path_factory.mktemp("cookies"), "create_app")


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve(tmp_path_factory.mktemp("cookies-fixed"), "create_fixed_app")


def _scan(upstream: Server, tmp: Path) -> Report:
    varnish = start_varnish(tmp / "varnish", upstream.port)
    try:
        urls = [Endpoint(varnish.url + p) for p in ("/login", "/account")]
        return asyncio.run(scan_async(urls, creds(), Settings(rate=0)))
    finally:
        varnish.stop()


def test_leak_beside_cookie_setting_endpoints_is_found(vulnerable: Server, tmp_path: Path) -> None:
    report = _scan(vulnerable, tmp_path)
    found = {(f.url.rsplit("/", 1)[-1], f.id) for f in report.findings if f.url}
    assert ("account", "cross-key-leak") in found, report.findings
    assert TRACKING not in repr(report)


def test_fixed_twin_behind_varnish_is_clean(fixed: Server, tmp_path: Path) -> None:
    report = _scan(fixed, tmp_path)
    assert not {f.id for f in report.findings} & CROSS_KEY, report.findings
