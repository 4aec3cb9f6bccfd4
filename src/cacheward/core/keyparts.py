"""What a cache key binds beyond the URL, for both guards: the values of the names a
route varies on (headers and the ``:``-pseudo inputs) and the parts of the principal
beyond its scope token. Framework-free: the caller hands over the headers and the
remote address it read from its own request."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from ..errors import MalformedHeader
from .policy import KeyPolicy, Scope
from .principal import Principal

#: A longer value of a ``vary`` header is refused (servers stop at about 8 KiB anyway).
MAX_VARY_VALUE = 4096


class HeaderGetter(Protocol):
    def get(self, key: str, /) -> str | None: ...


def vary_value(name: str, remote: str, headers: HeaderGetter, principal: Principal) -> str | None:
    """The value ``name`` (a header, ``:remote-addr``, ``:scopes`` or ``:key-id``) has
    for this request; ``None`` for an absent header."""
    if name == ":remote-addr":
        return remote
    if name == ":scopes":
        return " ".join(sorted(principal.scopes))
    if name == ":key-id":
        return principal.key_id or ""
    return headers.get(name)


def vary_values(
    vary: Iterable[str], remote: str, headers: HeaderGetter, principal: Principal
) -> tuple[str | None, ...]:
    """:func:`vary_value` of each name of ``vary``.

    :raises MalformedHeader: a value over :data:`MAX_VARY_VALUE` characters.
    """
    got = tuple(vary_value(v, remote, headers, principal) for v in vary)
    if any(v is not None and len(v) > MAX_VARY_VALUE for v in got):
        raise MalformedHeader(f"a header this route varies on is over {MAX_VARY_VALUE} bytes")
    return got


def principal_parts(policy: KeyPolicy, principal: Principal) -> tuple[tuple[str, str], ...]:
    """What of the principal the key binds beyond its scope token: the tenant always on
    a principal route (two keys of one principal may belong to different tenants), the
    grants and the key id when the route varies on them."""
    parts = []
    if policy.scope is Scope.PRINCIPAL:
        parts.append(("tenant", "\0none" if principal.tenant is None else principal.tenant))
    if policy.keys_header(":scopes"):
        parts.append(("scopes", " ".join(sorted(principal.scopes))))
    if policy.keys_header(":key-id"):
        parts.append(("key-id", principal.key_id or ""))
    return tuple(parts)
