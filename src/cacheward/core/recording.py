"""The principal as a cached view sees it, for every framework: each field it reads is
recorded.

``.id`` is the principal, ``.tenant`` the tenant, ``.scopes`` (and ``has_scopes``) the
key's grants, ``.key_id`` which of the principal's keys it is. Anything else (``str()``,
``repr()``, ``format()``, ``==``, ``hash()``, pickling, an unknown attribute) reads the
whole principal, which only a principal-scoped route varying on ``:scopes`` and
``:key-id`` keys. Where the read is recorded is each guard's: :meth:`_note`.
"""

from __future__ import annotations

from typing import Any

from .inputs import Kind
from .principal import Principal

FIELDS = {
    "id": Kind.PRINCIPAL,
    "tenant": Kind.TENANT,
    "scopes": Kind.GRANTS,
    "has_scopes": Kind.GRANTS,
    "key_id": Kind.KEY_ID,
}


class RecordingPrincipal:
    """A :class:`Principal` stand-in that records what is read of it."""

    __slots__ = ("_p",)

    def __init__(self, p: Principal) -> None:
        object.__setattr__(self, "_p", p)

    def _note(self, kind: Kind) -> None:
        """Record a read of ``kind`` (each guard says where)."""
        raise NotImplementedError

    def _whole(self) -> Principal:
        self._note(Kind.PRINCIPAL_ALL)
        return self._p  # type: ignore[no-any-return]

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return Principal

    def __getattr__(self, name: str) -> Any:
        self._note(FIELDS.get(name, Kind.PRINCIPAL_ALL))
        return getattr(self._p, name)

    def __eq__(self, other: object) -> bool:
        other = other._whole() if isinstance(other, RecordingPrincipal) else other
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
