"""The entry codec: plain data with an HMAC tag, for stores other processes can write.

A shared store is reachable by more than this app (invariant 6), so what comes out of it
is treated as hostile input: it is never unpickled, and it is served only if its tag
proves that this app wrote exactly these bytes under exactly this key.

Layout (all integers big-endian)::

    b"CW" | version (1 byte) | payload | tag (32 bytes)

    payload = status u16 | created f64 | ttl f64
            | n_gen u8  | n_gen x u64
            | n_hdr u16 | n_hdr x (str, str)
            | etag str  | scope str
            | n_tag u16 | n_tag x str
            | body (u32 length + bytes)
    str     = u32 length + UTF-8 bytes

``tag = HMAC(Purpose.ENTRY, b"cw-entry" | len(key) | key | magic | version | payload)``.
Binding the key digest into the tag means an entry copied under another key is refused;
the derived key is used for nothing else, and rotation comes from
:class:`~cacheward.core.secret.Secrets` (newest signs, all verify).

A tampered, truncated, foreign, copied or wrong-version value decodes to ``None``,
counted in :attr:`Stats.rejected <cacheward.backends.base.Stats>` and logged once per
reason (with no secret and no content): never an exception, never served.
"""

from __future__ import annotations

import logging
import math
import struct
from enum import Enum

from ..core.entry import Entry
from ..core.secret import Purpose, Secrets
from .base import Stats

log = logging.getLogger("cacheward.backends")

MAGIC = b"CW"
VERSION = 1
TAG_SIZE = 32
_HEAD = MAGIC + bytes([VERSION])
_FIXED = struct.Struct(">Hdd")
_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_DOMAIN = b"cw-entry"


class Rejection(Enum):
    """Why a stored value was refused."""

    SHORT = "short"
    FOREIGN = "foreign"
    VERSION = "version"
    TAG = "tag"
    MALFORMED = "malformed"


class _Malformed(Exception):
    pass


def _str(value: str) -> bytes:
    data = value.encode("utf-8", "surrogatepass")
    return _U32.pack(len(data)) + data


def _signed_part(key_digest: str, head_and_payload: bytes) -> bytes:
    key = key_digest.encode("ascii", "surrogateescape")
    return _DOMAIN + _U32.pack(len(key)) + key + head_and_payload


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise _Malformed
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def unpack(self, s: struct.Struct) -> int:
        value: int = s.unpack_from(self.take(s.size))[0]
        return value

    def str(self) -> str:
        return self.take(self.unpack(_U32)).decode("utf-8", "surrogatepass")


class EntryCodec:
    """Encode entries for a shared store and decode only the ones this app signed.

    :param secrets: the application secrets; :attr:`Purpose.ENTRY` keys sign the tags.

    .. versionadded:: 0.1
    """

    def __init__(self, secrets: Secrets) -> None:
        self.secrets = secrets
        self._logged: set[Rejection] = set()

    def encode(self, key_digest: str, entry: Entry) -> bytes:
        """The bytes to store ``entry`` under ``key_digest``.

        :raises ValueError: a field does not fit the layout (the caller does not store).
        """
        if not (math.isfinite(entry.created) and math.isfinite(entry.ttl)):
            raise ValueError("created and ttl must be finite")
        try:
            data = self._pack(entry)
        except struct.error as e:
            raise ValueError(f"entry does not fit the layout: {e}") from None
        return data + self.secrets.sign(Purpose.ENTRY, _signed_part(key_digest, data))

    @staticmethod
    def _pack(entry: Entry) -> bytes:
        parts = [
            _HEAD,
            _FIXED.pack(entry.status, entry.created, entry.ttl),
            _U8.pack(len(entry.generation)),
            *(_U64.pack(g) for g in entry.generation),
            _U16.pack(len(entry.headers)),
            *(_str(k) + _str(v) for k, v in entry.headers),
            _str(entry.etag),
            _str(entry.scope),
            _U16.pack(len(entry.tags)),
            *(_str(t) for t in entry.tags),
            _U32.pack(len(entry.body)),
            entry.body,
        ]
        return b"".join(parts)

    def decode(self, key_digest: str, data: bytes, stats: Stats | None = None) -> Entry | None:
        """The entry in ``data`` if this app signed it for ``key_digest``, else ``None``."""
        reason = self._check(key_digest, data)
        if reason is None:
            try:
                return self._parse(data)
            except (_Malformed, struct.error, UnicodeDecodeError, ValueError):
                # A valid tag over bytes we cannot parse: a writer with our secret and
                # another layout. Refuse it like any other foreign value.
                reason = Rejection.MALFORMED
        self._reject(reason, stats)
        return None

    def _check(self, key_digest: str, data: bytes) -> Rejection | None:
        if len(data) < len(_HEAD) + TAG_SIZE:
            return Rejection.SHORT
        if data[:2] != MAGIC:
            return Rejection.FOREIGN
        if data[2] != VERSION:
            return Rejection.VERSION
        body, tag = data[:-TAG_SIZE], data[-TAG_SIZE:]
        if not self.secrets.verify(Purpose.ENTRY, _signed_part(key_digest, body), tag):
            return Rejection.TAG
        return None

    @staticmethod
    def _parse(data: bytes) -> Entry:
        r = _Reader(data[:-TAG_SIZE], len(_HEAD))
        status, created, ttl = _FIXED.unpack_from(r.take(_FIXED.size))
        generation = tuple(r.unpack(_U64) for _ in range(r.unpack(_U8)))
        headers = tuple((r.str(), r.str()) for _ in range(r.unpack(_U16)))
        etag = r.str()
        scope = r.str()
        tags = tuple(r.str() for _ in range(r.unpack(_U16)))
        body = r.take(r.unpack(_U32))
        if r.pos != len(r.data):
            raise _Malformed
        return Entry(status, headers, body, created, ttl, etag, scope, tags, generation)

    def _reject(self, reason: Rejection, stats: Stats | None) -> None:
        if stats is not None:
            stats.rejected += 1
            name = "rejected_" + reason.value
            stats.extra[name] = stats.extra.get(name, 0) + 1
        if reason not in self._logged:
            self._logged.add(reason)
            log.warning(
                "cacheward: refused a stored cache entry (%s); it is treated as a miss."
                " Another writer shares this store, or the secret changed. Logged once.",
                reason.value,
            )
