"""The ASGI boundary: where the store decision and ``Cache-Control`` are made.

:class:`CachewardMiddleware` wraps the whole application (outside Starlette's own error
middleware and every user middleware), so it sees the response exactly as the server
will send it: the final status and every header any middleware added (a ``Set-Cookie``,
a ``Vary``, a ``Cache-Control: public``). What a miss stores is not this response but
the route's own, captured inside every user middleware (:mod:`cacheward.asgi.capture`)
and complete before this ``http.response.start`` arrives; the start message alone
decides whether it is stored, and gets the downstream headers (invariants 4 and 5).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import copy_context
from typing import Any

from ..core import cachestatus
from ..core.downstream import Downstream
from ..core.inputs import KeyCoverage, describe, fix_for, unkeyed_reads
from ..core.storable import STORABLE_STATUS
from ..errors import UnkeyedInputError
from .context import Pending, RequestState, current
from .response import RawHeaders, add_vary, final_refusal, tell_downstream
from .state import State, logger

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class CachewardMiddleware:
    """Pure ASGI middleware; :class:`cacheward.fastapi.Cacheward` installs it."""

    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":  # what every request's context starts from
                self.state.context_baseline = copy_context()
            await self.app(scope, receive, send)
            return
        rs = RequestState(self.state, scope)  # type: ignore[arg-type]
        if self.state.context_baseline is None:
            rs.entered = copy_context()
        token = current.set(rs)

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                # The body does not decide: what is stored is the route's own response,
                # complete before this start (see cacheward.asgi.capture).
                await self._final(rs, message)
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            current.reset(token)
            await rs.release_flight()

    async def _final(self, rs: RequestState, start: Message) -> None:
        headers: RawHeaders = list(start.get("headers") or ())
        start["headers"] = headers
        status: int = start["status"]
        route = rs.route
        state = rs.ward
        if rs.detail == cachestatus.HIT and route is not None:
            told = state.hit_headers(route)[0]
            controls, kept, cookie = 0, False, False
            for pair in headers:  # one pass: the hit path
                name = pair[0]
                if name == b"cache-control":
                    controls += 1
                    kept = kept or pair == told
                elif name == b"set-cookie":
                    cookie = True
            if not kept or controls != 1:
                # A middleware changed what the hit tells caches in front: say it again.
                ttl = route.ttl if route.ttl is not None else state.default_ttl
                tell_downstream(
                    status, headers, state.downstream, True, ttl,
                    state.credential_names(), route.vary,
                )
            if cookie:
                tell_downstream(status, headers, Downstream.NO_STORE, False, 0, (), ())
            return
        if rs.extra.get("refused"):  # the guard's own 4xx/503: nothing may keep it
            tell_downstream(status, headers, Downstream.NO_STORE, False, 0, (), ())
            if state.downstream is Downstream.PER_KEY and status != 400:
                # As the Flask guard: a cache keyed by the credential keeps a 401/403
                # apart from every key's own copy (a malformed request's 400 is not one).
                add_vary(headers, (state.key_header, "authorization"))
            return
        if rs.principal is None and route is None:
            _unmanaged(rs, headers)
            return
        pending, rs.pending = rs.pending, None
        stored = False
        if pending is not None:
            stored = await self._decide(rs, pending, status, headers)
        elif rs.detail is not None:
            _set_status(headers, rs.detail)
        ttl = route.ttl if route is not None and route.ttl is not None else state.default_ttl
        downstream = state.downstream
        if downstream is Downstream.PER_KEY and not stored:
            downstream = Downstream.NO_STORE
        tell_downstream(
            status,
            headers,
            downstream,
            cached=route is not None,
            ttl=ttl,
            credential_headers=state.credential_names(),
            vary=route.vary if route is not None else (),
        )

    async def _decide(
        self, rs: RequestState, pending: Pending, status: int, headers: RawHeaders
    ) -> bool:
        """Store the route's own response if the final one may be stored."""
        state, route = rs.ward, pending.route
        rec = rs.rec
        rs.stop_recording()
        if status not in STORABLE_STATUS:
            return _not_stored(state, headers, "not-storable", pending)
        coverage = KeyCoverage(dropped_params=pending.dropped, host_keyed=state.host is None)
        reads = rec.reads if rec is not None else set()
        unkeyed = unkeyed_reads(reads, route.policy, coverage)
        if unkeyed:
            state.counters.unkeyed_input += 1
            _not_stored(state, headers, "unkeyed-input", pending)
            for read in unkeyed:
                state.warn_once(
                    route.name,
                    f"{read[0].value}:{read[1]}",
                    f"cacheward: not storing {route.name}: it read {describe(read)}, which is"
                    f" not in its cache key; {fix_for(read, route.policy)}",
                )
            if state.strict:
                first = unkeyed[0]
                raise UnkeyedInputError(route.name, describe(first), fix_for(first, route.policy))
            return False
        entry = pending.form
        why = final_refusal(headers)
        if entry is None:
            why = pending.why or "the response started before the route's own was complete"
        if why is not None or entry is None:
            logger.debug("cacheward: not storing %s: %s", route.name, why)
            return _not_stored(state, headers, "not-storable", pending)
        try:
            await state.backend.store(pending.key, entry)
        except Exception as e:  # noqa: BLE001 - any backend failure means "not stored"
            state.backend_failed(e)
            _drop_etag(headers, pending)
            return False
        state.counters.stored += 1
        _set_status(headers, cachestatus.STORED)
        return True


def _set_status(headers: RawHeaders, value: str) -> None:
    headers[:] = [(k, v) for k, v in headers if k != b"cache-status"]
    headers.append((b"cache-status", value.encode("latin-1")))


def _drop_etag(headers: RawHeaders, pending: Pending) -> None:
    """Take back the ``ETag`` the guard gave a response it did not store."""
    added = pending.added_etag
    if added is not None:
        headers[:] = [(k, v) for k, v in headers if k != b"etag" or v != added]


def _not_stored(state: State, headers: RawHeaders, detail: str, pending: Pending) -> bool:
    _drop_etag(headers, pending)
    state.counters.not_stored += 1
    _set_status(headers, cachestatus.not_stored(detail))
    return False


def _unmanaged(rs: RequestState, headers: RawHeaders) -> None:
    """A credential on a route cacheward does not manage: at least keep it private."""
    names = {k for k, _ in rs.scope["headers"]}
    if rs.ward.key_header_bytes in names or b"authorization" in names:
        if not any(k == b"cache-control" for k, _ in headers):
            headers.append((b"cache-control", b"private"))
