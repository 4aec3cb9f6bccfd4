"""Hostile input: an echoing guarded app, raw WSGI environs, and Werkzeug's own parse.

The test client normalizes what it sends (it percent-encodes the path, refuses NUL
bytes in headers, re-encodes the query). A server on the wire does not, so these
helpers build the WSGI environ by hand: ``PATH_INFO``, ``QUERY_STRING`` and headers are
the latin-1 text of whatever bytes a client put on the wire, exactly as PEP 3333 says.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, got_request_exception, jsonify, request
from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Request

from cacheward import Cacheward, current_principal
from cacheward.backends.base import Backend
from cacheward.backends.memory import MemoryBackend
from cacheward.core.cachekey import build_cache_key
from cacheward.core.facts import RequestFacts
from cacheward.core.policy import KeyPolicy
from cacheward.core.query import parse_query
from cacheward.errors import MalformedQuery
from cacheward.keys import MemoryKeyStore
from cacheward.keys.store import KeyStore

SECRET = "hostile-secret-0123456789abcdef"
#: Every parameter is keyed: what the view echoes is exactly what the key holds.
ALL_PARAMS = KeyPolicy(ignored_params=frozenset(), ignored_prefixes=())


@dataclass
class Hostile:
    """A guarded app whose cached views echo what Werkzeug parsed, and what it raised."""

    app: Flask
    ward: Cacheward
    backend: Backend
    keys: KeyStore
    alice: str
    bob: str
    revoked: str
    exceptions: list[BaseException] = field(default_factory=list)

    def call(
        self,
        path: bytes = b"/echo",
        query: bytes = b"",
        headers: Iterable[tuple[str, bytes]] = (),
        method: str = "GET",
        key: str | None = "alice",
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one raw request; ``key`` names a principal whose key goes in X-API-Key."""
        sent = list(headers)
        if key is not None:
            sent.insert(0, ("X-API-Key", getattr(self, key).encode("ascii")))
        environ = raw_environ(path, query, sent, method)
        app_iter, status, response_headers = run_wsgi_app(self.app, environ, buffered=True)
        body = b"".join(app_iter)
        return int(status.split(" ", 1)[0]), dict(response_headers), body


_CONTROL = Flask("control")
_CONTROL.add_url_rule("/echo", "echo", lambda rest="": "x")
_CONTROL.add_url_rule("/echo/<path:rest>", "echo_rest", lambda rest="": "x")
for _path in ("/tracked", "/lang"):
    _CONTROL.add_url_rule(_path, _path, lambda: "x")
_CONTROL.logger.disabled = True  # its 500s are expected; the guard's are not


def werkzeug_fails_too(
    path: bytes, query: bytes = b"", headers: Iterable[tuple[str, bytes]] = ()
) -> bool:
    """Whether the same raw request makes a plain, unguarded Flask app answer 500.

    Werkzeug's router answers a path with ``//`` with a redirect whose ``Location``
    carries the raw query; a raw newline there (which no HTTP/1.1 server passes on) makes
    Werkzeug raise. Such a 500 is not the guard's.
    """
    _, status, _ = run_wsgi_app(_CONTROL, raw_environ(path, query, headers), buffered=True)
    return status.startswith("500")


def make_hostile(
    *,
    reject_duplicates: bool = True,
    strict: bool = False,
    backend: Backend | None = None,
    keys: KeyStore | None = None,
) -> Hostile:
    """The app under attack: production-like (not TESTING, so an escaped exception is
    a 500 rather than a traceback in the test), with a memory backend we can inspect."""
    app = Flask("hostile")
    app.config.update(
        CACHEWARD_SECRET=SECRET,
        CACHEWARD_STRICT=strict,
        CACHEWARD_REJECT_DUPLICATE_PARAMS=reject_duplicates,
    )
    backend = backend if backend is not None else MemoryBackend()
    store = keys if keys is not None else MemoryKeyStore()
    ward = Cacheward(app, keys=store, backend=backend)
    alice = store.create("alice", ["read"]).plaintext
    bob = store.create("bob", ["read"]).plaintext
    revoked_key = store.create("mallory", ["read"])
    store.revoke(revoked_key.id)
    hostile = Hostile(app, ward, backend, store, alice, bob, revoked_key.plaintext)

    def echo(rest: str = "") -> Any:
        return jsonify(
            principal=current_principal.id,
            path=request.path,
            args=request.args.to_dict(flat=False),
        )

    cached_echo = ward.protected("read")(ward.cached(ttl=60, ignore_params=())(echo))
    app.add_url_rule("/echo", "echo", cached_echo)
    app.add_url_rule("/echo/<path:rest>", "echo_rest", cached_echo)

    @app.get("/tracked")
    @ward.protected("read")
    @ward.cached(ttl=60)
    def tracked() -> Any:
        # Default policy: utm_* and friends are dropped from the key, so reading every
        # parameter must refuse to store when one of them is present.
        return jsonify(args=request.args.to_dict(flat=False))

    @app.get("/lang")
    @ward.protected("read")
    @ward.cached(ttl=60, scope="shared", vary=["Accept-Language"])
    def lang() -> Any:
        return jsonify(lang=request.headers.get("Accept-Language"))

    def record(sender: object, exception: BaseException, **extra: object) -> None:
        hostile.exceptions.append(exception)

    got_request_exception.connect(record, app, weak=False)
    return hostile


def raw_environ(
    path: bytes, query: bytes, headers: Iterable[tuple[str, bytes]], method: str = "GET"
) -> dict[str, Any]:
    """A WSGI environ carrying raw bytes; repeated headers are merged with ``", "`` as a
    server does (PEP 3333, RFC 9110 section 5.3)."""
    environ = EnvironBuilder(method=method, path="/").get_environ()
    environ["PATH_INFO"] = path.decode("latin-1")
    environ["QUERY_STRING"] = query.decode("latin-1")
    uri = path + (b"?" + query if query else b"")
    environ["REQUEST_URI"] = environ["RAW_URI"] = uri.decode("latin-1")
    for name, value in headers:
        if name.lower() == "content-length":
            wsgi_name = "CONTENT_LENGTH"
        elif name.lower() == "content-type":
            wsgi_name = "CONTENT_TYPE"
        else:
            wsgi_name = "HTTP_" + name.upper().replace("-", "_")
        text = value.decode("latin-1")
        if wsgi_name in environ and wsgi_name.startswith("HTTP_"):
            environ[wsgi_name] += ", " + text
        else:
            environ[wsgi_name] = text
    return environ


def werkzeug_args(query: bytes) -> dict[str, list[str]] | None:
    """What ``request.args`` is for ``query``, or ``None`` when Werkzeug itself fails."""
    environ = raw_environ(b"/", query, ())
    try:
        return Request(environ).args.to_dict(flat=False)
    except UnicodeDecodeError:
        return None


def kept_args(query: bytes) -> dict[str, list[str]] | None:
    """``werkzeug_args`` without the parameters every key drops (credential parameters:
    a view that reads one is never stored, which the end-to-end tests check)."""
    args = werkzeug_args(query)
    if args is None:
        return None
    return {k: v for k, v in args.items() if ALL_PARAMS.keeps_param(k)}


def core_key(query: bytes, *, reject_duplicates: bool = True, path: str = "/echo") -> str | None:
    """cacheward's cache-key digest for ``query`` (``None`` when it refuses the query)."""
    facts = RequestFacts("GET", "http", "localhost", path, query.decode("latin-1"), {})
    try:
        pairs = parse_query(facts.query_string)
        key, _ = build_cache_key(
            facts, pairs, ALL_PARAMS, "principal:x", reject_duplicates=reject_duplicates
        )
    except MalformedQuery:
        return None
    return key.digest


def body_json(body: bytes) -> Any:
    return json.loads(body)
