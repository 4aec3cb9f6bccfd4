"""What goes into a route's cache key."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from ..errors import ConfigurationError


class Scope(Enum):
    """Who may share a stored response.

    ``PRINCIPAL``: only the principal it was made for (the default). ``TENANT``: every
    principal of the same tenant. ``SHARED``: every authorized caller; such a response
    must not depend on who is calling.
    """

    PRINCIPAL = "principal"
    TENANT = "tenant"
    SHARED = "shared"


#: Query parameters that carry credentials: never part of a key, never logged.
CREDENTIAL_PARAMS = frozenset(
    {"api_key", "apikey", "api-key", "x-api-key", "access_token", "auth_token"}
)
#: Tracking parameters dropped from keys by default (a view that reads one is not stored).
IGNORED_PARAMS = frozenset({"gclid", "fbclid", "msclkid", "dclid", "mc_cid", "mc_eid"})
IGNORED_PREFIXES = ("utm_",)
#: Pseudo header names a route may vary on: the client address, the key's grants and the
#: key's id (reads of ``current_principal.scopes`` / ``.key_id`` are unkeyed otherwise).
PSEUDO_VARY = frozenset({":remote-addr", ":scopes", ":key-id"})


def _header_names(names: Iterable[str]) -> tuple[str, ...]:
    out = set()
    for name in names:
        if (
            not isinstance(name, str)
            or not name
            or not name.isascii()
            or (":" in name and name.lower() not in PSEUDO_VARY)
        ):
            raise ConfigurationError(f"vary= takes header names, not {name!r}")
        out.add(name.strip().lower())
    return tuple(sorted(out))


@dataclass(frozen=True)
class KeyPolicy:
    """The request inputs a route's cache key is made of.

    :param scope: who may share an entry.
    :param vary: header names whose values are part of the key (case-insensitive).
    :param ignored_params: query parameters left out of the key.
    :param ignored_prefixes: query parameter prefixes left out of the key.
    :param credential_params: query parameters that carry credentials; always left out.
    """

    scope: Scope = Scope.PRINCIPAL
    vary: tuple[str, ...] = ()
    ignored_params: frozenset[str] = IGNORED_PARAMS
    ignored_prefixes: tuple[str, ...] = IGNORED_PREFIXES
    credential_params: frozenset[str] = CREDENTIAL_PARAMS
    _vary_set: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "vary", _header_names(self.vary))
        object.__setattr__(self, "_vary_set", frozenset(self.vary))

    def keeps_param(self, name: str) -> bool:
        """Whether the query parameter ``name`` is part of the key."""
        lowered = name.lower()
        if lowered in self.credential_params or name in self.ignored_params:
            return False
        return not name.startswith(self.ignored_prefixes)

    def keys_header(self, name: str) -> bool:
        """Whether the header ``name`` (any case) is part of the key."""
        return name.lower() in self._vary_set


def route_scope(scope: Scope | str) -> Scope:
    """The :class:`Scope` a ``cached(scope=...)`` names.

    :raises ConfigurationError: it names none.
    """
    try:
        return Scope(scope)
    except ValueError:
        raise ConfigurationError(
            f"scope must be 'principal', 'tenant' or 'shared', not {scope!r}"
        ) from None


def route_policy(
    scope: Scope | str, vary: Iterable[str], ignore_params: Iterable[str] | None
) -> KeyPolicy:
    """A cached route's key policy; ``ignore_params=None`` keeps the default ignored
    (tracking) parameters, anything else replaces them and their prefixes.

    :raises ConfigurationError: a bad scope or header name.
    """
    scope = route_scope(scope)
    if ignore_params is None:
        return KeyPolicy(scope=scope, vary=tuple(vary))
    return KeyPolicy(
        scope=scope,
        vary=tuple(vary),
        ignored_params=frozenset(ignore_params),
        ignored_prefixes=(),
    )
