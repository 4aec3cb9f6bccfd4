"""The key store interface, and the in-memory store.

Secrets are stored only as SHA-256 digests: keys carry 190 random bits, so a slow
password hash would add latency to every request and no security. Digests are compared
with :func:`cacheward.core.secret.constant_time_equal`.

``last_used`` is refreshed at most once per :attr:`KeyStore.last_used_interval` per key,
so that verifying, the hot path, almost never writes.
"""

from __future__ import annotations

import abc
import hashlib
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from ..core.principal import Principal
from ..core.secret import constant_time_equal
from . import format as key_format


@dataclass(frozen=True)
class IssuedKey:
    """A key just created: ``plaintext`` is shown this once and never stored."""

    id: str
    plaintext: str
    principal_id: str
    scopes: frozenset[str]
    tenant: str | None
    expires: float | None

    def __repr__(self) -> str:  # never print the secret by accident
        return f"IssuedKey(id={self.id!r}, principal_id={self.principal_id!r})"


@dataclass(frozen=True)
class KeyRecord:
    """What a store keeps of a key; never the secret."""

    id: str
    principal_id: str
    scopes: frozenset[str]
    tenant: str | None
    created: float
    expires: float | None
    revoked: float | None
    last_used: float | None
    digest: str = field(repr=False)  # not a secret, but no log needs it

    @property
    def active(self) -> bool:
        return self.revoked is None and (self.expires is None or self.expires > time.time())

    def principal(self) -> Principal:
        """The principal this key authenticates (made once per record: verify is hot)."""
        made: Principal | None = self.__dict__.get("_principal")
        if made is None:
            made = Principal(self.principal_id, self.tenant, self.scopes, self.id)
            object.__setattr__(self, "_principal", made)
        return made


def secret_digest(secret: str) -> str:
    """How a key's secret is stored."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def check_record(record: KeyRecord | None, secret: str, now: float) -> Principal | None:
    """The principal of ``record`` if ``secret`` matches and the key is live."""
    if record is None:
        # Spend the same work on unknown ids, so timing does not tell ids apart.
        constant_time_equal(secret_digest(secret), "0" * 64)
        return None
    if not constant_time_equal(secret_digest(secret), record.digest):
        return None
    if record.revoked is not None or (record.expires is not None and record.expires <= now):
        return None
    return record.principal()


class KeyStore(abc.ABC):
    """Where API keys live. Every store has this interface.

    .. versionadded:: 0.1
    """

    #: Seconds between two writes of a key's ``last_used``; verifying in between reads only.
    last_used_interval: float = 60.0

    def create(
        self,
        principal_id: str,
        scopes: Iterable[str] = (),
        tenant: str | None = None,
        expires: float | None = None,
    ) -> IssuedKey:
        """Issue a new key for ``principal_id``; a principal may hold several (rotation).

        :param expires: epoch seconds after which the key stops working.
        """
        if not principal_id or not isinstance(principal_id, str):
            raise ValueError("principal_id must be a non-empty string")
        plaintext, parsed = key_format.generate()
        record = KeyRecord(
            id=parsed.id,
            principal_id=principal_id,
            scopes=frozenset(scopes),
            tenant=tenant,
            created=time.time(),
            expires=expires,
            revoked=None,
            last_used=None,
            digest=secret_digest(parsed.secret),
        )
        self._insert(record)
        return IssuedKey(parsed.id, plaintext, principal_id, record.scopes, tenant, expires)

    def verify(self, plaintext: str) -> Principal | None:
        """The principal a live key belongs to, or ``None`` (malformed, unknown, revoked,
        expired). A malformed key is refused before any lookup."""
        parsed = key_format.parse(plaintext)
        if parsed is None:
            return None
        now = time.time()
        record = self._get(parsed.id)
        principal = check_record(record, parsed.secret, now)
        if principal is not None and record is not None:
            last = record.last_used
            if last is None or now - last >= self.last_used_interval:
                self._touch(record.id, now)
        return principal

    def get(self, key_id: str) -> KeyRecord | None:
        """The record of one key (live or not), or ``None`` if there is no such key."""
        return self._get(key_id)

    @abc.abstractmethod
    def revoke(self, key_id: str) -> bool:
        """Revoke a key; true if it existed and was live. Takes effect on the next request."""

    @abc.abstractmethod
    def list(self, principal: str | None = None) -> list[KeyRecord]:
        """Every key (of one principal), newest first; never a secret."""

    @abc.abstractmethod
    def _insert(self, record: KeyRecord) -> None: ...

    @abc.abstractmethod
    def _get(self, key_id: str) -> KeyRecord | None: ...

    def _touch(self, key_id: str, now: float) -> None:  # noqa: B027 (optional hook)
        """Record that ``key_id`` was used at ``now``; stores that track no use skip it."""


class MemoryKeyStore(KeyStore):
    """Keys in a dict: for tests and single-process apps."""

    def __init__(self) -> None:
        self._records: dict[str, KeyRecord] = {}
        self._lock = threading.Lock()

    def _insert(self, record: KeyRecord) -> None:
        with self._lock:
            self._records[record.id] = record

    def _get(self, key_id: str) -> KeyRecord | None:
        return self._records.get(key_id)

    def _touch(self, key_id: str, now: float) -> None:
        with self._lock:
            record = self._records.get(key_id)
            if record is not None:
                self._records[key_id] = replace(record, last_used=now)

    def revoke(self, key_id: str) -> bool:
        with self._lock:
            record = self._records.get(key_id)
            if record is None or record.revoked is not None:
                return False
            self._records[key_id] = replace(record, revoked=time.time())
            return True

    def list(self, principal: str | None = None) -> list[KeyRecord]:
        with self._lock:  # a concurrent create would change the dict mid-iteration
            records = [r for r in self._records.values() if principal in (None, r.principal_id)]
        return sorted(records, key=lambda r: r.created, reverse=True)
