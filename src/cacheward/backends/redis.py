"""The Redis and Redis Cluster backend (in progress)."""

from __future__ import annotations

from typing import Any

from ..core.secret import Secrets
from ..errors import ConfigurationError
from .base import Backend


class RedisBackend(Backend):
    name = "redis"

    @classmethod
    def from_url(cls, url: str, secrets: Secrets, **options: Any) -> Backend:
        raise ConfigurationError("the Redis backend is not available in this build yet")
