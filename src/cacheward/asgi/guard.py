"""What every ASGI flavour of ``Cacheward`` shares: settings, installing the boundary
middleware, purge and statistics. :mod:`cacheward.fastapi` and :mod:`cacheward.starlette`
add the authentication and caching API on top."""

from __future__ import annotations

import functools
import inspect
import os
from typing import Any

from starlette.responses import Response

from ..errors import ConfigurationError
from .capture import RouteCapture
from .context import current
from .middleware import CachewardMiddleware
from .serve import Hit, endpoint_raised
from .state import State, build_state


class BaseCacheward:
    """The settings and state of one ASGI guard (see :class:`cacheward.fastapi.Cacheward`)."""

    def __init__(
        self,
        app: Any = None,
        *,
        keys: object = None,
        backend: Any = None,
        secret: str | bytes | list[str | bytes] | None = None,
        **settings: Any,
    ) -> None:
        self.keys = keys
        self._backend = backend
        self._secret = secret
        self._settings = settings
        self.key_header = str(settings.get("key_header", "X-API-Key"))
        self._state: State | None = None
        if app is not None:
            self.init_app(app)

    # -- set-up ---------------------------------------------------------------------------

    def _refuse_credential_vary(self, vary: tuple[str, ...]) -> None:
        """A ``vary`` name that carries the credential would put the raw API key in
        every cache key (invariant 2): refused at import time."""
        extra = self._settings.get("credential_headers") or ()
        credentials = {self.key_header.lower(), "authorization"}
        credentials.update(str(n).lower() for n in extra)
        for name in vary:
            if name.lower() in credentials:
                raise ConfigurationError(
                    f"vary=[{name!r}] names a credential header: the cache key would hold"
                    " the API key. Keep scope='principal' (and add ':key-id' to vary if the"
                    " response depends on which key)"
                )

    def _build(self, app: Any) -> State:
        settings = dict(self._settings)
        if settings.get("strict") is None:
            settings["strict"] = bool(getattr(app, "debug", False))
        settings.setdefault("app_name", getattr(app, "title", "") or type(app).__name__)
        for name in ("credential_headers", "unread_context"):
            if name in settings and not isinstance(settings[name], str):
                settings[name] = tuple(settings[name])
        state = build_state(secret=self._secret, keys=self.keys, backend=self._backend, **settings)
        self._state = state
        return state

    def init_app(self, app: Any) -> None:
        """Install the guard on a FastAPI or Starlette ``app``, outside every other
        middleware (so the store decision sees the final response).

        :raises ConfigurationError: a missing secret, a bad setting, or an app that
            already started.
        """
        state = self._build(app)
        if getattr(app, "middleware_stack", None) is not None:
            raise ConfigurationError("Cacheward(app) must be set up before the app starts")
        build = app.build_middleware_stack

        def build_middleware_stack() -> Any:
            _refuse_guarded_websockets(getattr(app, "routes", ()))
            return CachewardMiddleware(_captured_stack(app, build, state), state)

        app.build_middleware_stack = build_middleware_stack
        app.state.cacheward = state

    def wrap(self, app: Any) -> CachewardMiddleware:
        """Wrap any ASGI application (when :meth:`init_app` cannot patch it). Its routes
        are protected and served; only a bare router's are stored: any middleware
        around them (a Starlette app's own included) would run again on every hit."""
        return CachewardMiddleware(RouteCapture(app), self._state or self._build(app))

    @property
    def state(self) -> State:
        if self._state is None:
            raise ConfigurationError("Cacheward.init_app(app) has not run")
        return self._state

    # -- management -----------------------------------------------------------------------

    async def purge(
        self,
        *,
        principal: str | None = None,
        tenant: str | None = None,
        tag: str | None = None,
    ) -> None:
        """Invalidate one principal's, one tenant's or one tag's entries, or (no
        argument) every entry. O(1): a generation is bumped."""
        state = self.state
        if principal is not None:
            await state.backend.purge(scope=state.principal_scope(principal))
        if tenant is not None:
            await state.backend.purge(scope=state.tenant_scope(tenant))
        if tag is not None:
            await state.backend.purge(tag=tag)
        if principal is None and tenant is None and tag is None:
            await state.backend.purge()

    def stats(self) -> dict[str, Any]:
        """The guard's and the backend's counters."""
        state = self.state
        out: dict[str, Any] = dict(vars(state.counters))
        out["backend"] = state.backend.stats.as_dict()
        return out


def _captured_stack(app: Any, build: Any, state: State) -> Any:
    """``app``'s own stack (``build()``), with :class:`RouteCapture` right around its
    router, inside every middleware (Starlette's and FastAPI's own too): what the route
    produced is what is stored (see :mod:`cacheward.asgi.capture`). Its routes are
    walked for code between the router and the endpoint, and applications mounted in it
    get the same when they build theirs."""
    handlers = getattr(app, "exception_handlers", None)
    if isinstance(handlers, dict):
        for name, handler in list(handlers.items()):
            handlers[name] = _unstorable_when_run(handler)
    stack = build()
    _capture_at_router(stack, app.router)
    _walk_routes(getattr(app, "routes", ()), state, True)
    return stack


def _walk_routes(routes: Any, state: State, clean: bool, depth: int = 0) -> None:
    """Record, per endpoint, whether nothing but routing lies between the capture and it
    (``State.direct_endpoints``): a ``Route``'s or a ``Mount``'s own ``middleware=``
    does not (it may answer with the capture's own ``send``, unwrapped). A mounted
    Starlette application gets its own capture, below its middleware and the mount's;
    one that already started keeps none, and its routes are served, never stored."""
    for route in routes:
        # A Mount's own middleware wraps its app: the capture goes below it, in the app.
        sub: Any = getattr(route, "_base_app", None) or getattr(route, "app", None)
        if _is_starlette(sub):
            if sub.middleware_stack is None and not getattr(sub, _MARK, False):
                build = sub.build_middleware_stack

                def build_sub(sub: Any = sub, build: Any = build) -> Any:
                    return _captured_stack(sub, build, state)

                sub.build_middleware_stack = build_sub
                setattr(sub, _MARK, True)
            continue
        # A Mount or Host of routes, or an included router (newer FastAPI keeps it whole).
        children = getattr(route, "routes", None)
        if children is None:
            children = getattr(getattr(route, "original_router", None), "routes", None)
        if children is not None:
            if depth < 8:
                bare = getattr(route, "app", None) is sub
                _walk_routes(children, state, clean and bare, depth + 1)
            continue
        endpoint = getattr(route, "endpoint", None)
        if endpoint is not None:
            # request_response() gives a function; a middleware is an object over `.app`.
            direct = clean and not hasattr(getattr(route, "app", None), "app")
            key = id(endpoint)
            state.direct_endpoints[key] = state.direct_endpoints.get(key, True) and direct


def _is_starlette(app: Any) -> bool:
    return all(hasattr(app, a) for a in ("build_middleware_stack", "middleware_stack", "router"))


def _capture_at_router(stack: Any, router: Any) -> None:
    """Put :class:`RouteCapture` between ``router`` and the middleware that calls it.
    Not found (an unknown stack): nothing is captured, so nothing is stored."""
    layer, seen = stack, 0
    while layer is not None and seen < 64:
        inner = getattr(layer, "app", None)
        if inner is not None and inner is router:
            if not isinstance(layer, RouteCapture):  # (a guard set up twice)
                layer.app = RouteCapture(inner)
            return
        layer, seen = inner, seen + 1


_MARK = "__cacheward_unstorable__"
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _refuse_guarded_websockets(routes: Any, depth: int = 0) -> None:
    """Refuse, at startup, a websocket route that ``ward.protected`` or ``ward.cached``
    was put on: neither applies to a websocket (FastAPI would fail on every handshake
    with a ``TypeError``; Starlette would skip the check)."""
    for route in routes:
        sub = getattr(route, "routes", None)
        if sub and depth < 8:  # Mount, Host, an included router
            _refuse_guarded_websockets(sub, depth + 1)
        if type(route).__name__ not in ("APIWebSocketRoute", "WebSocketRoute"):
            continue
        if _guarded(getattr(route, "endpoint", None), getattr(route, "dependant", None)):
            path = getattr(route, "path", "?")
            raise ConfigurationError(
                f"websocket route {path!r}: ward.protected and @ward.cached do not apply"
                " to websockets (a websocket is neither protected nor cached by them)."
                " Remove them from this route and authenticate the handshake in the"
                " endpoint: read the key from websocket.headers, verify it with the key"
                " store (ward.keys.verify), and close with code 1008 when it fails"
            )


def _guarded(endpoint: Any, dependant: Any) -> bool:
    """Whether a cacheward decorator wraps ``endpoint`` or ``protected`` is among the
    dependencies of ``dependant``."""
    from ..fastapi.analysis import is_protector  # no FastAPI import: only the mark

    seen = 0
    while endpoint is not None and seen < 32:
        code = getattr(endpoint, "__code__", None)
        if code is not None and code.co_filename.startswith(_PACKAGE + os.sep):
            return True
        endpoint, seen = getattr(endpoint, "__wrapped__", None), seen + 1
    stack = list(getattr(dependant, "dependencies", ()))
    while stack:
        sub = stack.pop()
        if is_protector(getattr(sub, "call", None)):
            return True
        stack.extend(getattr(sub, "dependencies", ()))
    return False


def _unstorable_when_run(handler: Any) -> Any:
    """``handler``, made to mark the request's response unstorable when it runs: an
    exception handler (for the endpoint, a dependency's teardown, anything) builds its
    response from Starlette's own ``Request``, whose reads the guard cannot see."""
    if getattr(handler, _MARK, False):
        return handler
    if _is_async(handler):

        async def marked_async(conn: Any, exc: Exception) -> Any:
            _mark_current()
            return await handler(conn, exc)

        marked: Any = marked_async
    else:

        def marked_sync(conn: Any, exc: Exception) -> Any:
            _mark_current()
            return handler(conn, exc)

        marked = marked_sync
    functools.update_wrapper(marked, handler)
    setattr(marked, _MARK, True)
    return marked


def _is_async(call: Any) -> bool:
    while isinstance(call, functools.partial):
        call = call.func
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 - an async callable object
    )


def _mark_current() -> None:
    rs = current.get()
    if rs is not None:
        endpoint_raised(rs)


def hit_response(hit: Hit) -> Response:
    """A Starlette response from a hit's parts, without re-rendering them."""
    response = Response.__new__(Response)
    response.status_code = hit.status
    response.body = hit.body
    response.background = None
    response.raw_headers = hit.headers
    return response
