"""Effects: what one piece of code does to the request, the cache and the response."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from enum import Enum


class EffectKind(Enum):
    """What one piece of code does."""

    HEADER = "header"
    COOKIE = "cookie"
    HOST = "host"
    QUERY = "query"
    IDENTITY = "identity"
    CREDENTIAL = "credential"
    QUERY_CREDENTIAL = "query-credential"
    CACHE_LOOKUP = "cache-lookup"
    AUTH_CHECK = "auth-check"
    CACHE_CONTROL = "cache-control"
    CACHE_CONTROL_PUBLIC = "cache-control-public"
    CREDENTIAL_KEY = "credential-key"
    VARY = "vary"


@dataclass(frozen=True)
class Effect:
    """One effect: ``origin`` is where it happens, ``site`` the line in the analysed function.

    :param detail: the header, cookie or parameter name, or a short description.
    :param path: the file of ``origin``.
    """

    kind: EffectKind
    detail: str
    site: ast.AST
    origin: ast.AST
    path: str

    @property
    def line(self) -> int:
        return getattr(self.site, "lineno", 1)

    @property
    def direct(self) -> bool:
        """Whether the effect is in the analysed function itself, not in a helper."""
        return self.site is self.origin
