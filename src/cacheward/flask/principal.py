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
from ..core.recording import RecordingPrincipal
from .context import request_context_or_none, state_of
from .recorder import current_recorder


class _TrackedPrincipal(RecordingPrincipal):
    __slots__ = ()

    def _note(self, kind: Kind) -> None:
        rec = current_recorder.get()
        if rec is not None:
            rec.add(kind)


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
