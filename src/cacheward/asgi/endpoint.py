"""What the FastAPI and the Starlette ``cached`` decorators share: checking their
arguments, and running a cached endpoint behind the lookup (a hit or a refusal answers
without it; an exception it raises is the guard's to know of)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.responses import JSONResponse, Response

from ..core.policy import KeyPolicy, Scope, route_scope
from ..core.settings import check_ttl
from ..errors import ConfigurationError
from .auth import Refusal
from .context import Recorder, RequestState, current
from .guard import BaseCacheward, hit_response
from .serve import Hit, before_endpoint, endpoint_raised
from .state import Route


def cached_arguments(
    ward: BaseCacheward, ttl: float | None, scope: Scope | str, vary: Iterable[str]
) -> tuple[Scope, tuple[str, ...]]:
    """The scope and ``vary`` of ``@ward.cached(...)``, checked at import time.

    :raises ConfigurationError: a bad scope, ``ttl`` or header name, or a ``vary`` name
        that carries the credential.
    """
    chosen = route_scope(scope)
    check_ttl(ttl)
    names = tuple(vary)
    KeyPolicy(vary=names)  # checks the names now
    ward._refuse_credential_vary(names)
    return chosen, names


#: Why a route reached through code below the capture is not stored.
UNSEEN_BETWEEN = (
    "what code between the app's middleware and the route reads and rewrites (a Mount's"
    " or a Route's own middleware, a route's max_body_size, a route added after startup)"
)


def _below_unseen_code(rs: RequestState, request: Any) -> bool:
    """Whether code the guard cannot see lies between the capture and this endpoint: it
    wrapped the ``send`` the route's ``Request`` holds, or the route (or a ``Mount`` of
    it) has middleware of its own, which may answer with the capture's ``send``."""
    if getattr(request, "_send", None) is not rs.route_send:
        return True
    endpoint = request.scope.get("endpoint")
    return not rs.ward.direct_endpoints.get(id(endpoint), False)


def request_state(scope: Any, missing: str) -> RequestState:
    """The guard's state of the running request, keyed by the ``scope`` the endpoint
    sees (a middleware may have copied and rewritten the one the guard's middleware saw).

    :raises ConfigurationError: ``missing``: the guard's middleware did not run.
    """
    rs = current.get()
    if rs is None:
        raise ConfigurationError(missing)
    rs.scope = scope
    return rs


def refusal_response(rs: RequestState, outcome: Refusal) -> Response:
    """The guard's own 4xx/503 (``Cache-Control: no-store``)."""
    rs.extra["refused"] = True
    return JSONResponse(outcome.body(), outcome.status, headers=outcome.all_headers())


async def run_cached(
    rs: RequestState,
    route: Route,
    request: Any,
    run: Callable[[Recorder | None], Awaitable[Any]],
) -> Any:
    """Look ``route`` up for ``request``, then (on a miss) ``run(recorder)``: the
    endpoint, given the recorder its reads go to (``None`` when nothing is recorded)."""
    if rs.route is not None:
        # A cached endpoint called by another in the same request: its reads and its
        # result are the caller's, which the guard does not see apart. Neither is stored.
        if rs.rec is not None:
            rs.rec.unknown(f"a cached endpoint it called ({route.name})")
        return await run(None)
    outcome = await before_endpoint(rs, route)
    if isinstance(outcome, Hit):
        return hit_response(outcome)
    if isinstance(outcome, Refusal):
        return refusal_response(rs, outcome)
    if rs.rec is not None and _below_unseen_code(rs, request):
        rs.rec.unknown(UNSEEN_BETWEEN)
    try:
        return await run(rs.rec)
    except Exception:
        endpoint_raised(rs)
        raise
