"""Fixtures of the proxy suite: the example API under gunicorn, its keys, and proxies.

Upstream apps are started once per module (they are stateless but for their in-app
cache); every proxy is started per test, with its configuration, cache and logs in the
test's own ``tmp_path``, and stopped by PID at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.proxy.callers import Keyring, issue_keys
from tests.support.proxies import Server, start_gunicorn, start_proxy

from cacheward.scan.probes import miner


@pytest.fixture(autouse=True)
def short_wordlists(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scans here try the first 120 names of each wordlist, as tests/scan does: the
    full lists (about 145 requests per endpoint) run in tests/scan/test_scan_classes.py."""
    monkeypatch.setattr(miner, "LIMIT", 120)


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyring]:
    """20 principals in 4 tenants (half send ``X-API-Key``, half ``Authorization:
    Bearer``), plus keys that the tests revoke, in an SQLite file every worker reads."""
    keyring = issue_keys(tmp_path_factory.mktemp("keys") / "keys.db")
    yield keyring
    keyring.store.close()


def _serve(
    tmp_path_factory: pytest.TempPathFactory, app: str, env: dict[str, str]
) -> Iterator[Server]:
    server = start_gunicorn(app, tmp_path_factory.mktemp("gunicorn"), env=env)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, keyring: Keyring) -> Iterator[Server]:
    """The example API with the default ``CACHEWARD_DOWNSTREAM = "private"``."""
    env = {"CW_KEYS_FILE": str(keyring.path), "CW_DOWNSTREAM": "private"}
    yield from _serve(tmp_path_factory, "tests.proxy.apps.guarded:create_app()", env)


@pytest.fixture(scope="module")
def guarded_per_key(tmp_path_factory: pytest.TempPathFactory, keyring: Keyring) -> Iterator[Server]:
    """The example API in per-key CDN mode (``public`` + ``Vary`` on credentials)."""
    env = {"CW_KEYS_FILE": str(keyring.path), "CW_DOWNSTREAM": "per-key"}
    yield from _serve(tmp_path_factory, "tests.proxy.apps.guarded:create_app()", env)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The control app without cacheward."""
    yield from _serve(tmp_path_factory, "tests.proxy.apps.plain:create_app()", {})


ProxyFactory = Callable[[str, Server], Server]


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[ProxyFactory]:
    """``proxy(profile, upstream)`` starts a proxy in this test's tmp dir."""
    started: list[Server] = []

    def start(profile: str, upstream: Server) -> Server:
        server = start_proxy(profile, tmp_path / profile, upstream.port)
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()
