"""Serving a cached route: authenticate first (done by ``protected``), then look up, then
run the view with its reads recorded, then store only what is safe."""

from __future__ import annotations

import time
from typing import Any

from flask import Request, Response, current_app
from flask.ctx import RequestContext
from flask.globals import _cv_request

from ..backends.base import Lookup
from ..core.cachekey import CacheKey, build_cache_key
from ..core.entry import Entry
from ..core.facts import RequestFacts
from ..core.inputs import KeyCoverage, Kind, describe, fix_for, unkeyed_reads
from ..core.principal import Principal
from ..core.query import parse_query
from ..errors import MalformedHeader, MissingPrincipalError, UnkeyedInputError
from .response import from_entry, refusal, to_entry
from .route import CachedRoute, as_principal
from .state import State, logger
from .tracking import Recorder, tracking
from .window import end_window

# Per-request state lives on the request context (cheaper than ``g``'s proxy).
PRINCIPAL_ATTR = "_cacheward_principal"
STATE_ATTR = "_cacheward_state"
ROUTE_ATTR = "_cacheward_route"
PRE_READS_ATTR = "_cacheward_pre_reads"
#: A longer value of a ``vary`` header is refused (servers stop at about 8 KiB anyway).
MAX_VARY_VALUE = 4096


def serve(route: CachedRoute, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Answer a request to a cached route."""
    ctx = _cv_request.get()
    local = ctx.__dict__
    state: State = local.get(STATE_ATTR) or current_app.extensions["cacheward"]
    pre: Recorder | None = local.get(PRE_READS_ATTR)
    if "_cacheward_window" in local:
        pre = end_window(ctx)
    req = ctx.request
    environ = req.environ
    local[ROUTE_ATTR] = route
    principal: Principal | None = local.get(PRINCIPAL_ATTR)
    if principal is None and route.principal is not None:
        principal = as_principal(route.principal())
        if principal is not None:
            local[PRINCIPAL_ATTR] = principal
    if principal is None:
        state.counters.bypass += 1
        if state.strict:
            raise MissingPrincipalError(route.name)
        state.warn_once(route.name, "principal", str(MissingPrincipalError(route.name)))
        return _bypass(route, args, kwargs, "no principal")
    method = environ["REQUEST_METHOD"]
    if not state.enabled or (method != "GET" and method != "HEAD"):
        return _bypass(route, args, kwargs, "method" if state.enabled else "disabled")
    if environ.get("CONTENT_LENGTH") not in (None, "", "0") or "HTTP_TRANSFER_ENCODING" in environ:
        # A GET with a body (fat GET): its body is never in the key.
        return _bypass(route, args, kwargs, "request body")

    key, dropped = _key_for(state, route, principal, req, environ, method)
    backend = state.backend
    try:
        found = backend.lookup(key, route.tags)
    except Exception as e:  # noqa: BLE001 - any backend failure means "no cache"
        _backend_failed(state, e)
        return _bypass(route, args, kwargs, "backend unavailable")
    if found.entry is not None:
        if found.entry.scope == key.scope:
            return _hit(state, route, found.entry, environ)
        # Defence in depth: an entry of another scope under this key is never served.
        state.counters.foreign_entries += 1
        found = Lookup(None, found.generation)

    try:
        flight = backend.single_flight(key, state.flight_timeout)
        waited = flight.__enter__()
    except Exception as e:  # noqa: BLE001
        _backend_failed(state, e)
        return _bypass(route, args, kwargs, "backend unavailable")
    try:
        again = found
        if waited:  # someone else computed it meanwhile: look again
            try:
                again = backend.lookup(key, route.tags)
            except Exception as e:  # noqa: BLE001
                _backend_failed(state, e)
                return _bypass(route, args, kwargs, "backend unavailable")
        if again.entry is not None and again.entry.scope == key.scope:
            return _hit(state, route, again.entry, environ)
        state.counters.misses += 1
        rec = Recorder(state.key_header, environ)
        if pre is not None:
            rec.reads |= pre.reads
        with tracking(ctx, rec):
            rv = route.view(*args, **kwargs)
            response = current_app.make_response(rv)
        if _session_changed(ctx, rec):
            state.counters.not_stored += 1
            response.headers["Cache-Status"] = "cacheward; fwd=miss; detail=session-changed"
            return response
        _maybe_store(state, route, key, again.generation, response, rec, dropped)
        return response
    finally:
        try:
            flight.__exit__(None, None, None)
        except Exception as e:  # noqa: BLE001
            _backend_failed(state, e)


def _hit(state: State, route: CachedRoute, entry: Entry, environ: dict[str, Any]) -> Response:
    state.counters.hits += 1
    return from_entry(
        entry, environ.get("HTTP_IF_NONE_MATCH"), time.time(), state.hit_headers(route)
    )


def _session_changed(ctx: RequestContext, rec: Recorder) -> bool:
    """Count a read of ``flask.session`` as a read of its cookie; true when the view
    changed the session (Flask adds its ``Set-Cookie`` after every hook, too late for
    the storage rules to see, so such a response is never stored).

    The session is opened from its cookie before any view runs, so the recording proxies
    never see it; Flask itself marks it ``accessed`` on every read.
    """
    session = ctx._session
    if session is None or ctx.app.session_interface.is_null_session(session):
        return False
    if getattr(session, "accessed", False):
        rec.add(Kind.COOKIE, ctx.app.config["SESSION_COOKIE_NAME"])
    return bool(getattr(session, "modified", False))


def _key_for(
    state: State,
    route: CachedRoute,
    principal: Principal,
    req: Request,
    environ: dict[str, Any],
    method: str,
) -> tuple[CacheKey, frozenset[str]]:
    """The request's cache key, memoized on the raw inputs it is a pure function of.

    :raises MalformedQuery: a query the key cannot be built from (never memoized).
    """
    orig = environ.get("werkzeug.proxy_fix.orig") or environ
    scheme = orig.get("wsgi.url_scheme") or "http"
    host = state.host or orig.get("HTTP_HOST") or f"{orig['SERVER_NAME']}:{orig['SERVER_PORT']}"
    script = orig.get("SCRIPT_NAME") or ""
    query = environ.get("QUERY_STRING", "")
    remote = orig.get("REMOTE_ADDR") or ""
    scope = state.scope_token(route.policy.scope, principal)
    vary = route.policy.vary
    headers = req.headers
    memo: tuple[Any, ...] = (
        route,
        scope,
        method,
        scheme,
        host,
        script,
        environ.get("PATH_INFO"),
        query,
    )
    if vary:
        values = tuple(remote if v == ":remote-addr" else headers.get(v) for v in vary)
        if any(v is not None and len(v) > MAX_VARY_VALUE for v in values):
            raise MalformedHeader(f"a header this route varies on is over {MAX_VARY_VALUE} bytes")
        memo += values
    found = state.keys_memo.get(memo)
    if found is not None:
        return found
    facts = RequestFacts(method, scheme, host, script + req.path, query, headers, remote)
    made = build_cache_key(
        facts,
        parse_query(query),
        route.policy,
        scope,
        state.namespace,
        state.reject_duplicate_params,
    )
    state.remember_key(memo, made)
    return made


def _maybe_store(
    state: State,
    route: CachedRoute,
    key: CacheKey,
    generation: tuple[int, ...],
    response: Response,
    rec: Recorder,
    dropped: frozenset[str],
) -> None:
    coverage = KeyCoverage(dropped_params=dropped, host_keyed=state.host is None)
    unkeyed = unkeyed_reads(rec.reads, route.policy, coverage)
    if unkeyed:
        state.counters.unkeyed_input += 1
        state.counters.not_stored += 1
        response.headers["Cache-Status"] = "cacheward; fwd=miss; detail=unkeyed-input"
        first = unkeyed[0]
        error = UnkeyedInputError(route.name, describe(first), fix_for(first, route.policy))
        for read in unkeyed:
            state.warn_once(
                route.name,
                f"{read[0].value}:{read[1]}",
                f"cacheward: not storing {route.name}: it read {describe(read)}, which is not"
                f" in its cache key; {fix_for(read, route.policy)}",
            )
        if state.strict:
            raise error
        return
    for name in route.policy.vary:
        if name.startswith(":"):
            continue
        if not any(r[1] == name for r in rec.reads):
            logger.debug("cacheward: %s varies on %s but never read it", route.name, name)
    why = refusal(response, route.policy, state.max_entry_bytes)
    if why is not None:
        state.counters.not_stored += 1
        response.headers["Cache-Status"] = "cacheward; fwd=miss; detail=not-storable"
        logger.debug("cacheward: not storing %s: %s", route.name, why)
        return
    ttl = route.ttl if route.ttl is not None else state.default_ttl
    entry = to_entry(response, key.digest, key.scope, ttl, route.tags, generation)
    try:
        state.backend.store(key, entry)
    except Exception as e:  # noqa: BLE001
        _backend_failed(state, e)
        return
    state.counters.stored += 1
    response.headers["Cache-Status"] = "cacheward; fwd=miss; stored"


def _bypass(route: CachedRoute, args: tuple[Any, ...], kwargs: dict[str, Any], why: str) -> Any:
    response = current_app.make_response(route.view(*args, **kwargs))
    response.headers["Cache-Status"] = f"cacheward; fwd=bypass; detail={why.replace(' ', '-')}"
    return response


def _backend_failed(state: State, error: Exception) -> None:
    state.counters.backend_errors += 1
    state.warn_once(
        "*",
        f"backend:{type(error).__name__}",
        f"cacheward: cache backend failed ({type(error).__name__}); serving uncached",
    )
