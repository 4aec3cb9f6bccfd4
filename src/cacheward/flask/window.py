"""The recording window: from before the request's first hook to its final response.

Apps whose requests to cached routes run hooks before the view (``request_started``
subscribers, URL value preprocessors, app or blueprint ``before_request`` handlers) get
the request swapped for the recording proxy when dispatching starts, so that a value a
hook reads (``g.lang = request.headers["Accept-Language"]``) counts as a read of the
response. Apps without such hooks start recording on a miss, in the view's wrapper.

Dispatch is wrapped through ``app.full_dispatch_request``, the one method Flask calls
for every request; the wrapper also makes sure that recording and the single-flight
lock end with the request, whatever happens in between. ``app.dispatch_request`` (called
once the hooks let the request through) is wrapped to tell the hooks' reads from the
auth layer's (see :class:`~cacheward.flask.recorder.Recorder`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from flask import Flask, Response
from flask.signals import request_started

from .context import ensure_state, request_context, state_of
from .recorder import Recorder
from .route import CACHED_MARK
from .state import State
from .tracking import Swap

_INSTALLED = "_cacheward_dispatch"
#: The recording of a request whose hooks before the view are running.
_in_hooks: ContextVar[Swap | None] = ContextVar("cacheward_in_hooks", default=None)


def install(app: Flask, on_error: Callable[[Exception], None]) -> None:
    """Wrap ``app.full_dispatch_request`` (once per app)."""
    if getattr(app, _INSTALLED, False):
        return
    original = app.full_dispatch_request

    def full_dispatch_request() -> Response:
        ctx = request_context()
        state: State = app.extensions["cacheward"]
        req = ctx.request
        rule = req.url_rule
        token = None
        if rule is not None and (request_started.receivers or state.hooks_before(app, req)):
            if is_cached(app, state, rule.endpoint, req.method):
                rs = ensure_state(ctx)
                rs.swap = Swap(ctx, Recorder(state.credential_headers, req.environ))
                rs.early = True
                token = _in_hooks.set(rs.swap)
        try:
            return original()
        finally:
            if token is not None:
                _in_hooks.reset(token)
            done = state_of(ctx)
            if done is not None:
                done.stop_recording()
                done.pending = None
                done.release_flight(on_error)

    dispatch = app.dispatch_request

    def dispatch_request() -> Any:
        # The hooks before the view ran; what runs from here to @ward.cached is the auth
        # layer (the decorators above it).
        swap = _in_hooks.get()
        if swap is not None:
            _in_hooks.set(None)
            swap.hooks_done()
        return dispatch()

    app.full_dispatch_request = full_dispatch_request  # type: ignore[method-assign]
    app.dispatch_request = dispatch_request  # type: ignore[method-assign]
    setattr(app, _INSTALLED, True)


def is_cached(app: Flask, state: State, endpoint: str, method: str) -> bool:
    """Whether ``endpoint`` answers ``method`` through ``@ward.cached`` (memoized)."""
    memo = (endpoint, method)
    found = state.cached_endpoints.get(memo)
    if found is None:
        found = state.cached_endpoints[memo] = _find_cached(
            app.view_functions.get(endpoint), method
        )
    return found


def _find_cached(view: Any, method: str) -> bool:
    """Look through wrappers (``functools.wraps``) and class-based views' methods."""
    for _ in range(16):
        if view is None:
            return False
        if CACHED_MARK in getattr(view, "__dict__", ()):
            return True
        view_class = getattr(view, "view_class", None)
        if view_class is not None:
            meth = getattr(view_class, method.lower(), None)
            if meth is None and method == "HEAD":
                meth = getattr(view_class, "get", None)
            return meth is not None and CACHED_MARK in getattr(meth, "__dict__", ())
        view = getattr(view, "__wrapped__", None)
    return False
