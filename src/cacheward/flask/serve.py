"""Serving a cached route: principal, bypass, key, lookup, compute; storing waits for the
final response (:mod:`cacheward.flask.finalize`)."""

from __future__ import annotations

import functools
from typing import Any

from flask import Request, Response, after_this_request
from flask.ctx import RequestContext
from flask.signals import request_started

from ..backends.base import Lookup
from ..core import cachestatus
from ..core.cachekey import CacheKey, build_cache_key
from ..core.entry import Entry
from ..core.facts import RequestFacts
from ..core.inputs import Kind
from ..core.keyparts import principal_parts, vary_values
from ..core.principal import Principal
from ..core.query import parse_query
from ..errors import BadRequestInput, MissingPrincipalError
from .context import Pending, RequestState, ensure_state, request_context, session_of
from .errors import bad_input_response
from .recorder import Recorder
from .response import from_entry, stored_form
from .route import CachedRoute, as_principal
from .state import State
from .tracking import Swap


def serve(route: CachedRoute, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Answer a request to a cached route."""
    ctx = request_context()
    rs = ensure_state(ctx)
    state = rs.ward
    rs.route = route
    principal = rs.principal
    if principal is None and route.principal is not None:
        principal = rs.principal = _from_source(rs, route)
    if principal is None:
        state.counters.bypass += 1
        if route.principal is not None:  # principal= said "nobody": served, not cached
            return _bypass(rs, route, args, kwargs, "no principal")
        if state.strict:
            raise MissingPrincipalError(route.name)
        state.warn_once(route.name, "principal", str(MissingPrincipalError(route.name)))
        return _bypass(rs, route, args, kwargs, "no principal")
    if route.unless is not None and _unless(rs, route):
        return _bypass(rs, route, args, kwargs, "unless")
    req = rs.real_request(ctx)
    environ = req.environ
    method = environ["REQUEST_METHOD"]
    if not state.enabled or (method != "GET" and method != "HEAD"):
        return _bypass(rs, route, args, kwargs, "method" if state.enabled else "disabled")
    if environ.get("CONTENT_LENGTH") not in (None, "", "0") or "HTTP_TRANSFER_ENCODING" in environ:
        # A GET with a body (fat GET): its body is never in the key.
        return _bypass(rs, route, args, kwargs, "request body")
    try:
        key, dropped = _key_for(state, route, principal, ctx, req, method)
    except BadRequestInput as e:  # answered here, whatever error handling wraps the view
        rs.stop_recording()
        return bad_input_response(e)
    found = _lookup(rs, key, route)
    if found is None:
        return _bypass(rs, route, args, kwargs, "backend unavailable")
    if isinstance(found, Response):
        return found
    state.counters.misses += 1
    if method == "HEAD":  # a HEAD miss never fills the GET entry
        rs.release_flight(state.backend_failed)
        return _bypass(rs, route, args, kwargs, "head miss")
    _record(rs, ctx, req, state)
    rs.pending = Pending(key, found, dropped)
    returned = route.call(*args, **kwargs)
    if state.hooks_after(ctx.app, req) or _has_session(ctx):
        # Runs before every after_request hook (and after the view's own callbacks) and
        # before the session save, whose own reads of the session are no input.
        after_this_request(functools.partial(_view_done, rs, ctx))
    return returned


def _has_session(ctx: RequestContext) -> bool:
    session = session_of(ctx)
    return session is not None and not ctx.app.session_interface.is_null_session(session)


def _view_done(rs: RequestState, ctx: RequestContext, response: Response) -> Response:
    """The view's response, before the after_request hooks: note what it would store and
    whether the view used the session; reads from now on are the hooks'."""
    swap = rs.swap
    if swap is None or not swap.active or rs.pending is None:
        return response
    session = session_of(ctx)
    if session is not None and getattr(session, "accessed", False):
        swap.rec.add(Kind.COOKIE, ctx.app.config["SESSION_COOKIE_NAME"])
        session.accessed = False
        rs.auth_session_read = True  # Vary: Cookie is added back at the end
    rs.view_print = stored_form(response)
    swap.rec.view_done()
    return response


def _lookup(rs: RequestState, key: CacheKey, route: CachedRoute) -> Response | Lookup | None:
    """A hit's response; else the miss's lookup with the single-flight lock held (in
    ``rs.flight`` until the request ends); ``None`` when the backend failed."""
    state = rs.ward
    backend = state.backend
    try:
        found = backend.lookup(key, route.tags)
        if found.entry is not None:
            hit = _hit(rs, route, found.entry, key)
            if hit is not None:
                return hit
            found = Lookup(None, found.generation)
        flight = backend.single_flight(key, state.flight_timeout)
        waited = flight.__enter__()
        rs.flight = flight
        if waited:  # someone else computed it meanwhile: look again
            found = backend.lookup(key, route.tags)
            if found.entry is not None:
                hit = _hit(rs, route, found.entry, key)
                if hit is not None:
                    rs.release_flight(state.backend_failed)
                    return hit
                found = Lookup(None, found.generation)
    except Exception as e:  # noqa: BLE001 - any backend failure means "no cache"
        state.backend_failed(e)
        rs.release_flight(state.backend_failed)
        return None
    return found


def _hit(rs: RequestState, route: CachedRoute, entry: Entry, key: CacheKey) -> Response | None:
    state = rs.ward
    if entry.scope != key.scope:
        # Defence in depth: an entry of another scope under this key is never served.
        state.counters.foreign_entries += 1
        return None
    state.counters.hits += 1
    rs.stop_recording()
    rs.detail = cachestatus.HIT
    environ = rs.real_request(request_context()).environ
    return from_entry(
        entry, environ.get("HTTP_IF_NONE_MATCH"), state.backend.clock(), state.hit_headers(route)
    )


def _record(rs: RequestState, ctx: RequestContext, req: Request, state: State) -> None:
    """Record what the view (and every hook after it) reads."""
    swap = rs.swap
    if swap is None:
        swap = rs.swap = Swap(ctx, Recorder(state.credential_headers_of(rs.route), req.environ))
        if request_started.receivers or state.hooks_before(ctx.app, req):
            # Hooks ran before the view without being recorded (a dispatch the window
            # did not recognise): whatever they read is unknown, so nothing is stored.
            swap.rec.unknown("hooks that ran before the view, unrecorded")
    elif swap.hooks_marked:
        # What the auth layer (between the hooks and here) read authenticated the
        # caller: not an input; what it produced is the principal when read.
        swap.rec.reads = set()
    else:  # the end of the hooks was not seen: everything before the view counts
        swap.rec.forget_credential()
    if state.host is not None and state.routes_on_host(ctx.app, req):
        swap.rec.add(Kind.HOST)  # routing chose the view by the host the key fixes
    session = session_of(ctx)
    if session is not None and getattr(session, "accessed", False):
        rs.auth_session_read = True  # by the auth layer: set aside until the end
        session.accessed = False
    swap.track_g()


def _from_source(rs: RequestState, route: CachedRoute) -> Principal | None:
    """Ask ``principal=``; what it reads to authenticate is not an input of the response."""
    rec = rs.rec
    before = set(rec.reads) if rec is not None else None
    try:
        return as_principal(route.principal() if route.principal is not None else None)
    finally:
        if rec is not None and before is not None:
            rec.reads = before


def _unless(rs: RequestState, route: CachedRoute) -> bool:
    """Ask ``unless=``; it decides whether to use the cache, not what the response holds,
    so what it reads is not an input of the response (like ``principal=``)."""
    rec = rs.rec
    before = set(rec.reads) if rec is not None else None
    try:
        return bool(route.unless() if route.unless is not None else False)
    finally:
        if rec is not None and before is not None:
            rec.reads = before


def _key_for(
    state: State,
    route: CachedRoute,
    principal: Principal,
    ctx: RequestContext,
    req: Request,
    method: str,
) -> tuple[CacheKey, frozenset[str]]:
    """The request's cache key, memoized on the raw inputs it is a pure function of.

    :raises MalformedQuery: a query the key cannot be built from (never memoized).
    """
    environ = req.environ
    orig = environ.get("werkzeug.proxy_fix.orig") or environ
    scheme = orig.get("wsgi.url_scheme") or "http"
    host = state.host or orig.get("HTTP_HOST") or f"{orig['SERVER_NAME']}:{orig['SERVER_PORT']}"
    script = orig.get("SCRIPT_NAME") or ""
    query = environ.get("QUERY_STRING", "")
    remote = orig.get("REMOTE_ADDR") or ""
    scope = state.scope_token(route.policy.scope, principal)
    vary = route.policy.vary
    headers = req.headers
    rule = req.url_rule
    endpoint = rule.endpoint if rule is not None else ""
    memo: tuple[Any, ...] = (
        route,
        endpoint,
        scope,
        principal.tenant,
        method,
        scheme,
        host,
        script,
        environ.get("PATH_INFO"),
        query,
    )
    if vary:
        memo += vary_values(vary, remote, headers, principal)
    found = state.keys_memo.get(memo)
    if found is not None:
        return found
    made = _build_key(state, route, principal, req, memo, remote)
    state.remember_key(memo, made)
    return made


def _build_key(
    state: State,
    route: CachedRoute,
    principal: Principal,
    req: Request,
    memo: tuple[Any, ...],
    remote: str,
) -> tuple[CacheKey, frozenset[str]]:
    """Build the key from the raw inputs ``memo`` holds (:func:`_key_for`'s order); only
    on a memo miss, so the hit path never comes here."""
    _, endpoint, scope, _, method, scheme, host, script, _, query = memo[:10]
    facts = RequestFacts(
        method,
        scheme,
        host,
        req.path,
        query,
        req.headers,
        remote,
        prefix=script,
        route=f"{state.app_name}\0{endpoint}\0{route.name}",
        principal=principal_parts(route.policy, principal),
    )
    return build_cache_key(
        facts,
        parse_query(query),
        route.policy,
        scope,
        state.namespace,
        state.reject_duplicate_params,
    )


def _bypass(
    rs: RequestState, route: CachedRoute, args: tuple[Any, ...], kwargs: dict[str, Any], why: str
) -> Any:
    rs.stop_recording()
    rs.detail = cachestatus.bypass(why)
    return route.call(*args, **kwargs)
