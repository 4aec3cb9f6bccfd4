"""Fixtures for scanner tests: the targets in-process and on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.wsgi import ThreadedServer, fast_switching
from tests.targets import fixed, vulnerable

from cacheward.scan.probes import miner


@pytest.fixture(autouse=True)
def short_wordlists(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole-target scans try the first 120 names of each wordlist: the full lists cost
    about 145 requests per endpoint. ``full_wordlists`` restores them."""
    monkeypatch.setattr(miner, "LIMIT", 120)


@pytest.fixture
def full_wordlists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(miner, "LIMIT", None)


@pytest.fixture
def vulnerable_app() -> object:
    return vulnerable.create_app()


@pytest.fixture
def fixed_app() -> object:
    return fixed.create_app()


@pytest.fixture
def serve() -> Iterator[object]:
    """Serve an app on 127.0.0.1, port 0, in a thread; shut down after the test."""
    servers: list[ThreadedServer] = []

    def start(app: object) -> str:
        server = ThreadedServer.start("target", app)
        servers.append(server)
        return server.base

    with fast_switching():
        yield start
        for server in servers:
            server.stop()
