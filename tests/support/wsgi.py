"""The threaded keep-alive WSGI server of the tests and benchmarks: the demo's own
(:mod:`cacheward._serving`), so there is one implementation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cacheward._serving import HOST, ThreadedServer, fast_switching

__all__ = ["HOST", "ThreadedServer", "fast_switching", "serving"]


@contextmanager
def serving(app: Any, name: str = "app") -> Iterator[str]:
    """``app`` on 127.0.0.1, an OS-picked port, in a thread; yields the base URL and
    stops the server on exit."""
    server = ThreadedServer.start(name, app)
    try:
        yield server.base
    finally:
        server.stop()
