"""``cacheward.current_principal``: the caller, as a proxy like Flask-Login's ``current_user``.

Reading it inside a cached view counts as reading the principal (or only the tenant, when
only ``.tenant`` is read).
"""

from __future__ import annotations

from typing import Any

from flask.globals import _cv_request
from werkzeug.local import LocalProxy

from ..core.inputs import Kind
from ..core.principal import Principal
from .serve import PRINCIPAL_ATTR
from .tracking import current_recorder


class _TrackedPrincipal:
    __slots__ = ("_p",)

    def __init__(self, p: Principal) -> None:
        self._p = p

    def __getattr__(self, name: str) -> Any:
        rec = current_recorder.get()
        if rec is not None:
            rec.add(Kind.TENANT if name == "tenant" else Kind.PRINCIPAL)
        return getattr(self._p, name)

    def __eq__(self, other: object) -> bool:
        rec = current_recorder.get()
        if rec is not None:
            rec.add(Kind.PRINCIPAL)
        return self._p == (other._p if isinstance(other, _TrackedPrincipal) else other)

    def __hash__(self) -> int:
        return hash(self._p)

    def __repr__(self) -> str:
        return repr(self._p)


def _get() -> Any:
    ctx = _cv_request.get(None)
    principal: Principal | None = None if ctx is None else ctx.__dict__.get(PRINCIPAL_ATTR)
    if principal is None:
        return None
    if current_recorder.get() is None:
        return principal
    return _TrackedPrincipal(principal)


current_principal: Principal = LocalProxy(_get)  # type: ignore[assignment]
