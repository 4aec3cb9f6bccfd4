"""The route's own response: what a miss stores (the ASGI "view form").

:class:`RouteCapture` sits innermost, right on the router (inside the application's own
middleware, ``app.add_middleware``, and Starlette's exception middleware). Those
middlewares read the raw scope, which the guard cannot record; so what is stored is never
their work but the response the route itself produced, captured here, and a hit is
answered by the endpoint, below them, so that they run again on every hit and recompute
what they add for *that* request. Code below the capture (a ``Mount``'s or a ``Route``'s
own middleware, a mounted app) would be stored *and* run again: the endpoint checks that
its ``Request`` holds the capture's own ``send`` (``RequestState.route_send``), and a
route that does not is never stored (:func:`cacheward.asgi.endpoint.run_cached`). The
store decision itself waits for the final response at the boundary
(:mod:`cacheward.asgi.middleware`), which may still refuse (a ``Set-Cookie``, a
``private``...).
"""

from __future__ import annotations

from .context import Pending, RequestState, current
from .middleware import ASGIApp, Message, Receive, Scope, Send
from .response import RawHeaders, refusal, to_entry


class RouteCapture:
    """Pure ASGI middleware; :meth:`BaseCacheward.init_app` installs it innermost."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rs = current.get()
        if rs is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []
        chunks: list[Message] = []

        async def flush() -> None:
            await send(held.pop())
            for chunk in chunks:
                await send(chunk)
            chunks.clear()

        async def capture(message: Message) -> None:
            pending = rs.pending
            if not held and (pending is None or pending.captured):
                await send(message)  # a hit, a bypass, an error: not a store candidate
                return
            kind = message["type"]
            if kind == "http.response.start":
                if held:  # a second start: code that caught a failed stream answered again
                    _route_form(rs, pending, held[0], None, "a second response start")
                    await flush()
                    await send(message)  # the server refuses it, as without the guard
                    return
                held.append(message)
                return
            if not held:
                await send(message)
                return
            if pending is None or kind != "http.response.body":
                _route_form(rs, pending, held[0], None, "not a plain body")
                await flush()
                await send(message)
                return
            chunks.append(message)
            if message.get("more_body", False):
                # One chunk then an empty end (what BaseHTTPMiddleware makes of any
                # response) is a complete body; a second chunk is a real stream.
                if sum(1 for m in chunks if m.get("body")) <= 1:
                    return
                _route_form(rs, pending, held[0], None, "a streamed body")
                await flush()
                return
            body = b"".join(m.get("body", b"") for m in chunks)
            _route_form(rs, pending, held[0], body, None)
            await flush()

        rs.route_send = capture
        await self.app(scope, receive, capture)
        if held:  # a start and no final body message
            _route_form(rs, rs.pending, held[0], None, "no complete body")
            await flush()


def _route_form(
    rs: RequestState, pending: Pending | None, start: Message, body: bytes | None, why: str | None
) -> None:
    """Judge the route's own response (invariant 4, the route's part) and keep its
    storable form on ``pending``; give it the ``ETag`` the entry will carry, so that
    the miss and every later hit tell the same validator."""
    rs.stop_recording()  # the endpoint is done: inner middlewares read the raw scope
    if pending is None:
        return
    pending.captured = True
    if why is not None or body is None:
        pending.why = why or "no complete body"
        return
    state, route = rs.ward, pending.route
    headers: RawHeaders = list(start.get("headers") or ())
    status: int = start["status"]
    why = refusal(status, headers, route.policy, False, len(body), state.max_entry_bytes)
    read = rs.unread_in(headers, body) if rs.unread_values else None
    if read is not None:
        why = f"the value of {read!r} (unread_context) is in the response"
        state.warn_once(
            route.name,
            f"unread:{read}",
            f"cacheward: not storing {route.name}: the context variable {read!r} is in"
            " Cacheward(unread_context=[...]) but its value is in the response; take it"
            " out of unread_context (the route then stays uncached while it is set)",
        )
    if why is not None:
        pending.why = why
        return
    had_etag = any(k == b"etag" for k, _ in headers)
    key = pending.key
    ttl = route.ttl if route.ttl is not None else state.default_ttl
    pending.form = to_entry(
        status, headers, body, key.digest,
        key.scope,
        ttl,
        route.tags,
        pending.found.generation,
        state.backend.clock(),
    )
    if not had_etag:
        pending.added_etag = pending.form.etag.encode("latin-1")
        start["headers"] = headers
