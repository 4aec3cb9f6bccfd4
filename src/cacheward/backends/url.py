"""Choosing a backend from ``CACHEWARD_BACKEND``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..core.secret import Secrets
from ..errors import ConfigurationError
from .base import Backend
from .memory import DEFAULT_LIMIT, MemoryBackend


def backend_from_url(url: str, secrets: Secrets, **options: Any) -> Backend:
    """Make the backend ``url`` names.

    ``memory://`` (options: ``limit`` bytes), ``redis://host:port/db``,
    ``rediss://...`` and ``redis+cluster://host:port``.

    :raises ConfigurationError: unknown scheme or bad option.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "memory":
        limit = options.get("limit", DEFAULT_LIMIT)
        query = parse_qs(parts.query)
        if "limit" in query:
            limit = query["limit"][0]
        try:
            return MemoryBackend(limit=int(limit))
        except ValueError as e:
            raise ConfigurationError(f"bad memory backend limit {limit!r}: {e}") from None
    if scheme in ("redis", "rediss", "redis+cluster", "rediss+cluster"):
        try:
            from .redis import RedisBackend
        except ImportError as e:
            raise ConfigurationError(
                f"the Redis backend needs redis-py: pip install 'cacheward[redis]' ({e})"
            ) from None
        return RedisBackend.from_url(url, secrets, **options)
    raise ConfigurationError(
        f"unknown CACHEWARD_BACKEND scheme {scheme!r}: use memory://, redis://host:port/db"
        " or redis+cluster://host:port"
    )
