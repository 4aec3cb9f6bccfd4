"""The ASGI guard's settings and per-application state, built once at start-up.

The settings are the Flask guard's ``CACHEWARD_*`` settings, given as keyword arguments
(``Cacheward(app, secret=..., downstream="no-store")``), with the same defaults.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from ..core.cachekey import CacheKey, principal_scope, scope_token, tenant_scope
from ..core.policy import Scope
from ..core.principal import Principal
from ..core.secret import Secrets
from ..errors import ConfigurationError
from ..flask.config import DEFAULT_TTL as _TTL
from ..flask.config import DEFAULTS, Downstream
from ..flask.config import MAX_ENTRY_BYTES as _MAX
from ..flask.config import SINGLE_FLIGHT_TIMEOUT as _FLIGHT
from ..flask.response import downstream_headers
from .backends import AsyncBackend, async_backend_from_url
from .keys import AsyncKeyStore, as_async_keys

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


@dataclass(frozen=True, eq=False)
class Route:
    """What ``@ward.cached`` knows about one endpoint."""

    name: str
    policy: Any  # KeyPolicy
    ttl: float | None
    tags: tuple[str, ...]
    #: Reads the endpoint's declared parameters make, known before it runs.
    declared: frozenset[Any] = frozenset()
    #: What the cache key calls the endpoint (its module and qualified name).
    key_name: str = ""

    @property
    def vary(self) -> tuple[str, ...]:
        return self.policy.vary  # type: ignore[no-any-return]


@dataclass
class State:
    """Everything the ASGI guard needs at request time."""

    secrets: Secrets
    backend: AsyncBackend
    keys: AsyncKeyStore | None
    key_header: str
    allow_query_key: bool
    strict: bool
    downstream: Downstream
    default_ttl: float
    namespace: str
    host: str | None
    max_entry_bytes: int
    flight_timeout: float
    enabled: bool
    reject_duplicate_params: bool
    credential_headers: tuple[str, ...] = ()
    app_name: str = ""
    counters: Counters = field(default_factory=Counters)
    warned: set[tuple[str, str]] = field(default_factory=set)
    _scopes: dict[tuple[Scope, str, str | None], str] = field(default_factory=dict)
    _hit_headers: dict[int, list[tuple[bytes, bytes]]] = field(default_factory=dict)
    keys_memo: dict[tuple[Any, ...], tuple[CacheKey, frozenset[str]]] = field(default_factory=dict)

    @property
    def key_header_bytes(self) -> bytes:
        return self.key_header.lower().encode("latin-1")

    def remember_key(self, memo: tuple[Any, ...], made: tuple[CacheKey, frozenset[str]]) -> None:
        if len(self.keys_memo) >= _KEY_MEMO_LIMIT:
            self.keys_memo.clear()
        self.keys_memo[memo] = made

    def scope_token(self, scope: Scope, principal: Principal) -> str:
        memo = (scope, principal.id, principal.tenant)
        token = self._scopes.get(memo)
        if token is None:
            token = scope_token(scope, principal, self.secrets)
            if len(self._scopes) >= _SCOPE_CACHE_LIMIT:
                self._scopes.clear()
            self._scopes[memo] = token
        return token

    def credential_names(self) -> tuple[str, ...]:
        return (*self.credential_headers, "Authorization")

    def hit_headers(self, route: Route) -> list[tuple[bytes, bytes]]:
        """The downstream headers of ``route``'s hits, computed once."""
        found = self._hit_headers.get(id(route))
        if found is None:
            ttl = route.ttl if route.ttl is not None else self.default_ttl
            pairs = downstream_headers(self.downstream, ttl, self.credential_names(), route.vary)
            found = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in pairs]
            self._hit_headers[id(route)] = found
        return found

    def principal_scope(self, principal_id: str) -> str:
        return principal_scope(principal_id, self.secrets)

    def tenant_scope(self, tenant: str) -> str:
        return tenant_scope(tenant, self.secrets)

    def backend_failed(self, error: BaseException) -> None:
        self.counters.backend_errors += 1
        self.warn_once(
            "*",
            f"backend:{type(error).__name__}",
            f"cacheward: cache backend failed ({type(error).__name__}); serving uncached",
        )

    def warn_once(self, route: str, what: str, message: str) -> None:
        marker = (route, what)
        if marker in self.warned:
            return
        self.warned.add(marker)
        logger.warning(message)


def build_state(
    *,
    secret: str | bytes | list[str | bytes] | None,
    keys: object,
    backend: AsyncBackend | str | None,
    key_header: str = "X-API-Key",
    allow_query_key: bool = False,
    strict: bool = False,
    downstream: str = "private",
    default_ttl: float = float(DEFAULTS[_TTL]),  # type: ignore[arg-type]
    namespace: str = "cw",
    host: str | None = None,
    max_entry_bytes: int = int(DEFAULTS[_MAX]),  # type: ignore[call-overload]
    flight_timeout: float = float(DEFAULTS[_FLIGHT]),  # type: ignore[arg-type]
    enabled: bool = True,
    reject_duplicate_params: bool = True,
    credential_headers: tuple[str, ...] = (),
    app_name: str = "",
) -> State:
    """Check the settings and build the state.

    :raises ConfigurationError: a missing secret or an invalid setting.
    """
    if not secret:
        raise ConfigurationError(
            "Cacheward(secret=...) is required: it keys the cache scopes and entry tags."
            " Generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    secrets = Secrets(secret)
    try:
        mode = Downstream(downstream)
    except ValueError:
        choices = ", ".join(d.value for d in Downstream)
        raise ConfigurationError(f"downstream must be one of: {choices}") from None
    if not key_header or not key_header.replace("-", "").isalnum():
        raise ConfigurationError(f"key_header is not a header name: {key_header!r}")
    if key_header.lower() == "authorization":
        raise ConfigurationError(
            "key_header: Authorization: Bearer is always accepted; name another header"
        )
    for name in credential_headers:
        if not isinstance(name, str) or not name.replace("-", "").isalnum():
            raise ConfigurationError(f"credential_headers: not a header name: {name!r}")
    for label, number in (
        ("default_ttl", default_ttl),
        ("max_entry_bytes", max_entry_bytes),
        ("flight_timeout", flight_timeout),
    ):
        if (
            isinstance(number, bool)
            or not isinstance(number, (int, float))
            or not math.isfinite(number)
            or number <= 0
        ):
            raise ConfigurationError(f"{label} must be a positive finite number, not {number!r}")
    if backend is None:
        backend = "memory://"
    if isinstance(backend, str):
        backend = async_backend_from_url(backend, secrets)
    if not isinstance(backend, AsyncBackend):
        raise ConfigurationError(
            f"backend= must be an AsyncBackend or a URL, not {type(backend).__name__}"
            " (the ASGI guard awaits its backend: use cacheward.asgi.AsyncMemoryBackend or"
            " AsyncRedisBackend)"
        )
    return State(
        secrets=secrets,
        backend=backend,
        keys=None if keys is None else as_async_keys(keys),
        key_header=key_header,
        allow_query_key=allow_query_key,
        strict=strict,
        downstream=mode,
        default_ttl=float(default_ttl),
        namespace=namespace,
        host=host.lower() if host else None,
        max_entry_bytes=int(max_entry_bytes),
        flight_timeout=float(flight_timeout),
        enabled=enabled,
        reject_duplicate_params=reject_duplicate_params,
        credential_headers=(key_header, *credential_headers),
        app_name=app_name,
    )
