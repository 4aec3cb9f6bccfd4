"""What the Flask and the ASGI guard's per-application state share: memoized scope
tokens and cache keys, and logging a failure once.

Framework-free, but not in :mod:`cacheward.core`: it logs.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from .core.cachekey import CacheKey, principal_scope, scope_token, tenant_scope
from .core.downstream import Downstream
from .core.policy import Scope
from .core.principal import Principal
from .core.secret import Secrets
from .core.settings import Counters

logger = logging.getLogger("cacheward")

_SCOPE_CACHE_LIMIT = 4096
_KEY_MEMO_LIMIT = 8192
_WARN_LOCK = threading.Lock()


@dataclass(kw_only=True)
class GuardState:
    """The settings both guards have, and what they memoize; each guard's ``State``
    adds its backend, key store and framework's own."""

    secrets: Secrets
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
    #: The key header and the other credential headers (``Authorization`` is implied).
    credential_headers: tuple[str, ...] = ()
    #: The application's name: apps sharing one backend never share entries.
    app_name: str = ""
    counters: Counters = field(default_factory=Counters)
    warned: set[tuple[str, str]] = field(default_factory=set)
    _scopes: dict[tuple[Scope, str, str | None], str] = field(default_factory=dict)
    keys_memo: dict[tuple[Any, ...], tuple[CacheKey, frozenset[str]]] = field(default_factory=dict)

    def remember_key(self, memo: tuple[Any, ...], made: tuple[CacheKey, frozenset[str]]) -> None:
        """Keep a built key for requests with the very same raw inputs (bounded)."""
        if len(self.keys_memo) >= _KEY_MEMO_LIMIT:
            self.keys_memo.clear()
        self.keys_memo[memo] = made

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

    def principal_scope(self, principal_id: str) -> str:
        return principal_scope(principal_id, self.secrets)

    def tenant_scope(self, tenant: str) -> str:
        return tenant_scope(tenant, self.secrets)

    def backend_failed(self, error: BaseException) -> None:
        """Count and log (once per kind) a backend failure; the request goes on uncached."""
        self.counters.backend_errors += 1
        self.warn_once(
            "*",
            f"backend:{type(error).__name__}",
            f"cacheward: cache backend failed ({type(error).__name__}); serving uncached",
        )

    def warn_once(self, route: str, what: str, message: str) -> None:
        """Log ``message`` once per route and input."""
        marker = (route, what)
        if marker in self.warned:
            return
        with _WARN_LOCK:
            if marker in self.warned:
                return
            self.warned.add(marker)
        logger.warning(message)
