"""Per-application state, kept in ``app.extensions["cacheward"]``."""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Request

from ..backends.base import Backend
from ..backends.url import backend_from_url
from ..core.cachekey import CacheKey, principal_scope, scope_token, tenant_scope
from ..core.policy import Scope
from ..core.principal import Principal
from ..core.secret import Secrets
from ..errors import ConfigurationError
from ..keys.store import KeyStore
from . import config
from .response import downstream_headers
from .route import CachedRoute

logger = logging.getLogger("cacheward")

_SCOPE_CACHE_LIMIT = 4096
_KEY_MEMO_LIMIT = 8192


@dataclass
class Counters:
    """What the guard counts on top of the backend's own statistics."""

    hits: int = 0
    misses: int = 0
    stored: int = 0
    not_stored: int = 0
    unkeyed_input: int = 0
    backend_errors: int = 0
    bypass: int = 0
    foreign_entries: int = 0


@dataclass
class State:
    """Everything the guard needs at request time, built once by ``init_app``."""

    secrets: Secrets
    backend: Backend
    keys: KeyStore | None
    key_header: str
    key_environ: str
    allow_query_key: bool
    strict: bool
    downstream: config.Downstream
    default_ttl: float
    namespace: str
    host: str | None
    max_entry_bytes: int
    flight_timeout: float
    enabled: bool
    reject_duplicate_params: bool
    #: The key header and ``CACHEWARD_CREDENTIAL_HEADERS`` (``Authorization`` is implied).
    credential_headers: tuple[str, ...] = ()
    #: The application's import name: apps sharing one backend never share entries.
    app_name: str = ""
    counters: Counters = field(default_factory=Counters)
    warned: set[tuple[str, str]] = field(default_factory=set)
    #: ``(endpoint, method)`` -> whether it is served by ``@ward.cached``.
    cached_endpoints: dict[tuple[str, str], bool] = field(default_factory=dict)
    _hooks: dict[str | None, bool] = field(default_factory=dict)
    _hooks_after: dict[str | None, bool] = field(default_factory=dict)
    _host_routing: dict[str | None, bool] = field(default_factory=dict)
    _scopes: dict[tuple[Scope, str, str | None], str] = field(default_factory=dict)
    _hit_headers: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    keys_memo: dict[tuple[Any, ...], tuple[CacheKey, frozenset[str]]] = field(default_factory=dict)

    def remember_key(self, memo: tuple[Any, ...], made: tuple[CacheKey, frozenset[str]]) -> None:
        """Keep a built key for requests with the very same raw inputs (bounded)."""
        if len(self.keys_memo) >= _KEY_MEMO_LIMIT:
            self.keys_memo.clear()
        self.keys_memo[memo] = made

    _lock: threading.Lock = field(default_factory=threading.Lock)

    def scope_token(self, scope: Scope, principal: Principal) -> str:
        """The scope token of ``principal`` for ``scope``, memoized (an HMAC otherwise)."""
        memo = (scope, principal.id, principal.tenant)
        token = self._scopes.get(memo)
        if token is None:
            token = scope_token(scope, principal, self.secrets)
            if len(self._scopes) >= _SCOPE_CACHE_LIMIT:
                self._scopes.clear()
            self._scopes[memo] = token
        return token

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

    def backend_failed(self, error: Exception) -> None:
        """Count and log (once per kind) a backend failure; the request goes on uncached."""
        self.counters.backend_errors += 1
        self.warn_once(
            "*",
            f"backend:{type(error).__name__}",
            f"cacheward: cache backend failed ({type(error).__name__}); serving uncached",
        )

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

    def principal_scope(self, principal_id: str) -> str:
        return principal_scope(principal_id, self.secrets)

    def tenant_scope(self, tenant: str) -> str:
        return tenant_scope(tenant, self.secrets)

    def warn_once(self, route: str, what: str, message: str) -> None:
        """Log ``message`` once per route and input."""
        marker = (route, what)
        if marker in self.warned:
            return
        with self._lock:
            if marker in self.warned:
                return
            self.warned.add(marker)
        logger.warning(message)


def _get(app: Flask, name: str) -> Any:
    return app.config.get(name, config.DEFAULTS.get(name))


def build_state(app: Flask, keys: KeyStore | None, backend: Backend | None) -> State:
    """Read and check the ``CACHEWARD_*`` settings of ``app``.

    :raises ConfigurationError: a missing secret or an invalid setting.
    """
    secret = app.config.get(config.SECRET)
    if not secret:
        raise ConfigurationError(
            "CACHEWARD_SECRET is required: it keys the cache scopes and entry tags."
            " Generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    secrets = Secrets(secret)
    try:
        downstream = config.Downstream(_get(app, config.DOWNSTREAM))
    except ValueError:
        choices = ", ".join(d.value for d in config.Downstream)
        raise ConfigurationError(f"CACHEWARD_DOWNSTREAM must be one of: {choices}") from None
    key_header = str(_get(app, config.KEY_HEADER))
    if not key_header or not key_header.replace("-", "").isalnum():
        raise ConfigurationError(f"CACHEWARD_KEY_HEADER is not a header name: {key_header!r}")
    if key_header.lower() == "authorization":
        raise ConfigurationError(
            "CACHEWARD_KEY_HEADER: Authorization: Bearer is always accepted; name another header"
        )
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
    for name in extra:
        if not isinstance(name, str) or not name.replace("-", "").isalnum():
            raise ConfigurationError(f"CACHEWARD_CREDENTIAL_HEADERS: not a header name: {name!r}")
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
