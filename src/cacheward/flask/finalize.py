"""Deciding on the final response: store it or not, and what caches in front are told.

This runs as a ``request_finished`` subscriber, after everything Flask does to a response:
``after_this_request`` callbacks, every ``after_request`` hook in any registration
order, and the session save. So a ``Set-Cookie``, a changed session, a ``Vary`` line or
a ``Cache-Control`` added late is seen here, and a hook cannot make a response public
(invariants 4 and 5). It is the one place that sets the downstream ``Cache-Control``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response

from ..config import Downstream
from ..core import cachestatus
from ..core.inputs import KeyCoverage, Kind, describe, fix_for, unkeyed_reads
from ..errors import UnkeyedInputError
from .context import Pending, RequestState, request_context_or_none, session_of, state_of
from .response import (
    FINAL,
    STORABLE_STATUS,
    refusal,
    stored_form,
    tell_downstream,
    to_entry,
    vary_names,
)
from .state import State, logger


def finalize(sender: Flask, response: Response, **extra: Any) -> None:
    """The ``request_finished`` subscriber."""
    ctx = request_context_or_none()
    if ctx is None:
        return
    rs = state_of(ctx)
    if rs is None:
        _unmanaged(sender.extensions["cacheward"], ctx.request.environ, response)
        return
    try:
        rs.stop_recording()
        final = response.__dict__.get(FINAL)
        if final is not None:
            headers = response.headers
            if headers.get("Cache-Control") == final and "Set-Cookie" not in headers:
                return  # a hit whose headers no hook touched
        pending, rs.pending = rs.pending, None
        stored = False
        if pending is not None:
            stored = _decide(rs, ctx, pending, response)
        elif rs.detail is not None:
            response.headers["Cache-Status"] = rs.detail
        _tell(rs, response, stored)
    finally:
        rs.release_flight(rs.ward.backend_failed)


def _tell(rs: RequestState, response: Response, stored: bool) -> None:
    state = rs.ward
    route = rs.route
    if rs.principal is None and route is None:
        return
    ttl = route.ttl if route is not None and route.ttl is not None else state.default_ttl
    downstream = state.downstream
    if downstream is Downstream.PER_KEY and not (stored or rs.detail == cachestatus.HIT):
        # Only what the guard itself stored (or served from its store) may be kept by a
        # cache in front, keyed by the credential.
        downstream = Downstream.NO_STORE
    tell_downstream(
        response,
        downstream,
        cached=route is not None,
        ttl=ttl,
        credential_headers=state.credential_headers_of(route),
        vary=route.vary if route is not None else (),
    )


def _unmanaged(state: State, environ: Any, response: Response) -> None:
    """A credential on a route cacheward does not manage: at least keep it private."""
    if (
        state.key_environ in environ or "HTTP_AUTHORIZATION" in environ
    ) and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "private"


def _decide(rs: RequestState, ctx: Any, pending: Pending, response: Response) -> bool:
    """Store ``response`` if everything it read is in its key and it may be stored."""
    state, route = rs.ward, rs.route
    assert route is not None and rs.swap is not None  # noqa: S101 - set with pending
    rec = rs.swap.rec
    if response.status_code not in STORABLE_STATUS:
        # An error (abort(404), a handler's 500) is never stored, whatever it read; in
        # strict mode it must stay the error it is, not become an UnkeyedInputError.
        return _not_stored(state, response, "not-storable")
    if _session_changed(rs, ctx, response):
        response.headers["Cache-Control"] = "no-store"
        return _not_stored(state, response, "session-changed")
    # The after_request hooks run again on every hit: what they read only matters when
    # they changed what would be stored, and not even then if the view's own response
    # is stored instead (a hit then gets the hooks' work done anew, for its own request).
    view = rs.view_print
    final = stored_form(response) if view is not None else None
    changed = view is None or final is None or not view.same(final)
    reads = rec.resolve(after_changed=changed)
    form = None
    coverage = KeyCoverage(dropped_params=pending.dropped, host_keyed=state.host is None)
    if (
        changed
        and view is not None
        and view.status in STORABLE_STATUS
        and not rec.view_state_read
        and unkeyed_reads(reads, route.policy, coverage)
        and not any(r[0] is Kind.UNKNOWN for r in unkeyed_reads(rec.reads, route.policy, coverage))
    ):
        # The hooks read inputs the key lacks, by channels the guard sees, and nothing
        # the view left for them: store the view's response, they redo their work.
        reads = rec.resolve(after_changed=False)
        form = view
    unkeyed = unkeyed_reads(reads, route.policy, coverage)
    if unkeyed:
        state.counters.unkeyed_input += 1
        _not_stored(state, response, "unkeyed-input")
        for read in unkeyed:
            state.warn_once(
                route.name,
                f"{read[0].value}:{read[1]}",
                f"cacheward: not storing {route.name}: it read {describe(read)}, which is not"
                f" in its cache key; {fix_for(read, route.policy)}",
            )
        if state.strict:
            first = unkeyed[0]
            raise UnkeyedInputError(route.name, describe(first), fix_for(first, route.policy))
        return False
    for name in route.policy.vary:
        if not name.startswith(":") and not any(r[1] == name for r in reads):
            logger.debug("cacheward: %s varies on %s but never read it", route.name, name)
    unread = frozenset() if any(r[0] is Kind.COOKIE for r in reads) else frozenset({"cookie"})
    if form is not None:  # what the hooks said they vary on, they do again on each hit
        unread |= vary_names(response) - form.vary
    why = refusal(response, route.policy, state.max_entry_bytes, unread)
    body = b""
    if why is None:
        body = response.get_data() if form is None else form.body
        if len(body) > state.max_entry_bytes:
            why = "a body over CACHEWARD_MAX_ENTRY_BYTES"
    if why is not None:
        logger.debug("cacheward: not storing %s: %s", route.name, why)
        return _not_stored(state, response, "not-storable")
    ttl = route.ttl if route.ttl is not None else state.default_ttl
    key, generation = pending.key, pending.found.generation
    backend = state.backend
    try:  # the backend's clock is the backend's too: its failure means "not stored"
        now = backend.clock()
        entry = to_entry(
            response, body, key.digest, key.scope, ttl, route.tags, generation, now, form
        )
        backend.store(key, entry)
    except Exception as e:  # noqa: BLE001 - any backend failure means "not stored"
        state.backend_failed(e)
        return False
    state.counters.stored += 1
    response.headers["Cache-Status"] = cachestatus.STORED
    return True


def _not_stored(state: State, response: Response, detail: str) -> bool:
    state.counters.not_stored += 1
    response.headers["Cache-Status"] = cachestatus.not_stored(detail)
    return False


def _session_changed(rs: RequestState, ctx: Any, response: Response) -> bool:
    """Count a use of ``flask.session`` since the view returned (by an after_request
    hook) as a read of its cookie; true when the session changed (such a response is
    never stored).

    The view's own use was noted when it returned. What the auth layer read of the
    session before the view ran is authentication, not an input of the response: its
    ``accessed`` mark was set aside when the view started and is put back here, with
    the ``Vary: Cookie`` Flask would have added for it.
    """
    session = session_of(ctx)
    if session is None or ctx.app.session_interface.is_null_session(session):
        return False
    assert rs.swap is not None  # noqa: S101
    if getattr(session, "accessed", False):
        rs.swap.rec.add(Kind.COOKIE, ctx.app.config["SESSION_COOKIE_NAME"])
    elif rs.auth_session_read:
        session.accessed = True
        response.vary.add("Cookie")
    return bool(getattr(session, "modified", False))
