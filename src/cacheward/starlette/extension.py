"""The guard for plain Starlette endpoints (``async def endpoint(request)``).

Starlette has no dependency injection, so the order is the Flask guard's: ``protected``
above ``cached``, both under the route, and the endpoint asks ``ward.principal(request)``
for the caller (a recording principal, as ``cacheward.current_principal`` in Flask):

.. code-block:: python

    ward = Cacheward(keys=SQLiteKeyStore("keys.db"), secret=SECRET)

    @ward.protected("reports:read")
    @ward.cached(ttl=60)
    async def report(request):
        return JSONResponse({"for": ward.principal(request).id})

    app = Starlette(routes=[Route("/report", report)])
    ward.init_app(app)

``cached`` placed above ``protected`` raises :class:`~cacheward.errors.UnsafeCacheOrder`
at import time; a ``cached`` endpoint reached without ``protected`` is served uncached.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..asgi.auth import Authorize, Refusal, authenticate
from ..asgi.context import current
from ..asgi.guard import BaseCacheward, hit_response
from ..asgi.principal import TrackedPrincipal
from ..asgi.serve import Hit, before_endpoint, endpoint_raised
from ..asgi.state import Route
from ..asgi.tracked import TrackedRequest
from ..core.policy import KeyPolicy, Scope
from ..core.principal import Principal
from ..errors import ConfigurationError, UnsafeCacheOrder

Endpoint = Callable[[Request], Awaitable[Response]]
_PROTECTED = "__cacheward_starlette_protected__"


def _refusal(rs: Any, outcome: Refusal) -> Response:
    rs.extra["refused"] = True
    return JSONResponse(outcome.body(), outcome.status, headers=outcome.all_headers())


class Cacheward(BaseCacheward):
    """The Starlette guard: the same settings, boundary and backends as
    :class:`cacheward.fastapi.Cacheward`, with decorators instead of dependencies.

    .. versionadded:: 0.1
    """

    def protected(
        self, *scopes: str, authorize: Authorize | None = None
    ) -> Callable[[Endpoint], Endpoint]:
        """Require a valid key holding ``scopes`` and ``authorize(principal,
        **path_params)`` before the endpoint (and any lookup) runs."""
        required = frozenset(scopes)

        def decorator(endpoint: Endpoint) -> Endpoint:
            @functools.wraps(endpoint)
            async def wrapper(request: Request) -> Response:
                rs = current.get()
                if rs is None:
                    raise ConfigurationError("ward.protected ran without ward.init_app(app)")
                outcome = await authenticate(
                    rs.ward, request.scope, required, authorize, request.path_params
                )
                if isinstance(outcome, Refusal):
                    return _refusal(rs, outcome)
                rs.principal = outcome
                return await endpoint(request)

            setattr(wrapper, _PROTECTED, True)
            return wrapper

        return decorator

    def cached(
        self,
        ttl: float | None = None,
        scope: Scope | str = Scope.PRINCIPAL,
        vary: Iterable[str] = (),
        tags: Iterable[str] = (),
        ignore_params: Iterable[str] | None = None,
    ) -> Callable[[Endpoint], Endpoint]:
        """Cache the endpoint's responses; place it *below* :meth:`protected`."""
        try:
            scope = Scope(scope)
        except ValueError:
            raise ConfigurationError(
                f"scope must be 'principal', 'tenant' or 'shared', not {scope!r}"
            ) from None
        if ttl is not None and (
            isinstance(ttl, bool)
            or not isinstance(ttl, (int, float))
            or not math.isfinite(ttl)
            or ttl <= 0
        ):
            raise ConfigurationError(f"ttl must be a positive finite number, not {ttl!r}")
        vary = tuple(vary)
        self._refuse_credential_vary(vary)
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

        def decorator(endpoint: Endpoint) -> Endpoint:
            name = getattr(endpoint, "__qualname__", repr(endpoint))
            # In the key: two apps on one store never share entries of same-named endpoints.
            key_name = f"{getattr(endpoint, '__module__', '')}.{name}"
            if getattr(endpoint, _PROTECTED, False):
                raise UnsafeCacheOrder(name)
            if not inspect.iscoroutinefunction(endpoint):
                raise ConfigurationError(f"{name}: @ward.cached needs an async def endpoint")
            route = Route(name, policy, ttl, tag_tuple, key_name=key_name)

            @functools.wraps(endpoint)
            async def wrapper(request: Request) -> Response:
                rs = current.get()
                if rs is None:
                    raise ConfigurationError("@ward.cached ran without ward.init_app(app)")
                # Keyed by the scope the endpoint sees (a middleware may have rewritten a copy).
                rs.scope = request.scope  # type: ignore[assignment]
                outcome = await before_endpoint(rs, route)
                if isinstance(outcome, Hit):
                    return hit_response(outcome)
                if isinstance(outcome, Refusal):
                    return _refusal(rs, outcome)
                if rs.rec is not None:
                    request = TrackedRequest(request, rs.rec)
                try:
                    return await endpoint(request)
                except Exception:
                    endpoint_raised(rs)
                    raise

            return wrapper

        return decorator

    @staticmethod
    def principal(request: Request | None = None) -> Principal | None:
        """The caller of the current request (``None`` before ``protected`` ran); inside
        a cached endpoint each field read is recorded."""
        rs = current.get()
        if rs is None or rs.principal is None:
            return None
        if rs.rec is not None and rs.rec.on:
            return TrackedPrincipal(rs.principal, rs.rec)  # type: ignore[return-value]
        return rs.principal


