"""The framework-neutral ASGI parts of the guard: the boundary middleware, async cache
backends and async key stores. :mod:`cacheward.fastapi` builds the FastAPI API on them.

Needs Starlette (``pip install 'cacheward[fastapi]'`` or ``'cacheward[starlette]'``);
the Redis parts need redis-py (``'cacheward[redis]'``).
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from .backends import AsyncBackend as AsyncBackend
from .backends import AsyncMemoryBackend as AsyncMemoryBackend
from .backends import async_backend_from_url as async_backend_from_url
from .keys import AsyncKeyStore as AsyncKeyStore
from .keys import AsyncRedisKeyStore as AsyncRedisKeyStore
from .keys import ThreadedKeyStore as ThreadedKeyStore
from .keys import as_async_keys as as_async_keys
from .middleware import CachewardMiddleware as CachewardMiddleware

if _TYPE_CHECKING:
    from .redis import AsyncRedisBackend as AsyncRedisBackend


def __getattr__(name: str) -> object:
    if name == "AsyncRedisBackend":
        from .redis import AsyncRedisBackend

        return AsyncRedisBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
