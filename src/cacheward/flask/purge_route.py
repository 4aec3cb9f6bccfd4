"""``ward.purge_route``: delete one route's stored response for given view arguments.

The key of the entry is rebuilt exactly as a request would build it (the same
:func:`~cacheward.core.cachekey.build_cache_key`, route name, scope token and principal
parts), from what the caller says instead of from a request: the view arguments, the
query, the values of the route's ``vary`` headers and whose entry it is. Where a part of
the key cannot be known, it is asked for rather than guessed (a route that varies on a
header needs its value); where it can take few values, all are deleted (both schemes).
A deletion is exact: it removes one entry per endpoint and scheme, never another
principal's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from flask import Flask

from ..core.cachekey import build_cache_key
from ..core.facts import RequestFacts
from ..core.keyparts import principal_parts
from ..core.policy import Scope
from ..core.principal import Principal
from ..errors import ConfigurationError
from .context import request_context_or_none, state_of
from .route import CACHED_MARK, CachedRoute
from .state import State
from .valuestore import explicit_principal

Query = str | Mapping[str, str] | Iterable[tuple[str, str]] | None


class _Headers:
    """The ``vary`` header values the caller gave, looked up case-insensitively."""

    def __init__(self, values: Mapping[str, str | None]) -> None:
        self._values = {k.lower(): v for k, v in values.items()}

    def get(self, key: str, /) -> str | None:
        return self._values.get(key.lower())


def route_of(view: Any, method: str = "GET") -> CachedRoute | None:
    """The :class:`CachedRoute` behind a view function (through wrappers and
    class-based views' methods), if any."""
    for _ in range(16):
        if view is None:
            return None
        found = getattr(view, "__dict__", {}).get(CACHED_MARK)
        if isinstance(found, CachedRoute):
            return found
        view_class = getattr(view, "view_class", None)
        if view_class is not None:
            return route_of(getattr(view_class, method.lower(), None), method)
        view = getattr(view, "__wrapped__", None)
    return None


def _targets(app: Flask, target: str | Callable[..., Any]) -> list[tuple[str, CachedRoute]]:
    if isinstance(target, str):
        view = app.view_functions.get(target)
        if view is None:
            raise ConfigurationError(f"purge_route: no endpoint {target!r}")
        route = route_of(view)
        if route is None:
            raise ConfigurationError(f"purge_route: {target!r} is not a @ward.cached route")
        return [(target, route)]
    route = route_of(target)
    if route is None:
        raise ConfigurationError(f"purge_route: {target!r} is not a @ward.cached view")
    found = [(ep, route) for ep, view in app.view_functions.items() if route_of(view) is route]
    if not found:
        raise ConfigurationError(f"purge_route: {route.name} is not registered on {app.name}")
    return found


def _pairs(query: Query) -> tuple[tuple[str, str], ...]:
    if query is None:
        return ()
    if isinstance(query, str):
        return tuple(parse_qsl(query.lstrip("?"), keep_blank_values=True))
    if isinstance(query, Mapping):
        return tuple((str(k), str(v)) for k, v in query.items())
    return tuple((str(k), str(v)) for k, v in query)


def purge_route(
    app: Flask,
    state: State,
    target: str | Callable[..., Any],
    view_args: dict[str, Any],
    *,
    principal: Principal | str | None,
    tenant: str | None,
    query: Query,
    headers: Mapping[str, str | None] | None,
    host: str | None,
    scheme: str | None,
    script_root: str | None,
) -> int:
    """Delete the entries; the number of keys deleted (one per endpoint and scheme)."""
    ctx = request_context_or_none()
    rs = None if ctx is None else state_of(ctx)
    orig: Mapping[str, Any] = {}
    if ctx is not None:
        environ = (rs.real_request(ctx) if rs is not None else ctx.request).environ
        orig = environ.get("werkzeug.proxy_fix.orig") or environ
    host = host or state.host or orig.get("HTTP_HOST") or app.config.get("SERVER_NAME")
    if not host:
        raise ConfigurationError(
            "purge_route outside a request needs the host the entries were stored for:"
            " host='api.example.com' (or set CACHEWARD_HOST or SERVER_NAME)"
        )
    schemes = (scheme,) if scheme else ("http", "https")
    script = script_root if script_root is not None else orig.get("SCRIPT_NAME") or ""
    count = 0
    for endpoint, route in _targets(app, target):
        who = _whose(route, principal, tenant, None if rs is None else rs.principal)
        given = _Headers(headers or {})
        missing = [v for v in route.policy.vary if v not in given._values]
        if missing:
            raise ConfigurationError(
                f"purge_route: {route.name} varies on {', '.join(missing)}: say which entry,"
                " headers={name: value or None for absent}, or purge its tags= instead"
            )
        adapter = app.url_map.bind(str(host).lower(), script_name="/", url_scheme=schemes[0])
        built = adapter.build(endpoint, view_args, method="GET")
        path = unquote(urlsplit(built).path if "://" in built else built)
        for each in schemes:
            facts = RequestFacts(
                "GET",
                each,
                str(host),
                path,
                "",
                given,
                given.get(":remote-addr") or "",
                prefix=script,
                route=f"{state.app_name}\0{endpoint}\0{route.name}",
                principal=principal_parts(route.policy, who),
            )
            key, _ = build_cache_key(
                facts,
                _pairs(query),
                route.policy,
                state.scope_token(route.policy.scope, who),
                state.namespace,
                state.reject_duplicate_params,
            )
            state.backend.delete(key)
            count += 1
    return count


def _whose(
    route: CachedRoute, principal: Principal | str | None, tenant: str | None, current: Any
) -> Principal:
    scope = route.policy.scope
    if scope is Scope.SHARED:
        who = explicit_principal(principal) if principal is not None else current
        return who if isinstance(who, Principal) else Principal("\0shared")
    if principal is None and tenant is not None and scope is Scope.TENANT:
        return Principal("\0tenant", tenant=tenant)
    if principal is None:
        if not isinstance(current, Principal):
            raise ConfigurationError(
                f"purge_route: {route.name} is scope={scope.value!r}: say whose entry,"
                " principal=Principal(id, tenant=...) (or call it in their request)"
            )
        return current
    if isinstance(principal, str) and (
        route.policy.keys_header(":scopes") or route.policy.keys_header(":key-id")
    ):
        raise ConfigurationError(
            f"purge_route: {route.name} varies on the key's scopes or id: pass the Principal"
        )
    who = explicit_principal(principal)
    if tenant is not None and who.tenant is None:
        who = Principal(who.id, tenant, who.scopes, who.key_id)
    return who
