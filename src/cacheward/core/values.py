"""The value codec of the data cache and ``memoize``: tagged plain data, signed, no pickle.

A stored value comes back from a store that other processes can write, so it is never
unpickled and never names a class to import: it is a tree of tagged plain values, and it
is loaded only if its HMAC tag (:attr:`Purpose.VALUE`) proves that this app wrote these
very bytes for this very key. A tampered, copied, truncated or foreign value opens to
``None`` (a miss), never to an object.

Types: ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes`` (``bytearray`` comes
back as ``bytes``), ``list``, ``tuple``, ``dict`` (any storable hashable keys, order
kept), ``set``, ``frozenset``, ``Decimal``, ``UUID``, ``date``, ``time``, ``datetime`` and
``timedelta`` (naive, ``timezone`` or ``ZoneInfo``). Subclasses (an ``IntEnum``, a named
tuple, a ``Markup`` string) are refused rather than silently turned into their base type.

Layout: ``b"CV" | version | payload | tag``, ``tag = HMAC(VALUE, b"cw-value" | len(key) |
key | b"CV" | version | payload)``.
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import UnstorableValue
from .secret import Purpose, Secrets

MAGIC = b"CV"
VERSION = 1
TAG_SIZE = 32
MAX_DEPTH = 64
_HEAD = MAGIC + bytes([VERSION])
_DOMAIN = b"cw-value"
_LEN = struct.Struct(">I")
_F64 = struct.Struct(">d")
_TD = struct.Struct(">qqq")


class _Bad(Exception):
    """A payload that does not parse."""


def seal(secrets: Secrets, key_digest: str, value: object, where: str = "cache") -> bytes:
    """The signed bytes of ``value`` for ``key_digest``.

    :raises UnstorableValue: ``value`` holds a type the codec does not store.
    """
    out = bytearray(_HEAD)
    _encode(value, out, where, 0)
    return bytes(out) + secrets.sign(Purpose.VALUE, _signed(key_digest, bytes(out)))


def open_sealed(secrets: Secrets, key_digest: str, data: bytes) -> tuple[bool, Any]:
    """``(True, value)`` if this app sealed ``data`` for ``key_digest``, else
    ``(False, None)``: a stored ``None`` and a refused value are told apart."""
    if len(data) < len(_HEAD) + TAG_SIZE or data[: len(_HEAD)] != _HEAD:
        return False, None
    body, tag = data[:-TAG_SIZE], data[-TAG_SIZE:]
    if not secrets.verify(Purpose.VALUE, _signed(key_digest, body), tag):
        return False, None
    try:
        value, pos = _decode(body, len(_HEAD), 0)
    except (_Bad, struct.error, UnicodeDecodeError, ValueError, InvalidOperation, KeyError):
        return False, None
    if pos != len(body):
        return False, None
    return True, value


def _signed(key_digest: str, body: bytes) -> bytes:
    key = key_digest.encode("ascii", "surrogateescape")
    return _DOMAIN + _LEN.pack(len(key)) + key + body


def _frame(out: bytearray, tag: bytes, payload: bytes) -> None:
    out += tag
    out += _LEN.pack(len(payload))
    out += payload


def _text(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def _encode(value: Any, out: bytearray, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise UnstorableValue(where, f"a structure nested deeper than {MAX_DEPTH}")
    kind = type(value)
    if value is None:
        out += b"N"
    elif kind is bool:
        out += b"T" if value else b"F"
    elif kind is int:
        _frame(out, b"i", str(value).encode())
    elif kind is float:
        out += b"f" + _F64.pack(value)
    elif kind is str:
        _frame(out, b"s", _text(value))
    elif kind is bytes or kind is bytearray:
        _frame(out, b"y", bytes(value))
    elif kind in _SEQUENCES:
        out += _SEQUENCES[kind] + _LEN.pack(len(value))
        for item in value:
            _encode(item, out, where, depth + 1)
    elif kind is dict:
        out += b"d" + _LEN.pack(len(value))
        for k, v in value.items():
            _encode(k, out, where, depth + 1)
            _encode(v, out, where, depth + 1)
    elif kind is Decimal:
        _frame(out, b"D", str(value).encode())
    elif kind is uuid.UUID:
        out += b"U" + value.bytes
    elif kind is dt.datetime or kind is dt.time:
        out += b"W" if kind is dt.datetime else b"h"
        _frame(out, b"", value.replace(tzinfo=None).isoformat().encode())
        _zone(value.tzinfo, out, where)
    elif kind is dt.date:
        _frame(out, b"a", value.isoformat().encode())
    elif kind is dt.timedelta:
        out += b"e" + _TD.pack(value.days, value.seconds, value.microseconds)
    else:
        raise UnstorableValue(where, f"{kind.__module__}.{kind.__qualname__}")


_SEQUENCES: dict[type, bytes] = {list: b"l", tuple: b"t", set: b"S", frozenset: b"Z"}
_BUILD = {b"l": list, b"t": tuple, b"S": set, b"Z": frozenset}


def _zone(tz: Any, out: bytearray, where: str) -> None:
    if tz is None:
        out += b"-"
    elif type(tz) is dt.timezone:
        offset = tz.utcoffset(None)
        out += b"z" + _TD.pack(offset.days, offset.seconds, offset.microseconds)
        name = tz.tzname(None)
        _frame(out, b"", _text(name if name != str(dt.timezone(offset)) else ""))
    elif type(tz) is ZoneInfo:
        _frame(out, b"Z", _text(tz.key))
    else:
        raise UnstorableValue(where, f"datetime with tzinfo {type(tz).__name__}")


def _read_frame(data: bytes, pos: int) -> tuple[bytes, int]:
    (n,) = _LEN.unpack_from(data, pos)
    pos += 4
    end = pos + n
    if end > len(data):
        raise _Bad
    return data[pos:end], end


def _decode(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    if depth > MAX_DEPTH or pos >= len(data):
        raise _Bad
    tag = data[pos : pos + 1]
    pos += 1
    if tag == b"N":
        return None, pos
    if tag == b"T" or tag == b"F":
        return tag == b"T", pos
    if tag == b"i":
        raw, pos = _read_frame(data, pos)
        return int(raw.decode("ascii")), pos
    if tag == b"f":
        return _F64.unpack_from(data, pos)[0], pos + 8
    if tag == b"s":
        raw, pos = _read_frame(data, pos)
        return raw.decode("utf-8", "surrogatepass"), pos
    if tag == b"y":
        return _read_frame(data, pos)
    if tag in _BUILD:
        (n,) = _LEN.unpack_from(data, pos)
        pos += 4
        items = []
        for _ in range(n):
            item, pos = _decode(data, pos, depth + 1)
            items.append(item)
        return _BUILD[tag](items), pos
    if tag == b"d":
        (n,) = _LEN.unpack_from(data, pos)
        pos += 4
        out = {}
        for _ in range(n):
            k, pos = _decode(data, pos, depth + 1)
            v, pos = _decode(data, pos, depth + 1)
            out[k] = v
        return out, pos
    if tag == b"D":
        raw, pos = _read_frame(data, pos)
        return Decimal(raw.decode("ascii")), pos
    if tag == b"U":
        if pos + 16 > len(data):
            raise _Bad
        return uuid.UUID(bytes=data[pos : pos + 16]), pos + 16
    if tag == b"W" or tag == b"h":
        raw, pos = _read_frame(data, pos)
        tz, pos = _read_zone(data, pos)
        text = raw.decode("ascii")
        made = dt.datetime.fromisoformat(text) if tag == b"W" else dt.time.fromisoformat(text)
        return made.replace(tzinfo=tz), pos
    if tag == b"a":
        raw, pos = _read_frame(data, pos)
        return dt.date.fromisoformat(raw.decode("ascii")), pos
    if tag == b"e":
        days, seconds, micros = _TD.unpack_from(data, pos)
        return dt.timedelta(days, seconds, micros), pos + _TD.size
    raise _Bad


def _read_zone(data: bytes, pos: int) -> tuple[Any, int]:
    tag = data[pos : pos + 1]
    pos += 1
    if tag == b"-":
        return None, pos
    if tag == b"z":
        days, seconds, micros = _TD.unpack_from(data, pos)
        pos += _TD.size
        raw, pos = _read_frame(data, pos)
        offset = dt.timedelta(days, seconds, micros)
        name = raw.decode("utf-8", "surrogatepass")
        return (dt.timezone(offset, name) if name else dt.timezone(offset)), pos
    if tag == b"Z":
        raw, pos = _read_frame(data, pos)
        return ZoneInfo(raw.decode("utf-8", "surrogatepass")), pos
    raise _Bad
