"""The cached-route path, framework-neutral: bypass, key, lookup, single-flight.

Called by a framework adapter (:mod:`cacheward.fastapi`) only after authentication and
authorization set the request's principal; the store decision waits for the final
response (:mod:`cacheward.asgi.middleware`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..backends.base import Lookup
from ..core import cachestatus
from ..core.cachekey import CacheKey, build_cache_key
from ..core.entry import Entry
from ..core.facts import RequestFacts
from ..core.keyparts import principal_parts, vary_values
from ..core.principal import Principal
from ..core.query import parse_query
from ..errors import BadRequestInput, MissingPrincipalError
from ..keys.format import looks_like_key
from .auth import Refusal
from .context import Pending, Recorder, RequestState
from .response import RawHeaders, hit_response
from .state import Route, State


@dataclass(frozen=True)
class Hit:
    """A stored response to answer with."""

    status: int
    headers: RawHeaders
    body: bytes


class _Headers:
    """``get`` over ASGI headers: every value of a repeated header, in order."""

    __slots__ = ("_raw",)

    def __init__(self, raw: RawHeaders) -> None:
        self._raw = raw

    def get(self, key: str, /) -> str | None:
        name = key.lower().encode("latin-1")
        found = [v.decode("latin-1") for k, v in self._raw if k == name]
        if not found:
            return None
        return found[0] if len(found) == 1 else "\0".join(found)


async def before_endpoint(rs: RequestState, route: Route) -> Hit | Refusal | None:
    """A hit or a refusal to answer with, or ``None``: run the endpoint (recording it
    when its response may be stored)."""
    state = rs.ward
    rs.route = route
    principal = rs.principal
    if principal is None:
        state.counters.bypass += 1
        if state.strict:
            raise MissingPrincipalError(route.name)
        state.warn_once(route.name, "principal", str(MissingPrincipalError(route.name)))
        return _bypass(rs, "no principal")
    scope = rs.scope
    method = scope["method"]
    if not state.enabled or (method != "GET" and method != "HEAD"):
        return _bypass(rs, "method" if state.enabled else "disabled")
    raw: RawHeaders = scope["headers"]
    for k, v in raw:
        if (k == b"content-length" and v not in (b"", b"0")) or k == b"transfer-encoding":
            return _bypass(rs, "request body")
    try:
        key, dropped = _key_for(state, route, principal, scope, method)
    except BadRequestInput as e:
        return Refusal(e.code, e.error, e.message)
    found = await _lookup(rs, key, route)
    if found is None:
        return _bypass(rs, "backend unavailable")
    if isinstance(found, Hit):
        return found
    state.counters.misses += 1
    if method == "HEAD":  # a HEAD miss never fills the GET entry
        await rs.release_flight()
        return _bypass(rs, "head miss")
    rec = rs.rec = Recorder(state.credential_names())
    for kind, name in route.declared:
        rec.add(kind, name)
    rs.pending = Pending(key, found, dropped, route)
    return None


async def _lookup(rs: RequestState, key: CacheKey, route: Route) -> Hit | Lookup | None:
    state = rs.ward
    backend = state.backend
    try:
        found = await backend.lookup(key, route.tags)
        if found.entry is not None:
            hit = _hit(rs, route, found.entry, key)
            if hit is not None:
                return hit
            found = Lookup(None, found.generation)
        flight = backend.single_flight(key, state.flight_timeout)
        waited = await flight.__aenter__()
        rs.flight = flight
        if waited:
            found = await backend.lookup(key, route.tags)
            if found.entry is not None:
                hit = _hit(rs, route, found.entry, key)
                if hit is not None:
                    await rs.release_flight()
                    return hit
                found = Lookup(None, found.generation)
    except Exception as e:  # noqa: BLE001 - any backend failure means "no cache"
        state.backend_failed(e)
        await rs.release_flight()
        return None
    return found


def _hit(rs: RequestState, route: Route, entry: Entry, key: CacheKey) -> Hit | None:
    state = rs.ward
    if entry.scope != key.scope:
        state.counters.foreign_entries += 1
        return None
    state.counters.hits += 1
    rs.detail = cachestatus.HIT
    inm = None
    for k, v in rs.scope["headers"]:
        if k == b"if-none-match":
            inm = v.decode("latin-1")
            break
    status, headers, body = hit_response(
        entry, inm, state.backend.clock(), state.hit_headers(route)
    )
    return Hit(status, headers, body)


def _key_for(
    state: State, route: Route, principal: Principal, scope: dict[str, Any], method: str
) -> tuple[CacheKey, frozenset[str]]:
    raw: RawHeaders = scope["headers"]
    headers = _Headers(raw)
    scheme = scope.get("scheme") or "http"
    host = state.host
    if host is None:
        host = headers.get("host")
        if host is None:
            server = scope.get("server") or ("", None)
            host = f"{server[0]}:{server[1]}" if server[1] is not None else str(server[0])
    root = scope.get("root_path") or ""
    path = scope["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    client = scope.get("client")
    remote = client[0] if client else ""
    token = state.scope_token(route.policy.scope, principal)
    vary = route.policy.vary
    memo: tuple[Any, ...] = (
        route, token, principal.tenant, method, scheme, host, root, path, query
    )
    if vary:
        memo += vary_values(vary, remote, headers, principal)
    # A key accepted in the query (allow_query_key) is never memoized nor keyed.
    carries_key = state.allow_query_key and "cw_" in query
    found = None if carries_key else state.keys_memo.get(memo)
    if found is not None:
        return found
    facts = RequestFacts(
        method,
        scheme,
        host,
        path,
        query,
        headers,
        remote,
        prefix=root,
        route=f"{state.app_name}\0{route.key_name or route.name}",
        principal=principal_parts(route.policy, principal),
    )
    pairs = parse_query(query)
    secret_names: frozenset[str] = frozenset()
    if carries_key:
        secret_names = frozenset(n for n, v in pairs if looks_like_key(v))
        pairs = tuple((n, v) for n, v in pairs if n not in secret_names)
    made = build_cache_key(
        facts, pairs, route.policy, token, state.namespace,
        state.reject_duplicate_params,
    )
    if carries_key:
        return made[0], made[1] | secret_names
    state.remember_key(memo, made)
    return made


def endpoint_raised(rs: RequestState) -> None:
    """The endpoint raised: an exception handler makes the response from Starlette's
    own ``Request``, whose reads the guard cannot see, so nothing is stored."""
    if rs.pending is not None:
        rs.pending = None
        _bypass(rs, "exception")


def _bypass(rs: RequestState, why: str) -> Hit | Refusal | None:
    rs.stop_recording()
    rs.detail = cachestatus.bypass(why)
    return None
