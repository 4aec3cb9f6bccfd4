"""Per-application state, kept in ``app.extensions["cacheward"]``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Request

from .. import config
from ..backends.base import Backend
from ..backends.url import backend_from_url
from ..core.settings import (
    check_credential_headers,
    check_key_header,
    downstream_mode,
    required_secrets,
)
from ..errors import ConfigurationError
from ..guardstate import GuardState
from ..guardstate import logger as logger
from ..keys.store import KeyStore
from .response import downstream_headers
from .route import CachedRoute


@dataclass(kw_only=True)
class State(GuardState):
    """Everything the guard needs at request time, built once by ``init_app``."""

    backend: Backend
    keys: KeyStore | None
    key_environ: str
    #: ``(endpoint, method)`` -> whether it is served by ``@ward.cached``.
    cached_endpoints: dict[tuple[str, str], bool] = field(default_factory=dict)
    _hooks: dict[str | None, bool] = field(default_factory=dict)
    _hooks_after: dict[str | None, bool] = field(default_factory=dict)
    _host_routing: dict[str | None, bool] = field(default_factory=dict)
    _hit_headers: dict[int, list[tuple[str, str]]] = field(default_factory=dict)

    def credential_headers_of(self, route: CachedRoute | None) -> tuple[str, ...]:
        """Every header that may carry the credential of ``route``'s requests."""
        extra = route.credential_headers if route is not None else ()
        return (*self.credential_headers, "Authorization", *extra)

    def hooks_before(self, app: Flask, req: Request) -> bool:
        """Whether hooks run before the view of ``req``'s endpoint: URL value
        preprocessors or ``before_request`` handlers of the app or its blueprints.
        Memoized: Flask refuses new hooks once the first request ran."""
        endpoint = req.endpoint
        found = self._hooks.get(endpoint)
        if found is None:
            names: tuple[str | None, ...] = (None, *req.blueprints)
            before, pre = app.before_request_funcs, app.url_value_preprocessors
            found = any(before.get(n) or pre.get(n) for n in names)
            self._hooks[endpoint] = found
        return found

    def hooks_after(self, app: Flask, req: Request) -> bool:
        """Whether ``after_request`` handlers of the app or the request's blueprints run
        after the view of ``req``'s endpoint (memoized, like :meth:`hooks_before`)."""
        endpoint = req.endpoint
        found = self._hooks_after.get(endpoint)
        if found is None:
            after = app.after_request_funcs
            found = any(after.get(n) for n in (None, *req.blueprints))
            self._hooks_after[endpoint] = found
        return found

    def routes_on_host(self, app: Flask, req: Request) -> bool:
        """Whether routing chose ``req``'s view by its host (host or subdomain matching)."""
        endpoint = req.endpoint
        found = self._host_routing.get(endpoint)
        if found is None:
            rule = req.url_rule
            found = bool(
                app.url_map.host_matching
                or app.subdomain_matching
                or (rule is not None and (rule.host or rule.subdomain))
            )
            self._host_routing[endpoint] = found
        return found

    def hit_headers(self, route: CachedRoute) -> list[tuple[str, str]]:
        """The downstream headers of ``route``'s hits, computed once."""
        found = self._hit_headers.get(id(route))
        if found is None:
            ttl = route.ttl if route.ttl is not None else self.default_ttl
            found = downstream_headers(
                self.downstream, ttl, self.credential_headers_of(route), route.vary
            )
            self._hit_headers[id(route)] = found
        return found


def _get(app: Flask, name: str) -> Any:
    return app.config.get(name, config.DEFAULTS.get(name))


def build_state(app: Flask, keys: KeyStore | None, backend: Backend | None) -> State:
    """Read and check the ``CACHEWARD_*`` settings of ``app``.

    :raises ConfigurationError: a missing secret or an invalid setting.
    """
    secrets = required_secrets(app.config.get(config.SECRET), config.SECRET)
    downstream = downstream_mode(_get(app, config.DOWNSTREAM), config.DOWNSTREAM)
    key_header = str(_get(app, config.KEY_HEADER))
    check_key_header(key_header, config.KEY_HEADER)
    if backend is None:
        url = str(_get(app, config.BACKEND))
        backend = backend_from_url(url, secrets, limit=_number(app, config.MEMORY_LIMIT, int))
    strict = _get(app, config.STRICT)
    if strict is None:
        strict = bool(app.debug or app.testing)
    host = _get(app, config.HOST)
    extra = _get(app, config.CREDENTIAL_HEADERS) or ()
    if isinstance(extra, str):
        extra = (extra,)
    check_credential_headers(extra, config.CREDENTIAL_HEADERS)
    return State(
        credential_headers=(key_header, *extra),
        app_name=app.import_name,
        secrets=secrets,
        backend=backend,
        keys=keys,
        key_header=key_header,
        key_environ="HTTP_" + key_header.upper().replace("-", "_"),
        allow_query_key=bool(_get(app, config.ALLOW_QUERY_KEY)),
        strict=bool(strict),
        downstream=downstream,
        default_ttl=_number(app, config.DEFAULT_TTL, float),
        namespace=str(_get(app, config.KEY_PREFIX)),
        host=str(host).lower() if host else None,
        max_entry_bytes=_number(app, config.MAX_ENTRY_BYTES, int),
        flight_timeout=_number(app, config.SINGLE_FLIGHT_TIMEOUT, float),
        enabled=bool(_get(app, config.ENABLED)),
        reject_duplicate_params=bool(_get(app, config.REJECT_DUPLICATE_PARAMS)),
    )


def _number(app: Flask, name: str, kind: type[int] | type[float]) -> Any:
    value = _get(app, name)
    try:
        number = kind(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigurationError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise ConfigurationError(f"{name} must be a positive finite number, not {value!r}")
    return number
