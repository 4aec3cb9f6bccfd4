"""Key stores the ASGI guard awaits.

``verify`` is on every request, so it must not block the event loop:

- :class:`MemoryKeyStore` is a dict look-up and is called directly;
- :class:`ThreadedKeyStore` runs a blocking store's ``verify`` (``SQLiteKeyStore``, or
  the sync ``RedisKeyStore``) in a worker thread, so the loop keeps serving while SQLite
  reads (each worker thread has its own connection, as ``SQLiteKeyStore`` already does);
- :class:`AsyncRedisKeyStore` reads the same Redis hashes as ``RedisKeyStore`` through
  redis-py's asyncio client.

:func:`as_async_keys` picks one for whatever ``keys=`` was given.
"""

from __future__ import annotations

import time
from typing import Any, Protocol, runtime_checkable

import anyio.to_thread

from ..backends.base import Clock
from ..core.principal import Principal
from ..errors import ConfigurationError, KeyStoreError
from ..keys import format as key_format
from ..keys.store import IssuedKey, KeyRecord, KeyStore, MemoryKeyStore, check_record


@runtime_checkable
class AsyncKeyStore(Protocol):
    """What the ASGI guard needs of a key store: an awaitable ``verify``."""

    async def verify(self, plaintext: str) -> Principal | None: ...


class InlineKeyStore:
    """A store whose ``verify`` never blocks (``MemoryKeyStore``), called directly."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store

    async def verify(self, plaintext: str) -> Principal | None:
        return self.store.verify(plaintext)


class ThreadedKeyStore:
    """A blocking store (``SQLiteKeyStore``...) verified in a worker thread.

    :param limiter: an :class:`anyio.CapacityLimiter` bounding concurrent verifications
        (default: anyio's shared thread pool limiter).
    """

    def __init__(self, store: KeyStore, limiter: anyio.CapacityLimiter | None = None) -> None:
        self.store = store
        self.limiter = limiter

    async def verify(self, plaintext: str) -> Principal | None:
        return await anyio.to_thread.run_sync(self.store.verify, plaintext, limiter=self.limiter)


class AsyncRedisKeyStore:
    """API keys in Redis or Redis Cluster, read with redis-py's asyncio client: the same
    layout as :class:`cacheward.keys.RedisKeyStore` (create keys with either).

    Nothing is cached: every ``verify`` reads the key's hash, so a revocation by any
    process is seen on the next request; when Redis cannot be asked,
    :class:`~cacheward.errors.KeyStoreError` is raised and the guard answers 503.

    :param clock: the epoch-seconds clock a key's expiry and ``last_used`` are judged
        by (``time.time``); a test replaces it with one it advances.

    .. versionadded:: 0.1
    """

    last_used_interval = KeyStore.last_used_interval

    def __init__(self, url: str, *, clock: Clock = time.time, **options: Any) -> None:
        from .redis import AsyncConnector

        self.clock = clock
        self._conn = AsyncConnector(url, **options)
        self.prefix = self._conn.options.prefix

    def _record_key(self, key_id: str) -> str:
        return f"{{{self.prefix}:k:{key_id}}}"

    async def _get(self, key_id: str) -> KeyRecord | None:
        from ..keys.redis import RedisKeyStore

        try:
            fields = await self._conn.client().hgetall(self._record_key(key_id))
        except Exception as e:  # every redis-py and cluster error, whatever its base
            raise KeyStoreError(f"{self._conn.name}: {type(e).__name__}: {e}") from e
        return RedisKeyStore._parse(key_id, fields)

    async def get(self, key_id: str) -> KeyRecord | None:
        return await self._get(key_id)

    async def verify(self, plaintext: str) -> Principal | None:
        parsed = key_format.parse(plaintext)
        if parsed is None:
            return None
        now = self.clock()
        record = await self._get(parsed.id)
        principal = check_record(record, parsed.secret, now)
        if principal is not None and record is not None:
            last = record.last_used
            if last is None or now - last >= self.last_used_interval:
                try:
                    await self._conn.client().hset(
                        self._record_key(record.id), "last_used", repr(now)
                    )
                except Exception:  # noqa: BLE001, S110 - last_used is best effort
                    pass
        return principal

    async def close(self) -> None:
        await self._conn.close()


def as_async_keys(keys: object) -> AsyncKeyStore:
    """The awaitable form of ``keys``: itself if it has an async ``verify``, direct calls
    for a :class:`MemoryKeyStore`, a worker thread for any other :class:`KeyStore`.

    :raises ConfigurationError: ``keys`` is not a key store.
    """
    if isinstance(keys, MemoryKeyStore):
        return InlineKeyStore(keys)
    if isinstance(keys, KeyStore):
        return ThreadedKeyStore(keys)
    verify = getattr(keys, "verify", None)
    if verify is not None and _is_async(verify):
        return keys  # type: ignore[return-value]
    raise ConfigurationError(
        f"keys= must be a cacheward key store (MemoryKeyStore, SQLiteKeyStore,"
        f" RedisKeyStore, AsyncRedisKeyStore), not {type(keys).__name__}"
    )


def _is_async(fn: object) -> bool:
    import inspect

    return inspect.iscoroutinefunction(fn)


__all__ = [
    "AsyncKeyStore",
    "AsyncRedisKeyStore",
    "InlineKeyStore",
    "IssuedKey",
    "ThreadedKeyStore",
    "as_async_keys",
]
