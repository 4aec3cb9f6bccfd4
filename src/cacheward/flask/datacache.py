"""``ward.data``: a small key-value cache of plain, signed values (no pickle).

What Flask-Caching's ``cache.get``/``cache.set`` do, with the guard's scopes: a value is
the current principal's (the default), its tenant's, or shared, and a principal's values
go with ``ward.purge(principal=...)``. Values are encoded by
:mod:`cacheward.core.values` (JSON types plus bytes, tuples, sets, Decimal, UUID and
dates) and signed for their key: a value that does not verify is a miss, never a load,
and a type the codec does not store raises :class:`~cacheward.errors.UnstorableValue`
before anything is written.

Inside a recorded request, reading a principal's (tenant's) value counts as a read of
the principal (tenant), so a shared response built from it is never stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app, has_app_context

from ..core.cachekey import CacheKey
from ..core.canonical import build_value_key
from ..core.policy import Scope, route_scope
from ..core.principal import Principal
from ..core.values import seal
from ..errors import ConfigurationError
from .state import State
from .valuestore import (
    explicit_principal,
    load,
    note_scope_read,
    parse_ttl,
    request_principal,
    save,
    scope_token,
)

#: The tag every data cache value carries: :meth:`DataCache.clear` purges it.
DATA_TAG = "cw-data"
_TAGS = (DATA_TAG,)


class DataCache:
    """The data cache of every app a :class:`~cacheward.Cacheward` is initialised on
    (each app's values apart); reached as ``ward.data``.

    Every method takes ``scope=`` (``"principal"``, ``"tenant"``, ``"shared"``) and
    ``principal=`` (a :class:`Principal` or an id; default: the request's principal).
    A principal or tenant scope with no principal raises
    :class:`~cacheward.errors.ConfigurationError`.

    .. versionadded:: 0.1
    """

    def _state(self) -> State:
        if not has_app_context():
            raise ConfigurationError("ward.data is used outside an application context")
        try:
            return current_app.extensions["cacheward"]  # type: ignore[no-any-return]
        except KeyError:
            raise ConfigurationError("Cacheward.init_app(app) has not run for this app") from None

    def _key(
        self, state: State, name: str, scope: Scope, principal: Principal | str | None
    ) -> CacheKey:
        if not isinstance(name, str) or not name:
            raise TypeError(f"ward.data keys are non-empty strings, not {type(name).__name__}")
        who: Principal | None = None
        if scope is not Scope.SHARED:
            who = explicit_principal(principal) if principal is not None else request_principal()
            if who is None:
                raise ConfigurationError(
                    f"ward.data with scope={scope.value!r} needs a principal: use it in a"
                    " protected request, pass principal=..., or use scope='shared'"
                )
        token = scope_token(state, scope, who)
        # The scope asked for is in the key: a tenant value of a principal with no tenant
        # (kept in the principal's own scope) is not its principal value.
        return build_value_key(
            state.namespace, "data", state.app_name, name, b"", token, (("as", scope.value),)
        )

    def get(
        self,
        key: str,
        default: Any = None,
        *,
        scope: Scope | str = Scope.PRINCIPAL,
        principal: Principal | str | None = None,
    ) -> Any:
        """The value stored under ``key``, or ``default``. A backend failure is a miss."""
        found, value = self._get(key, scope, principal)
        return value if found else default

    def has(
        self,
        key: str,
        *,
        scope: Scope | str = Scope.PRINCIPAL,
        principal: Principal | str | None = None,
    ) -> bool:
        """Whether a (verified, current) value is stored under ``key``."""
        return bool(self._get(key, scope, principal)[0])

    def _get(self, key: str, scope: Scope | str, principal: Principal | str | None) -> Any:
        state = self._state()
        parsed = route_scope(scope)
        made = self._key(state, key, parsed, principal)
        if principal is None:
            note_scope_read(parsed)
        if not state.enabled:
            return False, None
        try:
            return load(state, made, _TAGS)[0]
        except Exception as e:  # noqa: BLE001 - any backend failure means "no cache"
            state.backend_failed(e)
            return False, None

    def get_many(
        self,
        *keys: str,
        scope: Scope | str = Scope.PRINCIPAL,
        principal: Principal | str | None = None,
    ) -> list[Any]:
        """The values of ``keys`` in order, ``None`` for each one not stored."""
        return [self.get(k, scope=scope, principal=principal) for k in keys]

    def set(
        self,
        key: str,
        value: Any,
        ttl: float | None = None,
        *,
        scope: Scope | str = Scope.PRINCIPAL,
        principal: Principal | str | None = None,
    ) -> bool:
        """Store ``value`` for ``ttl`` seconds (default ``CACHEWARD_DEFAULT_TTL``); false
        when it was not stored (backend down, caching disabled, over the size limit).

        :raises UnstorableValue: ``value`` holds a type the codec does not store.
        """
        state = self._state()
        parsed = route_scope(scope)
        seconds = parse_ttl(ttl)
        made = self._key(state, key, parsed, principal)
        if not state.enabled:
            seal(state.secrets, made.digest, value, f"ward.data.set({key!r})")  # same errors
            return False
        try:
            found = state.backend.lookup(made, _TAGS)
        except Exception as e:  # noqa: BLE001
            state.backend_failed(e)
            return False
        life = seconds if seconds is not None else state.default_ttl
        try:
            return save(
                state, made, value, life, _TAGS, found.generation, f"ward.data.set({key!r})"
            )
        except TypeError:
            raise
        except Exception as e:  # noqa: BLE001
            state.backend_failed(e)
            return False

    def set_many(
        self,
        mapping: Mapping[str, Any],
        ttl: float | None = None,
        *,
        scope: Scope | str = Scope.PRINCIPAL,
        principal: Principal | str | None = None,
    ) -> list[str]:
        """Store each value; the keys that were stored."""
        return [
            k for k, v in mapping.items() if self.set(k, v, ttl, scope=scope, principal=principal)
        ]

    def delete(
        self,
        key: str,
        *,
        scope: Scope | str = Scope.PRINCIPAL,
        principal: Principal | str | None = None,
    ) -> None:
        """Remove the value under ``key``.

        :raises BackendError: the backend failed (the value may still be there).
        """
        state = self._state()
        state.backend.delete(self._key(state, key, route_scope(scope), principal))

    def delete_many(
        self,
        keys: Iterable[str],
        *,
        scope: Scope | str = Scope.PRINCIPAL,
        principal: Principal | str | None = None,
    ) -> None:
        for k in keys:
            self.delete(k, scope=scope, principal=principal)

    def clear(self) -> None:
        """Invalidate every data cache value of the app (every scope): one tag purge."""
        self._state().backend.purge(tag=DATA_TAG)
