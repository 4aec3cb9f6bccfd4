"""API keys: the format, and the stores that verify them.

:class:`RedisKeyStore` needs redis-py (``pip install 'cacheward[redis]'``) and is
imported on first use, so that ``cacheward.keys`` works without it.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from .format import redact as redact
from .sqlite import SQLiteKeyStore as SQLiteKeyStore
from .store import IssuedKey as IssuedKey
from .store import KeyRecord as KeyRecord
from .store import KeyStore as KeyStore
from .store import MemoryKeyStore as MemoryKeyStore

if _TYPE_CHECKING:
    from .redis import RedisKeyStore as RedisKeyStore


def __getattr__(name: str) -> object:
    if name == "RedisKeyStore":
        try:
            from .redis import RedisKeyStore
        except ImportError as e:
            raise ImportError(
                f"RedisKeyStore needs redis-py: pip install 'cacheward[redis]' ({e})"
            ) from None
        return RedisKeyStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
