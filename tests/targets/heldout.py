"""Reduced twins of what the held-out corpus showed (``benchmarks/scan_corpus.json``).

Each route is a few lines reproducing the mechanism of a third-party lab or
configuration the scanner got wrong, written here from scratch (no third-party code):

``/h/random``
    A public page with a random number in it, as PHP labs print ``mt_rand()``: up to
    ten digits, so it reads as an epoch timestamp to the comparison, nine or fewer
    reads as a word. Behind :class:`StaticCache` its path-confusion variants are
    stored for everyone. It must yield no finding (issue: ``cache-deception-path``
    called a cached copy of it the victim's body, keyed or not).
``/h/account``
    A private page the origin also serves under any suffix and dot-segment it
    resolves, as PHP's ``PATH_INFO`` and a ``<path:extra>`` route do, behind the same
    cache: deception (``cache-deception`` or ``cache-deception-path``). The fixed twin
    routes strictly (404 for anything else).

:class:`StaticCache` plays a proxy that stores every 200 whose path looks static
(``/static/...`` or a static extension), keyed on the path and query only, ignoring
``Cache-Control``, ``Set-Cookie`` and every request header: the nginx ``location ~*
\\.(css|js|...)$`` and "cache static directories" rules the corpus ships.
"""

from __future__ import annotations

import posixpath
import random
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from flask import Flask, Response

from .kit import current

ROUTES: dict[str, tuple[str, ...]] = {
    "/h/account": ("cache-deception", "cache-deception-path"),
}
TRAPS = ("/h/random",)
_STATIC = (".css", ".js", ".png", ".jpg", ".svg", ".ico", ".woff2", ".txt")

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def mt_rand() -> int:
    """What PHP's ``mt_rand()`` returns: 0 to 2**31 - 1, mostly ten digits."""
    return random.randint(0, 2**31 - 1)  # noqa: S311 - a page's decoration, not a secret


def random_page(number: int) -> str:
    return f"<html><h1>Timing lab</h1><p>A random number is: {number}</p></html>"


class StaticCache:
    """Stores any 200 of a static-looking path for everyone (see the module docstring)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.store: dict[str, tuple[str, list[tuple[str, str]], bytes]] = {}

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raw = environ.get("RAW_URI") or environ.get("PATH_INFO", "")
        path = raw.split("?", 1)[0].lower()
        if not (path.startswith("/static/") or path.endswith(_STATIC)):
            return self.app(environ, start_response)
        key = f"{path}?{environ.get('QUERY_STRING', '')}"
        if key in self.store:
            status, headers, body = self.store[key]
            start_response(status, [*headers, ("X-Cache", "HIT")])
            return [body]
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        status, headers = captured["status"], list(captured["headers"])
        if status.startswith("200"):
            self.store[key] = (status, headers, body)
        start_response(status, [*headers, ("X-Cache", "MISS")])
        return [body]


class Resolving:
    """An origin that resolves dot segments and encoded slashes, then serves the first
    route the path starts with (PHP's ``PATH_INFO``: ``/a.php/anything`` is ``a.php``)."""

    def __init__(self, app: Flask, prefixes: tuple[str, ...]) -> None:
        self.app, self.prefixes = app, prefixes

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = posixpath.normpath(unquote(unquote(environ.get("PATH_INFO", "/"))))
        hit = next((p for p in self.prefixes if path == p or path.startswith(p)), None)
        environ = {**environ, "PATH_INFO": hit or path}
        return self.app(environ, start_response)


def create_app(fixed: bool = False, rand: Callable[[], int] = mt_rand) -> WSGIApp:
    app = Flask(__name__)

    @app.get("/h/random")
    def timing() -> Response:
        return Response(random_page(rand()), mimetype="text/html")

    @app.get("/h/account")
    def account() -> Response:
        p = current()
        if p is None:
            return Response("<p>please log in</p>", status=401, mimetype="text/html")
        html = f"<p>Account of {p.id}: {p.id}@example.test, IBAN DE00-{p.id.upper()}-4711</p>"
        return Response(html, mimetype="text/html")

    if fixed:
        return StaticCache(app.wsgi_app)
    return StaticCache(Resolving(app, ("/h/account", "/h/random")))


def create_fixed_app() -> WSGIApp:
    return create_app(fixed=True)
