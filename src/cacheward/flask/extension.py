"""The ``Cacheward`` Flask extension: ``protected``, ``cached`` and ``purge``."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, request
from flask.globals import _cv_request

from ..backends.base import Backend
from ..core.policy import KeyPolicy, Scope
from ..core.principal import Principal
from ..errors import BadRequestInput, ConfigurationError, UnsafeCacheOrder
from ..keys.store import KeyStore
from .auth import authenticate
from .config import Downstream
from .errors import bad_input_response, error_response
from .response import FINAL, tell_downstream
from .route import CACHED_MARK, PROTECTED_MARK, CachedRoute, PrincipalSource
from .serve import PRE_READS_ATTR, PRINCIPAL_ATTR, ROUTE_ATTR, STATE_ATTR, serve
from .state import State, build_state
from .window import _WINDOW as _WINDOW_ATTR
from .window import begin_window, end_window

F = TypeVar("F", bound=Callable[..., Any])
Authorize = Callable[..., bool]

# Wrappers of other auth libraries, recognised by the file their wrapper lives in.
_FOREIGN_AUTH_MODULES = ("flask_httpauth", "flask_login", "flask_jwt_extended")


class Cacheward:
    """API-key authentication, authorization and a poisoning-proof response cache.

    :param app: the application, or ``None`` to call :meth:`init_app` later.
    :param keys: the :class:`~cacheward.keys.KeyStore` that verifies API keys.
    :param backend: a backend instance; by default ``CACHEWARD_BACKEND`` names one.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        app: Flask | None = None,
        keys: KeyStore | None = None,
        backend: Backend | None = None,
    ) -> None:
        self.keys = keys
        self._backend = backend
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Read the ``CACHEWARD_*`` settings and register the guard's hooks on ``app``.

        :raises ConfigurationError: on a missing secret or an invalid setting.
        """
        app.extensions["cacheward"] = build_state(app, self.keys, self._backend)
        app.register_error_handler(BadRequestInput, bad_input_response)
        app.after_request(_after_request)
        app.before_request_funcs.setdefault(None, []).insert(0, begin_window)

    @staticmethod
    def state(app: Flask | None = None) -> State:
        """The guard's state for ``app`` (default: the current app)."""
        app = app or current_app
        try:
            return app.extensions["cacheward"]  # type: ignore[no-any-return]
        except KeyError:
            raise ConfigurationError("Cacheward.init_app(app) has not run for this app") from None

    def protected(self, *scopes: str, authorize: Authorize | None = None) -> Callable[[F], F]:
        """Require a valid API key holding ``scopes``, and ``authorize(principal,
        **view_args)`` to return true, before the view (and any cache lookup) runs.

        Answers 401 for a missing, malformed, unknown or revoked key, 403 for a missing
        scope or a failed ``authorize``, each with a JSON body and ``no-store``.
        """
        required = frozenset(scopes)

        def decorator(view: F) -> F:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                ctx = _cv_request.get()
                state: State = ctx.app.extensions["cacheward"]
                pre = end_window(ctx) if _WINDOW_ATTR in ctx.__dict__ else None
                outcome = authenticate(state, ctx.request.environ)
                if isinstance(outcome, Response):
                    return _refused(state, outcome)
                if not outcome.has_scopes(required):
                    missing = ", ".join(sorted(required - outcome.scopes))
                    return _refused(
                        state,
                        error_response(403, "insufficient_scope", f"the key lacks: {missing}"),
                    )
                if authorize is not None and not authorize(outcome, *args, **kwargs):
                    return _refused(
                        state,
                        error_response(403, "forbidden", "this key may not access this resource"),
                    )
                ctx.__dict__[PRINCIPAL_ATTR] = outcome
                ctx.__dict__[STATE_ATTR] = state
                if pre is not None:
                    ctx.__dict__[PRE_READS_ATTR] = pre
                return view(*args, **kwargs)

            setattr(wrapper, PROTECTED_MARK, True)
            return wrapper  # type: ignore[return-value]

        return decorator

    def cached(
        self,
        ttl: float | None = None,
        scope: Scope | str = Scope.PRINCIPAL,
        vary: Iterable[str] = (),
        tags: Iterable[str] = (),
        principal: PrincipalSource | None = None,
        ignore_params: Iterable[str] | None = None,
    ) -> Callable[[F], F]:
        """Cache the view's responses, keyed by everything they may depend on.

        Place it *below* :meth:`protected`. Each stored response is keyed by method,
        host, path, canonical query, the ``vary`` headers and the scope; a response that
        read any other input is not stored (and raises in strict mode).

        :param ttl: seconds to keep an entry (default ``CACHEWARD_DEFAULT_TTL``).
        :param scope: ``"principal"`` (default), ``"tenant"`` or ``"shared"``.
        :param vary: header names the response depends on.
        :param tags: names to purge the route's entries by.
        :param principal: for other auth libraries: returns the caller's
            :class:`Principal` (or its id), or ``None`` when there is none.
        :param ignore_params: query parameters left out of the key (default: tracking
            parameters such as ``utm_*``); ``()`` keys every parameter.
        """
        try:
            scope = Scope(scope)
        except ValueError:
            raise ConfigurationError(
                f"scope must be 'principal', 'tenant' or 'shared', not {scope!r}"
            ) from None
        if ttl is not None and ttl <= 0:
            raise ConfigurationError("ttl must be positive")
        if ignore_params is None:
            policy = KeyPolicy(scope=scope, vary=tuple(vary))
        else:
            policy = KeyPolicy(
                scope=scope,
                vary=tuple(vary),
                ignored_params=frozenset(ignore_params),
                ignored_prefixes=(),
            )
        tag_tuple = tuple(tags)

        def decorator(view: F) -> F:
            name = getattr(view, "__qualname__", repr(view))
            if getattr(view, PROTECTED_MARK, False) or _foreign_auth(view):
                raise UnsafeCacheOrder(name)
            route = CachedRoute(name, policy, ttl, tag_tuple, principal, view)

            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                return serve(route, args, kwargs)

            setattr(wrapper, CACHED_MARK, route)
            return wrapper  # type: ignore[return-value]

        return decorator

    def purge(
        self,
        *,
        principal: str | None = None,
        tenant: str | None = None,
        tag: str | None = None,
        app: Flask | None = None,
    ) -> None:
        """Invalidate one principal's, one tenant's or one tag's entries, or (no
        argument) every entry. O(1): a generation number is bumped."""
        state = self.state(app)
        if principal is not None:
            state.backend.purge(scope=state.principal_scope(principal))
        if tenant is not None:
            state.backend.purge(scope=state.tenant_scope(tenant))
        if tag is not None:
            state.backend.purge(tag=tag)
        if principal is None and tenant is None and tag is None:
            state.backend.purge()

    def stats(self, app: Flask | None = None) -> dict[str, Any]:
        """The guard's and the backend's counters."""
        state = self.state(app)
        out = dict(vars(state.counters))
        out["backend"] = state.backend.stats.as_dict()
        return out


def _refused(state: State, response: Response) -> Response:
    """A 401/403/503 of a protected route. In per-key mode it varies on the credential
    headers too, so that a cache in front keeps it apart from every key's own copy."""
    if state.downstream is Downstream.PER_KEY:
        response.vary.add(state.key_header)
        response.vary.add("Authorization")
    return response


def _foreign_auth(view: Callable[..., Any]) -> bool:
    """Whether ``view`` is the wrapper of another library's auth decorator."""
    code = getattr(view, "__code__", None)
    filename = getattr(code, "co_filename", "") or ""
    return any(m in filename for m in _FOREIGN_AUTH_MODULES) and inspect.isfunction(view)


def _after_request(response: Response) -> Response:
    """Tell caches in front the truth about every authenticated response (invariant 5)."""
    final = response.__dict__.get(FINAL)
    if final is not None:
        headers = response.headers
        if headers.get("Cache-Control") == final and "Set-Cookie" not in headers:
            return response  # a hit whose headers no other hook touched
    local = _cv_request.get().__dict__
    principal: Principal | None = local.get(PRINCIPAL_ATTR)
    route: CachedRoute | None = local.get(ROUTE_ATTR)
    if principal is None and route is None:
        environ = request.environ
        state: State = current_app.extensions["cacheward"]
        if (
            state.key_environ in environ or "HTTP_AUTHORIZATION" in environ
        ) and "Cache-Control" not in response.headers:
            # A credential on a route cacheward does not manage: at least keep it private.
            response.headers["Cache-Control"] = "private"
        return response
    state = current_app.extensions["cacheward"]
    ttl = route.ttl if route is not None and route.ttl is not None else state.default_ttl
    downstream = state.downstream
    if route is None and downstream is Downstream.PER_KEY:
        downstream = Downstream.NO_STORE
    tell_downstream(
        response,
        downstream,
        cached=route is not None,
        ttl=ttl,
        credential_headers=(state.key_header, "Authorization"),
        vary=route.vary if route is not None else (),
    )
    return response
