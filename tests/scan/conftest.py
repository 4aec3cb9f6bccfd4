"""Fixtures for scanner tests: the targets in-process and on a free loopback port."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # makes `targets` importable

from cacheward.scan.probes import miner  # noqa: E402
from targets import fixed, vulnerable  # noqa: E402


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


class _KeepAlive(WSGIRequestHandler):
    """HTTP/1.1 keep-alive: a new connection per request triples the scan's wall time."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # the target's access log is not the scanner's output


@pytest.fixture
def serve() -> Iterator[object]:
    """Serve an app on 127.0.0.1, port 0, in a thread; shut down after the test."""
    servers = []
    # Server threads and the async client share one GIL; the default 5 ms switch
    # interval would dominate every loopback round trip.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)

    def start(app: object) -> str:
        server = make_server(
            "127.0.0.1",
            0,
            app,
            threaded=True,
            request_handler=_KeepAlive,  # type: ignore[arg-type]
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    sys.setswitchinterval(interval)
