"""The pieces of cacheward's hit path, each called alone under callgrind.

``python -m benchmarks.profile --callgrind [N]`` runs this under valgrind and prints the
instructions of one call of each piece (the loop subtracted), so that an optimisation can
be judged by the instructions it removes. Not a benchmark on its own: the phases are
split by ``os.getppid()`` as in :mod:`benchmarks.cg_worker`.
"""

from __future__ import annotations

import gc
import hashlib
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g
from flask.globals import _cv_app

from cacheward.core.cachekey import build_cache_key
from cacheward.core.facts import RequestFacts
from cacheward.core.query import parse_query
from cacheward.core.secret import constant_time_equal
from cacheward.flask.auth import authenticate, credential_from
from cacheward.flask.context import ensure_state
from cacheward.flask.finalize import finalize
from cacheward.flask.response import from_entry
from cacheward.flask.route import CACHED_MARK
from cacheward.flask.serve import serve
from cacheward.keys import format as key_format
from cacheward.keys.store import secret_digest

from .apps import API_KEY, make_bench

Piece = tuple[str, Callable[[], Any]]


def pieces() -> list[tuple[Any, list[Piece]]]:
    """Every piece, with the request context (of variant d, or c) it runs in."""
    bench = make_bench("d", warm=50)
    app = bench.app
    state = app.extensions["cacheward"]
    environ = dict(bench.environ)
    d_ctx = app.request_context(environ)
    d_ctx.push()
    from flask import request

    view = app.view_functions["items"]
    route = getattr(view, CACHED_MARK)
    view()  # sets the context's principal and route, as a request does
    principal = ensure_state(d_ctx).principal
    assert principal is not None
    policy = route.policy
    token = state.scope_token(policy.scope, principal)

    req = request._get_current_object()  # serve() uses the real request, not the proxy

    def facts() -> RequestFacts:
        return RequestFacts(
            method="GET",
            scheme="http",
            host=environ["HTTP_HOST"],
            path=req.path,
            query_string="",
            headers=req.headers,
            remote_addr=environ.get("REMOTE_ADDR") or "",
        )

    f = facts()
    key, _ = build_cache_key(f, (), policy, token, state.namespace)
    entry = state.backend.lookup(key, route.tags).entry
    assert entry is not None
    extra = state.hit_headers(route)
    response = from_entry(entry, None, time.time(), extra)

    def after() -> Any:
        ensure_state(d_ctx).route = route
        served = from_entry(entry, None, time.time(), extra)
        finalize(app, served)
        return served

    keys = {API_KEY: "alice"}
    parsed = key_format.parse(API_KEY)
    assert parsed is not None
    record = state.keys._get(parsed.id)
    secret = parsed.secret
    served = from_entry(entry, None, time.time(), extra)
    parts = key.parts

    def one_headers() -> Response:
        # Candidate: every hit header in one list, one Headers build, no copy.
        return Response(
            entry.body,
            status=entry.status,
            headers=[
                *entry.headers,
                ("Age", str(max(0, int(time.time() - entry.created)))),
                ("Cache-Status", "cacheward; hit"),
                ("Cache-Control", "private, no-cache"),
            ],
        )

    def one_shot_hash() -> Any:
        # Candidate: one length-prefixed string, one encode, one BLAKE2b call.
        data = "".join(f"{len(n)}:{n}{len(v)}:{v}" for n, v in parts)
        return hashlib.blake2b(data.encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()

    def digest_compare() -> bool:
        return constant_time_equal(secret_digest(secret), record.digest)

    d_pieces: list[Piece] = [
        ("(d) protected wrapper: auth + serve, whole view call", view),
        ("serve(), hit (principal already set)", lambda: serve(route, (), {})),
        ("authenticate()", lambda: authenticate(state, environ)),
        ("credential_from()", lambda: credential_from(environ, state)),
        ("keys.verify()", lambda: state.keys.verify(API_KEY)),
        ("key_format.parse()", lambda: key_format.parse(API_KEY)),
        ("RequestFacts(...) as serve builds it", facts),
        ("parse_query('')", lambda: parse_query("")),
        ("state.scope_token() (memoized)", lambda: state.scope_token(policy.scope, principal)),
        ("build_cache_key()", lambda: build_cache_key(f, (), policy, token, state.namespace)),
        ("backend.lookup() (memory)", lambda: state.backend.lookup(key, route.tags)),
        ("from_entry()", lambda: from_entry(entry, None, time.time(), extra)),
        ("from_entry() + finalize()", after),
        ("finalize() on a served response", lambda: finalize(app, response)),
        ("(b) dict lookup of X-API-Key", lambda: keys.get(request.headers.get("X-API-Key", ""))),
        ("candidate: hit Response with every header in one list", one_headers),
        ("candidate: key hash in one BLAKE2b call over the same parts", one_shot_hash),
        (
            "current_app.extensions['cacheward'] (LocalProxy)",
            lambda: current_app.extensions["cacheward"],
        ),
        (
            "_cv_app.get().app.extensions['cacheward']",
            lambda: _cv_app.get().app.extensions["cacheward"],
        ),
        ("g.get(attr) (LocalProxy)", lambda: g.get("_cacheward")),
        ("_cv_app.get().g.get(attr)", lambda: _cv_app.get().g.get("_cacheward")),
        ("response.cache_control (parses the header)", lambda: served.cache_control),
        ("'Set-Cookie' in response.headers", lambda: "Set-Cookie" in served.headers),
        ("record.principal() (frozen dataclass)", record.principal),
        ("sha256 hexdigest + constant_time_equal", digest_compare),
        ("Response(entry.body) alone", lambda: Response(entry.body)),
    ]
    d_ctx.pop()
    c = make_bench("c", warm=5)
    c_ctx = c.app.request_context(dict(c.environ))
    c_pieces: list[Piece] = [
        ("(c) Flask-Caching cached view call, hit", c.app.view_functions["items"])
    ]
    return [(d_ctx, d_pieces), (c_ctx, c_pieces)]


LABELS = [
    "(d) protected wrapper: auth + serve, whole view call",
    "serve(), hit (principal already set)",
    "authenticate()",
    "credential_from()",
    "keys.verify()",
    "key_format.parse()",
    "RequestFacts(...) as serve builds it",
    "parse_query('')",
    "state.scope_token() (memoized)",
    "build_cache_key()",
    "backend.lookup() (memory)",
    "from_entry()",
    "from_entry() + finalize()",
    "finalize() on a served response",
    "(b) dict lookup of X-API-Key",
    "candidate: hit Response with every header in one list",
    "candidate: key hash in one BLAKE2b call over the same parts",
    "current_app.extensions['cacheward'] (LocalProxy)",
    "_cv_app.get().app.extensions['cacheward']",
    "g.get(attr) (LocalProxy)",
    "_cv_app.get().g.get(attr)",
    "response.cache_control (parses the header)",
    "'Set-Cookie' in response.headers",
    "record.principal() (frozen dataclass)",
    "sha256 hexdigest + constant_time_equal",
    "Response(entry.body) alone",
    "(c) Flask-Caching cached view call, hit",
]


def main(argv: list[str]) -> None:
    n = int(argv[0])
    groups = pieces()
    assert [name for _, calls in groups for name, _ in calls] == LABELS

    def nothing() -> None:
        return None

    for ctx, calls in groups:  # warm every piece
        ctx.push()
        for _, fn in calls:
            for _ in range(20):
                fn()
        ctx.pop()
    # Attribution wants each piece's own work: no collection of the start-up heap
    # landing in one piece's phase.
    gc.collect()
    gc.freeze()
    gc.disable()
    os.getppid()
    for ctx, calls in groups:
        ctx.push()
        for _, fn in calls:
            for _ in range(n):
                fn()
            os.getppid()
            for _ in range(n):
                nothing()
            os.getppid()
        ctx.pop()


if __name__ == "__main__":
    main(sys.argv[1:])
