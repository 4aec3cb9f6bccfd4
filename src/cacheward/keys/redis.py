"""API keys in Redis or Redis Cluster, shared by every process and host.

Each key is one hash, ``{P:k:<key id>}``, holding its principal, scopes, tenant, times and
the SHA-256 digest of its secret (never the secret). Two sets index them for
:meth:`RedisKeyStore.list`: ``{P:keys}`` (every id) and ``{P:keys:p:<principal>}``.

Nothing is cached in the process: :meth:`~cacheward.keys.store.KeyStore.verify` reads
the hash on every request, so a revocation made by any process is seen by every other on
its next request. When Redis cannot be asked, :class:`~cacheward.errors.KeyStoreError` is
raised and the request is refused: a key store fails closed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ..backends.connection import Client, Connector
from ..errors import KeyStoreError
from .store import KeyRecord, KeyStore

T = TypeVar("T")

# KEYS[1] the record; ARGV[1] the revocation time. 1 if the key existed and was live.
_REVOKE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'revoked', ARGV[1])
"""


def _text(fields: Mapping[Any, Any], name: str) -> str | None:
    value = fields.get(name.encode())
    return None if value is None else _decode(value)


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _time(fields: Mapping[Any, Any], name: str) -> float | None:
    value = _text(fields, name)
    return None if value is None else float(value)


class RedisKeyStore(KeyStore):
    """API keys in Redis, for several processes and hosts.

    :param redis: a ``redis://``, ``rediss://`` or ``redis+cluster://`` URL, or a
        redis-py client made with ``decode_responses=False``.
    :param options: ``prefix`` (``cw``), ``socket_timeout``, ``connect_timeout``...
        (see :mod:`cacheward.backends.connection`).

    .. versionadded:: 0.1
    """

    def __init__(self, redis: str | Client, **options: Any) -> None:
        if isinstance(redis, str):
            self._conn = Connector(redis, **options)
        else:
            self._conn = Connector.for_client(redis, **options)
        self.prefix = self._conn.options.prefix

    def _record_key(self, key_id: str) -> str:
        return f"{{{self.prefix}:k:{key_id}}}"

    def _index(self, principal: str | None = None) -> str:
        if principal is None:
            return f"{{{self.prefix}:keys}}"
        return f"{{{self.prefix}:keys:p:{principal}}}"

    def _call(self, fn: Callable[[Client], T]) -> T:
        try:
            return fn(self._conn.client())
        except Exception as e:  # every redis-py and cluster error, whatever its base
            raise KeyStoreError(f"{self._conn.name}: {type(e).__name__}: {e}") from e

    def _insert(self, record: KeyRecord) -> None:
        fields: dict[Any, Any] = {
            "principal_id": record.principal_id,
            "scopes": json.dumps(sorted(record.scopes)),
            "created": repr(record.created),
            "digest": record.digest,
        }
        if record.tenant is not None:
            fields["tenant"] = record.tenant
        if record.expires is not None:
            fields["expires"] = repr(record.expires)

        def write(client: Client) -> None:
            # Indexes first: a failure in between leaves an id with no record (skipped by
            # list), never a working key that list cannot show.
            client.sadd(self._index(), record.id)
            client.sadd(self._index(record.principal_id), record.id)
            client.hset(self._record_key(record.id), mapping=fields)

        self._call(write)

    def _get(self, key_id: str) -> KeyRecord | None:
        fields = self._call(lambda c: c.hgetall(self._record_key(key_id)))
        return self._parse(key_id, fields)

    @staticmethod
    def _parse(key_id: str, fields: Mapping[Any, Any]) -> KeyRecord | None:
        if not fields:
            return None
        try:
            return KeyRecord(
                id=key_id,
                principal_id=_text(fields, "principal_id") or "",
                scopes=frozenset(json.loads(_text(fields, "scopes") or "[]")),
                tenant=_text(fields, "tenant"),
                created=_time(fields, "created") or 0.0,
                expires=_time(fields, "expires"),
                revoked=_time(fields, "revoked"),
                last_used=_time(fields, "last_used"),
                digest=_text(fields, "digest") or "",
            )
        except (ValueError, TypeError, UnicodeDecodeError) as e:
            raise KeyStoreError(f"key {key_id}: malformed record in the store") from e

    def revoke(self, key_id: str) -> bool:
        def run(client: Client) -> Any:
            script = client.register_script(_REVOKE)
            return script(keys=[self._record_key(key_id)], args=[repr(time.time())])

        return bool(self._call(run))

    def list(self, principal: str | None = None) -> list[KeyRecord]:
        def read(client: Client) -> list[tuple[str, Any]]:
            ids = sorted(map(_decode, client.smembers(self._index(principal))))
            return [(i, client.hgetall(self._record_key(i))) for i in ids]

        records = [self._parse(i, fields) for i, fields in self._call(read)]
        found = [r for r in records if r is not None]
        return sorted(found, key=lambda r: r.created, reverse=True)

    def close(self) -> None:
        """Release connections."""
        self._conn.close()
