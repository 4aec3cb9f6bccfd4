"""The ``Cacheward`` Flask extension: ``protected``, ``cached`` and ``purge``."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from flask import Flask, Response, current_app
from flask.signals import request_finished

from ..backends.base import Backend
from ..config import Downstream
from ..core.policy import Scope, route_policy
from ..core.principal import Principal
from ..core.settings import check_ttl
from ..errors import BadRequestInput, ConfigurationError, UnsafeCacheOrder
from ..keys.store import KeyStore
from .auth import authenticate
from .context import ensure_state, request_context
from .datacache import DataCache
from .errors import bad_input_response, error_response
from .finalize import finalize
from .layers import foreign_auth
from .memoize import _state as _memo_state
from .memoize import delete as _delete_memoized
from .memoize import memoize as _memoize
from .memoize import memoized_of, principal_for_delete
from .purge_route import Query
from .purge_route import purge_route as _purge_route
from .route import CACHED_MARK, PROTECTED_MARK, CachedRoute, PrincipalSource, is_async
from .serve import serve
from .state import State, build_state
from .valuestore import explicit_principal
from .window import install

F = TypeVar("F", bound=Callable[..., Any])
Authorize = Callable[..., bool]


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
        self._routes: list[CachedRoute] = []
        self._states: list[State] = []
        #: The data cache: ``ward.data.get(key)``, ``ward.data.set(key, value, ttl)``.
        self.data = DataCache()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Read the ``CACHEWARD_*`` settings and register the guard's hooks on ``app``.

        :raises ConfigurationError: on a missing secret or an invalid setting.
        """
        state = build_state(app, self.keys, self._backend)
        for route in self._routes:
            _check_per_key(state, route)
        app.extensions["cacheward"] = state
        self._states.append(state)
        app.register_error_handler(BadRequestInput, bad_input_response)
        install(app, state.backend_failed)
        # The store decision and what caches in front are told wait for the final
        # response: after every after_request hook and the session save.
        request_finished.connect(finalize, app, weak=False)

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
            call = _caller(view)

            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                ctx = request_context()
                rs = ensure_state(ctx)
                state = rs.ward
                try:
                    outcome = authenticate(state, rs.real_request(ctx).environ)
                except BadRequestInput as e:  # answered here, whatever wraps the view
                    return bad_input_response(e)
                if isinstance(outcome, Response):
                    return _refused(state, outcome)
                if not outcome.has_scopes(required):
                    missing = ", ".join(sorted(required - outcome.scopes))
                    return _refused(
                        state,
                        error_response(403, "insufficient_scope", f"the key lacks: {missing}"),
                    )
                # View arguments only: Flask passes them by name; a positional argument
                # is a class-based view's ``self`` (flask-restx, MethodView).
                if authorize is not None and not authorize(outcome, **kwargs):
                    return _refused(
                        state,
                        error_response(403, "forbidden", "this key may not access this resource"),
                    )
                rs.principal = outcome
                return call(*args, **kwargs)

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
        credential_headers: Iterable[str] = (),
        unless: Callable[[], object] | None = None,
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
        :param credential_headers: with ``principal=``, the headers the auth library
            reads its credential from (``["X-Token"]``), when not ``Authorization`` or
            ``CACHEWARD_KEY_HEADER``; also ``CACHEWARD_CREDENTIAL_HEADERS``. Per-key mode
            refuses to start without them.
        :param unless: called with no argument after authentication (and after
            ``principal=``); when it returns true the request is served by the view and
            neither looks up nor fills the cache. What it reads is not an input of the
            response.
        """
        check_ttl(ttl)
        policy = route_policy(scope, vary, ignore_params)
        tag_tuple = tuple(tags)
        cred_tuple = tuple(credential_headers)
        if unless is not None and not callable(unless):
            raise ConfigurationError(f"unless= takes a callable, not {unless!r}")

        def decorator(view: F) -> F:
            name = getattr(view, "__qualname__", repr(view))
            if getattr(view, PROTECTED_MARK, False):
                raise UnsafeCacheOrder(name)
            foreign = foreign_auth(view)
            if foreign is not None:
                raise UnsafeCacheOrder(name, *foreign)
            route = CachedRoute(
                name, policy, ttl, tag_tuple, principal, view, cred_tuple, is_async(view), unless
            )
            for state in self._states:
                _check_per_key(state, route)
            self._routes.append(route)

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

    def purge_route(
        self,
        view: str | Callable[..., Any],
        *,
        principal: Principal | str | None = None,
        tenant: str | None = None,
        query: Query = None,
        headers: Mapping[str, str | None] | None = None,
        host: str | None = None,
        scheme: str | None = None,
        script_root: str | None = None,
        app: Flask | None = None,
        **view_args: Any,
    ) -> int:
        """Delete the stored response of one cached route for ``view_args``.

        :param view: its endpoint name or its view function.
        :param principal: whose entry (default: the request's principal); a shared
            route needs none, a tenant route may take ``tenant=`` instead.
        :param query: the query it was stored for (a string, a mapping or pairs).
        :param headers: the value of each ``vary`` header of the route (``None``: absent).
        :param host: default ``CACHEWARD_HOST``, the request's host, or ``SERVER_NAME``.
        :param scheme: default both ``http`` and ``https``.
        :returns: how many keys were deleted (one per endpoint and scheme).
        :raises ConfigurationError: a part of the key that was not given.
        """
        target = app or current_app._get_current_object()  # type: ignore[attr-defined]
        return _purge_route(
            target,
            self.state(target),
            view,
            view_args,
            principal=principal,
            tenant=tenant,
            query=query,
            headers=headers,
            host=host,
            scheme=scheme,
            script_root=script_root,
        )

    def memoize(
        self,
        ttl: float | None = None,
        scope: Scope | str = Scope.PRINCIPAL,
        *,
        principal: PrincipalSource | None = None,
        name: str | None = None,
        source_check: bool = False,
    ) -> Callable[[F], F]:
        """Cache a function's results, keyed by its qualified name, the canonical form
        of its arguments and the scope (default: the current principal's).

        An argument with no stable canonical form (an object keyed by its address, an
        unknown type) raises :class:`~cacheward.errors.UnkeyableArgument`; give its
        class ``__cache_key__()``. A result that read a request input is returned but
        not stored. See :mod:`cacheward.flask.memoize`.

        :param principal: who is calling when no cacheward route established it.
        :param name: the key's name for the function (default ``module.qualname``).
        :param source_check: put a hash of the function's source in its key.
        """
        return _memoize(ttl, scope, principal, name, source_check)  # type: ignore[return-value]

    def delete_memoized(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Delete ``func``'s result for these arguments (the current principal's, for a
        principal or tenant scope), or with no arguments every result of ``func``."""
        memo = memoized_of(func)
        args = _with_self(func, args)
        _delete_memoized(_memo_state(), memo, args, kwargs, principal_for_delete(memo))

    def delete_memoized_for(
        self, principal: Principal | str, func: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        """Delete ``principal``'s result of ``func`` for these arguments (exactly: with
        none, the result of the call with none)."""
        memo = memoized_of(func)
        args = _with_self(func, args)
        who = explicit_principal(principal)
        _delete_memoized(_memo_state(), memo, args, kwargs, who, exact=True)

    def stats(self, app: Flask | None = None) -> dict[str, Any]:
        """The guard's and the backend's counters."""
        state = self.state(app)
        out = dict(vars(state.counters))
        out["backend"] = state.backend.stats.as_dict()
        return out


def _with_self(func: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    """A bound method's object is its first argument (``delete_memoized(obj.method)``)."""
    owner = getattr(func, "__self__", None)
    return args if owner is None or not inspect.ismethod(func) else (owner, *args)


def _refused(state: State, response: Response) -> Response:
    """A 401/403/503 of a protected route. In per-key mode it varies on the credential
    headers too, so that a cache in front keeps it apart from every key's own copy."""
    if state.downstream is Downstream.PER_KEY:
        response.vary.add(state.key_header)
        response.vary.add("Authorization")
    return response


def _caller(view: Callable[..., Any]) -> Callable[..., Any]:
    """How to call ``view`` from a synchronous wrapper (``async def`` views too)."""
    if not inspect.iscoroutinefunction(view):
        return view

    def call(*args: Any, **kwargs: Any) -> Any:
        return current_app.ensure_sync(view)(*args, **kwargs)

    return call


def _check_per_key(state: State, route: CachedRoute) -> None:
    """Per-key mode tells caches in front to key on the credential headers: it must know
    every header the route's credential can come in.

    :raises ConfigurationError: a ``principal=`` route without its credential headers.
    """
    if state.downstream is not Downstream.PER_KEY or route.principal is None:
        return
    if route.credential_headers or len(state.credential_headers) > 1:
        return
    raise ConfigurationError(
        f"{route.name}: CACHEWARD_DOWNSTREAM='per-key' with principal= needs the headers the"
        " auth library reads its credential from, so that caches in front key on them:"
        " @ward.cached(..., credential_headers=['Authorization']) or"
        " CACHEWARD_CREDENTIAL_HEADERS"
    )
