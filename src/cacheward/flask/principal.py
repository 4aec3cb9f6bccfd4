"""``cacheward.current_principal``: the caller, as a proxy like Flask-Login's ``current_user``.

Inside a cached view each field read is recorded: ``.id`` is the principal, ``.tenant``
the tenant, ``.scopes`` (and ``has_scopes``) the key's grants, ``.key_id`` which of the
principal's keys it is. Anything else (``str()``, ``repr()``, ``format()``, ``==``,
``hash()``, ``vars()``, ``dataclasses.asdict``) reads the whole principal, which only a
principal-scoped route varying on ``:scopes`` and ``:key-id`` keys.
"""

from __future__ import annotations

from typing import Any

from werkzeug.local import LocalProxy

from ..core.inputs import Kind
from ..core.principal import Principal
from .context import request_context_or_none, state_of
from .recorder import current_recorder

_FIELDS = {
    "id": Kind.PRINCIPAL,
    "tenant": Kind.TENANT,
    "scopes": Kind.GRANTS,
    "has_scopes": Kind.GRANTS,
    "key_id": Kind.KEY_ID,
}


class _TrackedPrincipal:
    __slots__ = ("_p",)

    def __init__(self, p: Principal) -> None:
        self._p = p

    @staticmethod
    def _note(kind: Kind) -> None:
        rec = current_recorder.get()
        if rec is not None:
            rec.add(kind)

    def _whole(self) -> Principal:
        self._note(Kind.PRINCIPAL_ALL)
        return self._p

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return Principal

    def __getattr__(self, name: str) -> Any:
        self._note(_FIELDS.get(name, Kind.PRINCIPAL_ALL))
        return getattr(self._p, name)

    def __eq__(self, other: object) -> bool:
        other = other._whole() if isinstance(other, _TrackedPrincipal) else other
        return self._whole() == other

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self._whole())

    def __repr__(self) -> str:
        return repr(self._whole())

    def __str__(self) -> str:
        return str(self._whole())

    def __format__(self, spec: str) -> str:
        return format(self._whole(), spec)

    def __reduce_ex__(self, protocol: Any) -> Any:
        return self._whole().__reduce_ex__(protocol)


def _get() -> Any:
    ctx = request_context_or_none()
    rs = None if ctx is None else state_of(ctx)
    principal = None if rs is None else rs.principal
    if principal is None:
        return None
    if current_recorder.get() is None:
        return principal
    return _TrackedPrincipal(principal)


current_principal: Principal = LocalProxy(_get)  # type: ignore[assignment]
