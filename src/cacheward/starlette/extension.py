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
from collections.abc import Awaitable, Callable, Iterable

from starlette.requests import Request
from starlette.responses import Response

from ..asgi.auth import Authorize, Refusal, authenticate
from ..asgi.context import Recorder, current
from ..asgi.endpoint import cached_arguments, refusal_response, request_state, run_cached
from ..asgi.guard import BaseCacheward
from ..asgi.principal import TrackedPrincipal
from ..asgi.state import Route
from ..asgi.tracked import TrackedRequest
from ..core.policy import Scope, route_policy
from ..core.principal import Principal
from ..errors import ConfigurationError, UnsafeCacheOrder

Endpoint = Callable[[Request], Awaitable[Response]]
_PROTECTED = "__cacheward_starlette_protected__"


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
                    return refusal_response(rs, outcome)
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
        scope, names = cached_arguments(self, ttl, scope, vary)
        policy = route_policy(scope, names, ignore_params)
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
                rs = request_state(request.scope, "@ward.cached ran without ward.init_app(app)")

                async def run(rec: Recorder | None) -> Response:
                    return await endpoint(request if rec is None else TrackedRequest(request, rec))

                response: Response = await run_cached(rs, route, request, run)
                return response

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


