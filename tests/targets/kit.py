"""Shared pieces of the scanner's test targets: keys, principals, a tiny in-app cache.

The targets are deliberately small Flask apps. Keys are a plain dict of API key to
principal (the guard is written in parallel; the fixed twin may switch to it later).
Every JSON body carries a request id and a timestamp, as real APIs do: the scanner must
tell cached from fresh by them and ignore them when comparing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import wraps
from typing import Any

from flask import Response, jsonify, make_response, request

ALICE = "cw_alicealicea1_Zq8Lr2Vx7Nc4Tb1Ke9Wm3Hp6Jd0Gs5Fy2aB93f"
BOB = "bob-live-7f3c9a1e5d2b8c4a6e0f1d3b5a7c9e2f4d6b8a0c"
EVE = "eve-live-0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3"
RAW_KEYS = (ALICE, BOB, EVE)


@dataclass(frozen=True)
class Principal:
    id: str
    scopes: frozenset[str] = field(default_factory=frozenset)


KEYS = {
    ALICE: Principal("alice", frozenset({"read"})),
    BOB: Principal("bob", frozenset({"read"})),
    EVE: Principal("eve", frozenset()),  # valid key, no scope: the --low-key
}


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


def payload(**data: Any) -> dict[str, Any]:
    """A body with the volatile fields every response carries."""
    return {**data, "request_id": uuid.uuid4().hex, "generated_at": now()}


def account(p: Principal) -> dict[str, Any]:
    """A principal's private data (different for every principal)."""
    return payload(principal=p.id, email=f"{p.id}@example.test", iban=f"DE00-{p.id.upper()}-4711")


def current(*, allow_query: bool = False) -> Principal | None:
    key = request.headers.get("X-API-Key")
    if key is None and allow_query:
        key = request.args.get("api_key")
    return KEYS.get(key or "")


def error(status: int, message: str) -> Response:
    resp = jsonify(payload(error=message))
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


def authenticate() -> tuple[Principal | None, Response | None]:
    p = current()
    return (p, None) if p is not None else (None, error(401, "missing or invalid key"))


def authorize(p: Principal, scope: str = "read") -> Response | None:
    return None if scope in p.scopes else error(403, "forbidden")


def private(data: dict[str, Any], cc: str | None = "private, max-age=60") -> Response:
    resp = jsonify(data)
    if cc:
        resp.headers["Cache-Control"] = cc
    return resp


Entry = tuple[int, list[tuple[str, str]], bytes]
View = Callable[..., Any]


class TinyCache:
    """An in-app response cache; *what* it keys on is each target's choice."""

    def __init__(self) -> None:
        self.store: dict[str, Entry] = {}

    def cached(
        self, key: Callable[[], str], *, store: Callable[[Response], bool] | None = None
    ) -> Callable[[View], View]:
        keep = store or (lambda r: r.status_code == 200)

        def deco(view: View) -> View:
            @wraps(view)
            def inner(*args: Any, **kwargs: Any) -> Response:
                k = key()
                hit = self.store.get(k)
                if hit is not None:
                    status, headers, body = hit
                    resp = Response(body, status, headers)
                    resp.headers["X-Cache"] = "HIT"
                    return resp
                resp = make_response(view(*args, **kwargs))
                if keep(resp):
                    self.store[k] = (resp.status_code, list(resp.headers.items()), resp.get_data())
                resp.headers["X-Cache"] = "MISS"
                return resp

            return inner

        return deco


def path_query() -> str:
    """Key on path and raw query: busters bust, credentials are ignored."""
    return f"{request.path}?{request.query_string.decode()}"


def path_query_principal() -> str:
    p = current()
    return f"{path_query()}#{p.id if p else '-'}"


def serve_main(create_app: Callable[[], Any], argv: list[str]) -> None:
    """``python -m targets.vulnerable [PORT]``: serve on 127.0.0.1 only, for demos."""
    from werkzeug.serving import run_simple

    port = int(argv[1]) if len(argv) > 1 else 5000
    run_simple("127.0.0.1", port, create_app(), threaded=True)
