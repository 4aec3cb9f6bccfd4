"""Recording what a request to a cached route reads (invariant 3).

While recording, the request context's ``request`` and ``url_adapter`` are replaced by
proxies that record every input read through them and then delegate to the real
objects; from the start of the view, ``flask.g`` is replaced too. Recording starts
before the first hook of the request runs (``request_started`` subscribers, URL value
preprocessors, ``before_request`` handlers) when the app has such hooks, and lasts
until the final response is known, so reads in ``after_request`` hooks count as well.
Nothing here runs on a cache hit of an app without hooks.
"""

from __future__ import annotations

from contextvars import Token
from typing import Any

from flask.ctx import RequestContext

from .context import app_context_of
from .recorder import Recorder, current_recorder
from .tracked_request import TrackedG, TrackedRequest, TrackedUrlAdapter


class Swap:
    """An active swap of a request context's request and URL adapter (and of ``g``)."""

    __slots__ = (
        "ctx",
        "rec",
        "request",
        "adapter",
        "token",
        "app_ctx",
        "g",
        "active",
        "hooks_marked",
    )

    def __init__(self, ctx: RequestContext, rec: Recorder) -> None:
        self.ctx = ctx
        self.rec = rec
        self.request: Any = ctx.request
        self.adapter = ctx.url_adapter
        self.app_ctx: Any = None
        self.g: Any = None
        #: Whether the hooks before the view are known to be over (see :meth:`hooks_done`).
        self.hooks_marked = False
        ctx.request = TrackedRequest(self.request, rec)  # type: ignore[assignment]
        if self.adapter is not None:
            ctx.url_adapter = TrackedUrlAdapter(self.adapter, rec)  # type: ignore[assignment]
        self.token: Token[Recorder | None] | None = current_recorder.set(rec)
        self.active = True

    def hooks_done(self) -> None:
        """The hooks before the view ran (``dispatch_request`` starts): set their reads
        aside; what is read from now until the view is the auth layer's."""
        if self.hooks_marked or not self.active:
            return
        self.hooks_marked = True
        self.rec.hooks_done()

    def track_g(self) -> None:
        """From now on, reads of values already on ``flask.g`` are reads of the principal."""
        environ = getattr(self.ctx.request, "_environ", None)
        if environ is not None:
            environ.seal()
        app_ctx = app_context_of(self.ctx)
        if app_ctx is None or self.app_ctx is not None:
            return
        self.app_ctx = app_ctx
        self.g = app_ctx.g
        app_ctx.g = TrackedG(self.g, self.rec)

    def undo(self) -> None:
        if not self.active:
            return
        self.active = False
        token, self.token = self.token, None
        if token is not None:
            try:
                current_recorder.reset(token)
            except ValueError:  # reset from another context (a copied one): just clear
                current_recorder.set(None)
        self.ctx.request = self.request
        self.ctx.url_adapter = self.adapter
        if self.app_ctx is not None:
            self.app_ctx.g = self.g
