"""The Redis key layout, shared by the sync and the async Redis backends.

One layout is what lets a Flask process and an ASGI process share entries, purges and
generations on one store: it is written once. ``{...}`` hash tags keep a scope's entry
and its generation on one Redis Cluster slot.
"""

from __future__ import annotations

from ..core.cachekey import CacheKey


class KeyLayout:
    """Key names under ``prefix`` (set by the backend's ``__init__``)."""

    prefix: str

    def _scope(self, scope: str) -> str:
        return f"{{{self.prefix}:s:{scope}}}"

    def _entry_key(self, key: CacheKey) -> str:
        return f"{self._scope(key.scope)}:e:{key.digest}"

    def _global_key(self) -> str:
        return f"{{{self.prefix}:global}}:g"

    def _tag_key(self, tag: str) -> str:
        return f"{{{self.prefix}:t:{tag}}}:g"
