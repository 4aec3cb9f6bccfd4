"""Storing plain values (memoized results, data cache values) in the guard's backend.

A value is kept as an :class:`~cacheward.core.entry.Entry` whose body is the sealed
value (:mod:`cacheward.core.values`): the backend's own rules apply (memory bound, TTL,
purge generations, the entry signature on shared stores), and on top of that the value
itself only loads if its ``Purpose.VALUE`` tag is this app's for this very key, whatever
backend holds it. Scopes are the response cache's: a principal's or a tenant's values
go with ``ward.purge(principal=...)`` / ``purge(tenant=...)``.
"""

from __future__ import annotations

from typing import Any

from ..backends.base import Lookup
from ..core.cachekey import SHARED_SCOPE, CacheKey
from ..core.entry import Entry
from ..core.inputs import Kind
from ..core.policy import Scope
from ..core.principal import Principal
from ..core.values import open_sealed, seal
from ..errors import ConfigurationError
from .context import request_context_or_none, state_of
from .recorder import current_recorder
from .route import as_principal
from .state import State

_MISS: tuple[bool, Any] = (False, None)


def parse_ttl(ttl: float | None) -> float | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0 < ttl < float("inf"):
        raise ConfigurationError(f"ttl must be a positive finite number, not {ttl!r}")
    return float(ttl)


def request_principal() -> Principal | None:
    """The principal the guard established for the request in progress, if any."""
    ctx = request_context_or_none()
    rs = None if ctx is None else state_of(ctx)
    return None if rs is None else rs.principal


def explicit_principal(value: Principal | str) -> Principal:
    """A ``principal=`` argument: a :class:`Principal` or its id."""
    found = as_principal(value)
    if found is None:
        raise ConfigurationError(f"principal= takes a Principal or a non-empty id, not {value!r}")
    return found


def scope_token(state: State, scope: Scope, principal: Principal | None) -> str:
    """The scope token; the caller made sure a principal is there when one is needed."""
    if scope is Scope.SHARED:
        return SHARED_SCOPE
    assert principal is not None  # noqa: S101 - checked by the callers
    return state.scope_token(scope, principal)


def note_scope_read(scope: Scope) -> None:
    """A value of ``scope`` was used by the request being recorded: what it answers
    depends on the principal (or the tenant) the value was keyed by."""
    rec = current_recorder.get()
    if rec is None or scope is Scope.SHARED:
        return
    rec.add(Kind.PRINCIPAL if scope is Scope.PRINCIPAL else Kind.TENANT)


def load(state: State, key: CacheKey, tags: tuple[str, ...]) -> tuple[tuple[bool, Any], Lookup]:
    """``((True, value), lookup)`` on a hit; ``((False, None), lookup)`` otherwise. A value
    whose seal does not verify counts as rejected and is a miss.

    :raises BackendError: the backend failed (the caller decides).
    """
    backend = state.backend
    found = backend.lookup(key, tags)
    entry = found.entry
    if entry is None or entry.scope != key.scope:
        return _MISS, found
    opened = open_sealed(state.secrets, key.digest, entry.body)
    if not opened[0]:
        backend.stats.rejected += 1
        backend.stats.extra["rejected_value"] = backend.stats.extra.get("rejected_value", 0) + 1
        state.warn_once(
            "*",
            "value:rejected",
            "cacheward: refused a stored value (its signature does not verify);"
            " it is treated as a miss. Logged once.",
        )
        return _MISS, found
    return opened, found


def save(
    state: State,
    key: CacheKey,
    value: object,
    ttl: float,
    tags: tuple[str, ...],
    generation: tuple[int, ...],
    where: str,
) -> bool:
    """Store ``value`` under ``key``; false when it is over ``CACHEWARD_MAX_ENTRY_BYTES``.

    :raises UnstorableValue: a type the value codec does not store (before any I/O).
    :raises BackendError: the backend failed.
    """
    body = seal(state.secrets, key.digest, value, where)
    if len(body) > state.max_entry_bytes:
        state.warn_once(
            where, "value:size", f"cacheward: {where}: a value over CACHEWARD_MAX_ENTRY_BYTES"
        )
        return False
    created = state.backend.clock()
    entry = Entry(200, (), body, created, ttl, "", key.scope, tags, generation)
    state.backend.store(key, entry)
    return True
