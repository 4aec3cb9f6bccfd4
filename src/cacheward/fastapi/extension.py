"""``Cacheward`` for FastAPI: ``protected`` is a security dependency, ``cached`` a
decorator under the route, and the store decision is made at the ASGI boundary.

.. code-block:: python

    ward = Cacheward(app, keys=SQLiteKeyStore("keys.db"), secret=SECRET)

    @app.get("/reports/{report_id}")
    @ward.cached(ttl=60)                       # scope="principal" by default
    async def report(report_id: str,
                     principal: Principal = Security(ward.protected("reports:read"))):
        ...

Why this shape: FastAPI users authenticate with dependencies (``Security(APIKeyHeader)``,
``Depends(get_current_user)``), and fastapi-cache2 users put ``@cache`` under
``@app.get``. FastAPI resolves every dependency before it calls the endpoint, so a cache
that lives in the endpoint wrapper can only look up after ``protected`` authenticated and
authorized the request, and ``cached`` refuses (at import time) an endpoint that does not
take the principal from ``ward.protected``: the lookup cannot run first.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeVar, get_args, get_origin

from fastapi import HTTPException, Request, Security
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute
from fastapi.security import (
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBearer,
    SecurityScopes,
)
from starlette.concurrency import run_in_threadpool

from ..asgi.auth import Authorize, Refusal, authenticate
from ..asgi.context import Recorder, current
from ..asgi.endpoint import cached_arguments, request_state, run_cached
from ..asgi.guard import BaseCacheward
from ..asgi.principal import TrackedPrincipal
from ..asgi.state import Route
from ..asgi.tracked import TrackedRequest
from ..core.inputs import Kind
from ..core.policy import Scope, route_policy
from ..core.principal import Principal
from ..errors import ConfigurationError, UnsafeCacheOrder
from .analysis import PROTECTOR_MARK, analyze, is_protector

F = TypeVar("F", bound=Callable[..., Any])
_INJECTED = "cacheward_request__"


class Cacheward(BaseCacheward):
    """API-key authentication, authorization and a poisoning-proof response cache for
    FastAPI (and any Starlette application through :meth:`wrap`).

    :param app: the application, or ``None`` to call :meth:`init_app` later.
    :param keys: a key store: ``MemoryKeyStore``, ``SQLiteKeyStore`` (verified in a
        worker thread), ``RedisKeyStore`` or :class:`~cacheward.asgi.AsyncRedisKeyStore`.
    :param backend: an :class:`~cacheward.asgi.AsyncBackend` or a URL (``memory://``,
        ``redis://host:port/db``, ``redis+cluster://host:port``); default ``memory://``.
    :param secret: required; the secret (or list, oldest first) that keys every hash.
    :param settings: the Flask guard's settings in lower case: ``key_header``,
        ``downstream`` (``private``/``no-store``/``per-key``), ``default_ttl``,
        ``strict`` (default: ``app.debug``), ``host``, ``allow_query_key``,
        ``max_entry_bytes``, ``flight_timeout``, ``enabled``, ``namespace``,
        ``reject_duplicate_params``, ``credential_headers``.

    .. versionadded:: 0.1
    """

    # -- authentication -------------------------------------------------------------------

    def protected(self, *scopes: str, authorize: Authorize | None = None) -> Callable[..., Any]:
        """A dependency that authenticates the request's API key, requires ``scopes``
        and ``authorize(principal, **path_params)`` (sync or async), and returns the
        :class:`Principal`. Use it with ``Security(...)`` or ``Depends(...)``.

        Answers 401 (missing, malformed, unknown, revoked key), 403 (a scope missing or
        ``authorize`` false), 400 (two credentials, a key in the URL) and 503 (the key
        store is down), each with ``Cache-Control: no-store``. OpenAPI shows the key
        header and bearer schemes.
        """
        required = frozenset(scopes)
        key_scheme = APIKeyHeader(
            name=self.key_header, auto_error=False, scheme_name="cacheward API key"
        )
        bearer_scheme = HTTPBearer(auto_error=False, scheme_name="cacheward bearer")

        async def protector(
            request: Request,
            security_scopes: SecurityScopes,
            _key: str | None = Security(key_scheme),  # noqa: B008 - FastAPI's idiom
            _bearer: HTTPAuthorizationCredentials | None = Security(bearer_scheme),  # noqa: B008
        ) -> Principal:
            rs = current.get()
            if rs is None:
                raise ConfigurationError(
                    "ward.protected ran without the guard's middleware: call"
                    " Cacheward(app, ...) or ward.init_app(app)"
                )
            # FastAPI's own idiom, Security(ward.protected(), scopes=[...]), adds to them.
            wanted = required.union(security_scopes.scopes) if security_scopes.scopes else required
            outcome = await authenticate(
                rs.ward, request.scope, wanted, authorize, request.path_params
            )
            if isinstance(outcome, Refusal):
                rs.extra["refused"] = True
                raise HTTPException(outcome.status, outcome.body(), outcome.all_headers())
            rs.principal = outcome
            return outcome

        setattr(protector, PROTECTOR_MARK, True)
        return protector

    # -- caching --------------------------------------------------------------------------

    def cached(
        self,
        ttl: float | None = None,
        scope: Scope | str = Scope.PRINCIPAL,
        vary: Iterable[str] = (),
        tags: Iterable[str] = (),
        ignore_params: Iterable[str] | None = None,
    ) -> Callable[[F], F]:
        """Cache the endpoint's responses, keyed by everything they may depend on.

        Place it directly under ``@app.get(...)``; the endpoint must take its principal
        from ``Security(ward.protected(...))`` (or ``Depends``), else
        :class:`~cacheward.errors.UnsafeCacheOrder` is raised here. Declared
        ``Header()`` and ``Cookie()`` parameters are added to the key; a response that
        read anything else outside its key is not stored (raises in strict mode).

        :param ttl: seconds to keep an entry (default ``default_ttl``).
        :param scope: ``"principal"`` (default), ``"tenant"`` or ``"shared"``.
        :param vary: header names the response depends on (beyond declared ones).
        :param tags: names to purge the route's entries by.
        :param ignore_params: query parameters left out of the key (default: tracking
            parameters such as ``utm_*``); ``()`` keys every parameter.
        """
        scope, vary_given = cached_arguments(self, ttl, scope, vary)
        tag_tuple = tuple(tags)
        ignored = None if ignore_params is None else frozenset(ignore_params)

        def decorator(endpoint: F) -> F:
            name = getattr(endpoint, "__qualname__", repr(endpoint))
            # In the key: two apps on one store never share entries of same-named endpoints.
            key_name = f"{getattr(endpoint, '__module__', '')}.{name}"
            try:
                sig = inspect.signature(endpoint, eval_str=True)
            except (NameError, TypeError):
                sig = inspect.signature(endpoint)
            principal_params = [
                p.name for p in sig.parameters.values() if is_protector(_dependency_of(p))
            ]
            if not principal_params:
                raise UnsafeCacheOrder(
                    name,
                    message=f"{name}: @ward.cached needs the endpoint to take its principal from"
                    " ward.protected, so that no stored response is served before"
                    " authentication and authorization run: add a parameter such as"
                    " `principal: Principal = Security(ward.protected(...))`.",
                )
            request_param = next(
                (p.name for p in sig.parameters.values() if _is_request(p.annotation)), None
            )
            is_async = inspect.iscoroutinefunction(endpoint)
            params = list(sig.parameters.values())
            if request_param is None:
                params.append(
                    inspect.Parameter(_INJECTED, inspect.Parameter.KEYWORD_ONLY, annotation=Request)
                )

            # Per endpoint (one endpoint may serve several routes): the route's dependency
            # tree says what its parameters read, so the Route is made on first use.
            routes: dict[int, Route] = {}
            # Every dependency of each route's tree: one FastAPI solves through
            # app.dependency_overrides is not the one analyze() read.
            trees: dict[int, frozenset[Any]] = {}

            def route_for(request: Request) -> Route:
                api_route = request.scope.get("route")
                found = routes.get(id(api_route))
                if found is not None:
                    return found
                creds = frozenset(h.lower() for h in (self.state.credential_names()))
                dependant = getattr(api_route, "dependant", None)
                declared = analyze(dependant, creds, _INJECTED) if dependant is not None else None
                reads: set[Any] = set()
                extra_vary: set[str] = set()
                if declared is None:
                    reads.add((Kind.UNKNOWN, "an endpoint outside a FastAPI route"))
                else:
                    reads = declared.reads | _unseen_layers(api_route, wrapper)
                    extra_vary = declared.vary
                all_vary = tuple(sorted(set(vary_given) | extra_vary))
                policy = route_policy(scope, all_vary, ignored)
                made = Route(name, policy, ttl, tag_tuple, frozenset(reads), key_name)
                trees[id(api_route)] = _calls(dependant)
                routes[id(api_route)] = made
                return made

            @functools.wraps(endpoint)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                request: Request = (
                    kwargs.pop(_INJECTED) if request_param is None else kwargs[request_param]
                )
                rs = request_state(request.scope, "@ward.cached ran without the guard's middleware")

                async def run(rec: Recorder | None) -> Any:
                    if rec is not None:
                        if _overridden(request, trees.get(id(request.scope.get("route")))):
                            rec.unknown("a dependency replaced through app.dependency_overrides")
                        if request_param is not None:
                            kwargs[request_param] = TrackedRequest(request, rec)
                        for pname in principal_params:
                            value = kwargs.get(pname)
                            if isinstance(value, Principal):
                                kwargs[pname] = TrackedPrincipal(value, rec)
                    return await _call(endpoint, is_async, args, kwargs)

                return await run_cached(rs, route_for(request), request, run)

            wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
            return wrapper  # type: ignore[return-value]

        return decorator


def _calls(dependant: Any) -> frozenset[Any]:
    """The callables of a dependency tree (the keys ``dependency_overrides`` uses)."""
    found: set[Any] = set()
    stack = list(getattr(dependant, "dependencies", ()))
    while stack:
        sub = stack.pop()
        call = getattr(sub, "call", None)
        try:
            found.add(call)
        except TypeError:  # unhashable: FastAPI could not override it either
            pass
        stack.extend(getattr(sub, "dependencies", ()))
    return frozenset(found)


def _overridden(request: Request, calls: frozenset[Any] | None) -> bool:
    """Whether ``app.dependency_overrides`` replaces a dependency of this route."""
    route = request.scope.get("route")
    provider = getattr(route, "dependency_overrides_provider", None) or request.scope.get("app")
    overrides = getattr(provider, "dependency_overrides", None)
    if not overrides:
        return False
    return calls is None or any(call in overrides for call in calls)


def _is_request(annotation: Any) -> bool:
    """Whether FastAPI injects the request into a parameter so annotated: ``Request``,
    a subclass of it, or either inside ``Annotated[...]``."""
    if annotation == "Request":
        return True
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return inspect.isclass(annotation) and issubclass(annotation, Request)


def _dependency_of(param: inspect.Parameter) -> Any:
    """The callable a ``Depends``/``Security`` parameter (default or ``Annotated``) names."""
    candidates = [param.default]
    metadata = getattr(param.annotation, "__metadata__", ())
    candidates.extend(metadata)
    for c in candidates:
        if isinstance(c, DependsParam):
            return c.dependency
    return None


async def _call(
    endpoint: Callable[..., Any], is_async: bool, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Run the endpoint as FastAPI would: a sync one in the thread pool."""
    if is_async:
        return await endpoint(*args, **kwargs)
    return await run_in_threadpool(endpoint, *args, **kwargs)


def _unseen_layers(api_route: Any, wrapper: Any) -> set[Any]:
    """Code FastAPI runs around ``@ward.cached`` that gets Starlette's own ``Request``: a
    decorator above it, or a route class with its own handler. What they read is not
    recorded, so a route that has either is never stored (it is still served)."""
    unseen: set[Any] = set()
    endpoint = getattr(api_route, "endpoint", wrapper)
    if endpoint is not wrapper:
        name = f"{getattr(endpoint, '__module__', '?')}.{getattr(endpoint, '__qualname__', '?')}"
        unseen.add((Kind.UNKNOWN, f"a decorator above @ward.cached ({name})"))
    if getattr(type(api_route), "get_route_handler", None) is not APIRoute.get_route_handler:
        unseen.add(
            (Kind.UNKNOWN, f"a route class with its own handler ({type(api_route).__name__})")
        )
    return unseen
