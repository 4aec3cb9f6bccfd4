"""The ASGI guard's settings and per-application state, built once at start-up.

The settings are the Flask guard's ``CACHEWARD_*`` settings, given as keyword arguments
(``Cacheward(app, secret=..., downstream="no-store")``), with the same defaults.
"""

from __future__ import annotations

from contextvars import Context
from dataclasses import dataclass, field
from typing import Any

from ..config import DEFAULT_TTL as _TTL
from ..config import DEFAULTS
from ..config import MAX_ENTRY_BYTES as _MAX
from ..config import SINGLE_FLIGHT_TIMEOUT as _FLIGHT
from ..core.downstream import downstream_headers
from ..core.settings import (
    check_credential_headers,
    check_key_header,
    check_positive,
    downstream_mode,
    required_secrets,
)
from ..errors import ConfigurationError
from ..guardstate import GuardState
from ..guardstate import logger as logger
from .backends import AsyncBackend, async_backend_from_url
from .keys import AsyncKeyStore, as_async_keys


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


@dataclass(kw_only=True)
class State(GuardState):
    """Everything the ASGI guard needs at request time."""

    backend: AsyncBackend
    keys: AsyncKeyStore | None
    #: Context variables no cached endpoint reads (``unread_context=``): setting them
    #: inside the guard does not make a response unstorable.
    unread_context: frozenset[str] = frozenset()
    #: The context the guard's ``lifespan`` ran in: what the server gives every request
    #: (``None``: no lifespan ran; each request is compared with the context it came in).
    context_baseline: Context | None = None
    #: id(endpoint) -> whether only routing lies between the capture and it (set at
    #: startup; an endpoint not in it, or ``False``, is never stored).
    direct_endpoints: dict[int, bool] = field(default_factory=dict)
    _hit_headers: dict[int, list[tuple[bytes, bytes]]] = field(default_factory=dict)

    @property
    def key_header_bytes(self) -> bytes:
        return self.key_header.lower().encode("latin-1")

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
    unread_context: tuple[str, ...] = (),
    app_name: str = "",
) -> State:
    """Check the settings and build the state.

    :raises ConfigurationError: a missing secret or an invalid setting.
    """
    secrets = required_secrets(secret, "Cacheward(secret=...)")
    mode = downstream_mode(downstream, "downstream")
    check_key_header(key_header, "key_header")
    check_credential_headers(credential_headers, "credential_headers")
    _check_names(unread_context, "unread_context")
    for label, number in (
        ("default_ttl", default_ttl),
        ("max_entry_bytes", max_entry_bytes),
        ("flight_timeout", flight_timeout),
    ):
        check_positive(number, label)
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
        unread_context=frozenset(unread_context),
        app_name=app_name,
    )


def _check_names(names: object, label: str) -> None:
    ok = isinstance(names, (tuple, list, frozenset, set)) and all(
        isinstance(n, str) and n for n in names
    )
    if not ok:
        raise ConfigurationError(
            f"{label}= must be a list of context variable names (ContextVar.name),"
            f" not {names!r}"
        )
