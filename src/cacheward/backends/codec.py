"""The entry codec: plain data with an HMAC tag, for stores other processes can write.

A shared store is reachable by more than this app (invariant 6), so what comes out of it
is treated as hostile input: it is never unpickled, and it is served only if its tag
proves that this app wrote exactly these bytes under exactly this key.

Layout (all integers big-endian)::

    b"CW" | version (1 byte) | payload | tag (32 bytes)

    payload = status u16 | created f64 | ttl f64
            | n_gen u8 | n_hdr u16 | n_tag u16 | body_len u32
            | n_gen x u64                       generations
            | (2 n_hdr + 2 + n_tag) x u32       string lengths, then the UTF-8 strings:
            | strings                           header names and values, etag, scope, tags
            | body

Few fixed-size reads rather than one per field: decoding is on the cache hit path.

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
import threading
from enum import Enum

from ..core.entry import Entry
from ..core.secret import Purpose, Secrets
from .base import Stats

log = logging.getLogger("cacheward.backends")

MAGIC = b"CW"
VERSION = 1
TAG_SIZE = 32
_HEAD = MAGIC + bytes([VERSION])
_FIXED = struct.Struct(">HddBHHI")
_U32 = struct.Struct(">I")
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


def _signed_part(key_digest: str, head_and_payload: bytes) -> bytes:
    key = key_digest.encode("ascii", "surrogateescape")
    return _DOMAIN + _U32.pack(len(key)) + key + head_and_payload


class EntryCodec:
    """Encode entries for a shared store and decode only the ones this app signed.

    :param secrets: the application secrets; :attr:`Purpose.ENTRY` keys sign the tags.
    :param memo_bytes: bytes of recently verified values to remember per key. A value
        byte-for-byte equal to one already verified under the same key decodes to the same
        entry without verifying and parsing it again (the hit path's main CPU cost);
        anything else is verified in full. ``0`` turns it off.

    .. versionadded:: 0.1
    """

    def __init__(self, secrets: Secrets, memo_bytes: int = 4 * 1024 * 1024) -> None:
        self.secrets = secrets
        self.memo_bytes = memo_bytes
        self._memo: dict[str, tuple[bytes, Entry]] = {}
        self._memo_size = 0
        self._memo_lock = threading.Lock()
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
        strings = [s for pair in entry.headers for s in pair]
        strings += [entry.etag, entry.scope, *entry.tags]
        raw = [s.encode("utf-8", "surrogatepass") for s in strings]
        return b"".join(
            [
                _HEAD,
                _FIXED.pack(
                    entry.status,
                    entry.created,
                    entry.ttl,
                    len(entry.generation),
                    len(entry.headers),
                    len(entry.tags),
                    len(entry.body),
                ),
                struct.pack(f">{len(entry.generation)}Q", *entry.generation),
                struct.pack(f">{len(raw)}I", *map(len, raw)),
                *raw,
                entry.body,
            ]
        )

    def decode(self, key_digest: str, data: bytes, stats: Stats | None = None) -> Entry | None:
        """The entry in ``data`` if this app signed it for ``key_digest``, else ``None``."""
        known = self._memo.get(key_digest)
        if known is not None and known[0] == data:  # the very bytes verified before
            return known[1]
        reason = self._check(key_digest, data)
        if reason is None:
            try:
                entry = self._parse(data)
                self._remember(key_digest, data, entry)
                return entry
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
        end = len(data) - TAG_SIZE
        pos = len(_HEAD)
        status, created, ttl, n_gen, n_hdr, n_tag, n_body = _FIXED.unpack_from(data, pos)
        pos += _FIXED.size
        generation = struct.unpack_from(f">{n_gen}Q", data, pos)
        pos += 8 * n_gen
        n_str = 2 * n_hdr + 2 + n_tag
        lengths = struct.unpack_from(f">{n_str}I", data, pos)
        pos += 4 * n_str
        strings = []
        for n in lengths:
            strings.append(data[pos : pos + n].decode("utf-8", "surrogatepass"))
            pos += n
        body = data[pos : pos + n_body]
        if pos + n_body != end:
            raise _Malformed
        headers = tuple(zip(strings[0 : 2 * n_hdr : 2], strings[1 : 2 * n_hdr : 2], strict=True))
        etag, scope = strings[2 * n_hdr], strings[2 * n_hdr + 1]
        tags = tuple(strings[2 * n_hdr + 2 :])
        return Entry(status, headers, body, created, ttl, etag, scope, tags, generation)

    def _remember(self, key_digest: str, data: bytes, entry: Entry) -> None:
        size = 2 * len(data)  # the value and the entry's copy of the body
        if size > self.memo_bytes:
            return
        with self._memo_lock:
            old = self._memo.pop(key_digest, None)
            if old is not None:
                self._memo_size -= 2 * len(old[0])
            while self._memo and self._memo_size + size > self.memo_bytes:
                dropped = self._memo.pop(next(iter(self._memo)))  # oldest first
                self._memo_size -= 2 * len(dropped[0])
            self._memo[key_digest] = (data, entry)
            self._memo_size += size

    def forget(self, key_digest: str) -> None:
        """Drop what was remembered for ``key_digest`` (its entry was deleted)."""
        with self._memo_lock:
            old = self._memo.pop(key_digest, None)
            if old is not None:
                self._memo_size -= 2 * len(old[0])

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
