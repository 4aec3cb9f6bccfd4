"""The authenticated caller."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    """Who is calling: an id, an optional tenant and the scopes its key grants.

    ``key_id`` names the API key that authenticated the request (never its secret), so
    that logs and audits can say which key was used.

    .. versionadded:: 0.1
    """

    id: str
    tenant: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    key_id: str | None = None

    def has_scopes(self, required: Iterable[str]) -> bool:
        """True when every scope in ``required`` was granted to this principal."""
        return self.scopes.issuperset(required)
