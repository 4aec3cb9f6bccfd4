"""A WSGI app served on a free loopback port by a thread: HTTP/1.1 keep-alive, no access
log. The demo serves its two APIs with it; the scanner tests and the benchmarks serve
their targets with it too (through ``tests.support.wsgi``), so there is one such server.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

#: Loopback only: what is served here may leak by design (the demo's vulnerable API).
HOST = "127.0.0.1"


class _QuietHandler(WSGIRequestHandler):
    """HTTP/1.1 keep-alive (a new connection per request triples a scan's wall time) and
    no access log (it would bury the output of whoever serves)."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class ThreadedServer:
    """One WSGI app served on a free loopback port by a thread."""

    name: str
    server: BaseWSGIServer
    thread: threading.Thread

    @classmethod
    def start(cls, name: str, app: Any) -> ThreadedServer:
        server = make_server(HOST, 0, app, threaded=True, request_handler=_QuietHandler)
        thread = threading.Thread(
            target=server.serve_forever, name=f"cacheward-serve-{name}", daemon=True
        )
        thread.start()
        return cls(name, server, thread)

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.server.server_port}"

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@contextmanager
def fast_switching() -> Iterator[None]:
    """Server threads and an async client share one GIL; the default 5 ms switch
    interval would dominate every loopback round trip."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
