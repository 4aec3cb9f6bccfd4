"""What ``@ward.cached`` knows about one route."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.policy import KeyPolicy
from ..core.principal import Principal

PrincipalSource = Callable[[], "Principal | str | None"]

#: Attribute set on a view wrapped by ``@ward.protected``.
PROTECTED_MARK = "__cacheward_protected__"
#: Attribute set on a view wrapped by ``@ward.cached`` (holds its :class:`CachedRoute`).
CACHED_MARK = "__cacheward_cached__"


@dataclass(frozen=True, eq=False)  # identity: routes key memo tables
class CachedRoute:
    """The caching settings of one view."""

    name: str
    policy: KeyPolicy
    ttl: float | None
    tags: tuple[str, ...]
    principal: PrincipalSource | None
    view: Callable[..., Any]

    @property
    def vary(self) -> tuple[str, ...]:
        return self.policy.vary


def as_principal(value: Principal | str | None) -> Principal | None:
    """What a ``principal=`` callable returned, as a :class:`Principal`."""
    if value is None or isinstance(value, Principal):
        return value
    if isinstance(value, str) and value:
        return Principal(value)
    raise TypeError(f"principal= must return a Principal, a str or None, not {type(value)}")
