"""What ``@ward.cached`` knows about one route."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
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
    """The caching settings of one view.

    :param credential_headers: headers that carry the credential a ``principal=``
        library reads (``X-Token``), besides ``CACHEWARD_KEY_HEADER`` and
        ``Authorization``.
    """

    name: str
    policy: KeyPolicy
    ttl: float | None
    tags: tuple[str, ...]
    principal: PrincipalSource | None
    view: Callable[..., Any]
    credential_headers: tuple[str, ...] = ()
    is_async: bool = field(default=False)
    #: ``unless=``: when it returns true, the request neither reads nor fills the cache.
    unless: Callable[[], object] | None = None

    @property
    def vary(self) -> tuple[str, ...]:
        return self.policy.vary

    def call(self, *args: Any, **kwargs: Any) -> Any:
        """Run the view (an ``async def`` one through Flask's ``ensure_sync``)."""
        if self.is_async:
            from flask import current_app

            return current_app.ensure_sync(self.view)(*args, **kwargs)
        return self.view(*args, **kwargs)


def is_async(view: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(view)


def as_principal(value: object) -> Principal | None:
    """What a ``principal=`` callable returned, as a :class:`Principal`.

    ``None``, an empty string, a value that is not a ``str`` or a :class:`Principal`
    (a user object, an ``int``), and a string that is not valid Unicode (a lone
    surrogate) all mean "no principal": the request is served but never cached.
    """
    if isinstance(value, Principal):
        return value if _valid_id(value.id) else None
    if isinstance(value, str) and _valid_id(value):
        return Principal(value)
    return None


def _valid_id(value: object) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
