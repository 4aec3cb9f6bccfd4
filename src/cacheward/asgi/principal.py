"""The principal as a cached endpoint sees it: each field it reads is recorded.

``.id`` is the principal, ``.tenant`` the tenant, ``.scopes``/``has_scopes`` the key's
grants, ``.key_id`` which key; anything else (``str()``, ``repr()``, ``==``, ``hash()``,
``vars()``, ``dataclasses.asdict``, an unknown attribute) reads the whole principal, which
only a principal-scoped route varying on ``:scopes`` and ``:key-id`` keys. The same rules
as ``cacheward.current_principal`` in Flask.
"""

from __future__ import annotations

from typing import Any

from ..core.inputs import Kind
from ..core.principal import Principal
from .context import Recorder

_FIELDS = {
    "id": Kind.PRINCIPAL,
    "tenant": Kind.TENANT,
    "scopes": Kind.GRANTS,
    "has_scopes": Kind.GRANTS,
    "key_id": Kind.KEY_ID,
}


class TrackedPrincipal:
    """A :class:`Principal` stand-in that records what is read of it."""

    __slots__ = ("_p", "_rec")

    def __init__(self, p: Principal, rec: Recorder) -> None:
        object.__setattr__(self, "_p", p)
        object.__setattr__(self, "_rec", rec)

    def _whole(self) -> Principal:
        self._rec.add(Kind.PRINCIPAL_ALL)
        return self._p  # type: ignore[no-any-return]

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return Principal

    def __getattr__(self, name: str) -> Any:
        self._rec.add(_FIELDS.get(name, Kind.PRINCIPAL_ALL))
        return getattr(self._p, name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Principal is read-only")

    def __eq__(self, other: object) -> bool:
        other = other._whole() if isinstance(other, TrackedPrincipal) else other
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

    @property
    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        return dict(vars(self._whole()))
