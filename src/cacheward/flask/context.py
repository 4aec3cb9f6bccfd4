"""The one place that touches Flask's internals, and a request's cacheward state.

Flask 2.3 to 3.1 differ in two details the guard needs: how the current request context
is reached (``_cv_request``, with the public ``request_ctx`` proxy as the fallback) and
where the session lives (``RequestContext.session``, or ``_session`` behind a property
that marks the session accessed from Flask 3.1.3 on). Everything else in
:mod:`cacheward.flask` goes through this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask.ctx import RequestContext

if TYPE_CHECKING:
    from ..backends.base import Lookup
    from ..core.cachekey import CacheKey
    from ..core.principal import Principal
    from .recorder import Recorder
    from .route import CachedRoute
    from .state import State
    from .tracking import Swap

try:  # Flask >= 2.2: a ContextVar, the fastest way in
    from flask.globals import _cv_request

    def request_context() -> RequestContext:
        """The current request context (raises ``LookupError`` outside a request)."""
        return _cv_request.get()

    def request_context_or_none() -> RequestContext | None:
        return _cv_request.get(None)

except ImportError:  # pragma: no cover - only on a Flask that renamed it
    from flask.globals import request_ctx as _proxy

    def request_context() -> RequestContext:
        try:
            return _proxy._get_current_object()  # type: ignore[attr-defined,no-any-return]
        except RuntimeError as e:
            raise LookupError(str(e)) from None

    def request_context_or_none() -> RequestContext | None:
        try:
            return _proxy._get_current_object()  # type: ignore[attr-defined,no-any-return]
        except RuntimeError:
            return None


def session_of(ctx: RequestContext) -> Any:
    """The request's session object if it was opened, without marking it accessed."""
    local = ctx.__dict__
    if "_session" in local:  # Flask >= 3.1.3: ``session`` is a property
        return local["_session"]
    return local.get("session")


def app_context_of(ctx: RequestContext) -> Any:
    """The application context pushed with ``ctx`` (where ``flask.g`` lives)."""
    from flask.globals import _cv_app

    return _cv_app.get(None)


#: The one slot a request context holds cacheward's state in.
_SLOT = "_cacheward"


class RequestState:
    """Everything cacheward knows about the request in progress.

    :ivar ward: the application's :class:`~cacheward.flask.state.State`.
    :ivar principal: who authenticated (set by ``protected`` or ``principal=``).
    :ivar route: the cached route that served the request, if any.
    :ivar swap: the active recording of request reads, if any.
    :ivar pending: a miss that may be stored once the final response is known.
    :ivar detail: the ``Cache-Status`` of the request, said at the end.
    """

    __slots__ = (
        "ward",
        "principal",
        "route",
        "swap",
        "pending",
        "detail",
        "flight",
        "auth_session_read",
        "early",
        "view_print",
    )

    def __init__(self, ward: State) -> None:
        self.ward = ward
        self.principal: Principal | None = None
        self.route: CachedRoute | None = None
        self.swap: Swap | None = None
        self.pending: Pending | None = None
        self.detail: str | None = None
        self.flight: Any = None
        self.auth_session_read = False
        #: Whether recording started before any hook ran (the whole-request window).
        self.early = False
        #: What the view's response would store, before the after_request hooks ran.
        self.view_print: Any = None

    @property
    def rec(self) -> Recorder | None:
        swap = self.swap
        return None if swap is None else swap.rec

    def real_request(self, ctx: RequestContext) -> Any:
        """The request object itself, never the recording proxy."""
        swap = self.swap
        return ctx.request if swap is None else swap.request

    def stop_recording(self) -> None:
        """Put the real request back (idempotent)."""
        swap = self.swap
        if swap is not None:
            swap.undo()

    def release_flight(self, on_error: Callable[[Exception], None]) -> None:
        """Let other callers of the same key go on (idempotent)."""
        flight, self.flight = self.flight, None
        if flight is not None:
            try:
                flight.__exit__(None, None, None)
            except Exception as e:  # noqa: BLE001 - a backend failure is only logged
                on_error(e)


class Pending:
    """A miss whose response may be stored when the request ends."""

    __slots__ = ("key", "found", "dropped")

    def __init__(self, key: CacheKey, found: Lookup, dropped: frozenset[str]) -> None:
        self.key = key
        self.found = found
        self.dropped = dropped


def state_of(ctx: RequestContext) -> RequestState | None:
    """The request's cacheward state, if any part of the guard ran."""
    found: RequestState | None = ctx.__dict__.get(_SLOT)
    return found


def ensure_state(ctx: RequestContext) -> RequestState:
    """The request's cacheward state, created on first use."""
    local = ctx.__dict__
    found: RequestState | None = local.get(_SLOT)
    if found is None:
        found = local[_SLOT] = RequestState(ctx.app.extensions["cacheward"])
    return found
