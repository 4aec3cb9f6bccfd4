"""Choosing a backend from ``CACHEWARD_BACKEND`` (and the ASGI guard's ``backend=`` URL)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from ..core.secret import Secrets
from ..errors import ConfigurationError
from .base import Backend
from .memory import DEFAULT_LIMIT, MemoryBackend

T = TypeVar("T")
REDIS_SCHEMES = ("redis", "rediss", "redis+cluster", "rediss+cluster")


def backend_for(
    url: str,
    options: Mapping[str, Any],
    label: str,
    memory: Callable[[int], T],
    redis: Callable[[], T],
) -> T:
    """``memory(limit)`` for ``memory://`` (``limit`` from ``?limit=`` or ``options``),
    ``redis()`` for a Redis URL.

    :raises ConfigurationError: unknown scheme (named as ``label``) or bad limit.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "memory":
        limit = options.get("limit", DEFAULT_LIMIT)
        query = parse_qs(parts.query)
        if "limit" in query:
            limit = query["limit"][0]
        try:
            return memory(int(limit))
        except ValueError as e:
            raise ConfigurationError(f"bad memory backend limit {limit!r}: {e}") from None
    if scheme in REDIS_SCHEMES:
        return redis()
    raise ConfigurationError(
        f"unknown {label} scheme {scheme!r}: use memory://, redis://host:port/db"
        " or redis+cluster://host:port"
    )


def backend_from_url(url: str, secrets: Secrets, **options: Any) -> Backend:
    """Make the backend ``url`` names.

    ``memory://`` (options: ``limit`` bytes), ``redis://host:port/db``,
    ``rediss://...`` and ``redis+cluster://host:port``.

    :raises ConfigurationError: unknown scheme or bad option.
    """

    def redis() -> Backend:
        try:
            from .redis import RedisBackend
        except ImportError as e:
            raise ConfigurationError(
                f"the Redis backend needs redis-py: pip install 'cacheward[redis]' ({e})"
            ) from None
        return RedisBackend.from_url(url, secrets, **options)

    return backend_for(url, options, "CACHEWARD_BACKEND", MemoryBackend, redis)
