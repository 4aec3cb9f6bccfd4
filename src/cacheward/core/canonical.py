"""Canonical forms of function arguments, for ``memoize`` keys.

A memoized result is shared by every call whose arguments have the same canonical form,
so the form must never merge two arguments a function may treat differently, and must
be the same in every process and on every run. ``repr()`` is neither: Flask-Caching keys
a model method by ``repr(self)``, which is ``<User object at 0x7f...>``, a memory address
that a later object reuses, and one user was served another user's access token.

So only values whose form is known are keyed; everything else is refused (fail closed):

- ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``/``bytearray``;
- ``tuple``, ``list``, ``dict``, ``set``, ``frozenset`` of keyable values (dicts and sets
  in a sorted order, so ``{"a": 1, "b": 2}`` is ``{"b": 2, "a": 1}``);
- ``Decimal`` (as written: ``1.0`` is not ``1.00``), ``UUID``, ``date``, ``time``,
  ``datetime`` and ``timedelta`` (with no timezone, a ``timezone`` or a ``ZoneInfo``);
- ``Enum`` members (by class and name), named tuples, dataclass instances (by class and
  fields), classes (by module and qualified name);
- any object with a ``__cache_key__()`` method (or Flask-Caching's ``__caching_id__()``),
  keyed by its class and what it returns. A ``__repr__`` is not enough: it is written for
  people, and nothing says two objects that must not share a result print differently.

Every form carries its type, so ``1``, ``1.0``, ``True``, ``"1"`` and ``b"1"`` are five
keys. A class is named by its module and qualified name: two classes made by one
factory function share it (give their instances a ``__cache_key__`` that tells them
apart).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import re
import struct
import uuid
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import UnkeyableArgument
from .cachekey import CacheKey

#: Deeper nesting than this is refused (it also stops a cycle).
MAX_DEPTH = 32
_ADDRESS_REPR = re.compile(r"^<.* at 0x[0-9a-fA-F]+>$", re.S)
_LEN = struct.Struct(">I")


def canonical(value: object, where: str = "memoize") -> bytes:
    """The canonical bytes of ``value``.

    :param where: what is being keyed, for the error message (``"memoize(get_user)"``).
    :raises UnkeyableArgument: ``value`` (or something inside it) has no canonical form.
    """
    return _form(value, where, 0)


def class_path(cls: type, where: str) -> str:
    """``module.QualName`` of ``cls``."""
    qualname = getattr(cls, "__qualname__", "")
    if not qualname:
        raise UnkeyableArgument(where, repr(cls), "it has no qualified name")
    return f"{cls.__module__}.{qualname}"


def _framed(tag: bytes, payload: bytes) -> bytes:
    return tag + _LEN.pack(len(payload)) + payload


def _text(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def _form(value: Any, where: str, depth: int) -> bytes:
    if depth > MAX_DEPTH:
        raise UnkeyableArgument(where, type(value).__name__, f"nested deeper than {MAX_DEPTH}")
    kind = type(value)
    if value is None:
        return b"N"
    if kind is bool:
        return b"T" if value else b"F"
    if kind is int:
        return _framed(b"i", str(value).encode())
    if kind is float:
        return _framed(b"f", struct.pack(">d", value))
    if kind is str:
        return _framed(b"s", _text(value))
    if kind is bytes or kind is bytearray:
        return _framed(b"y", bytes(value))
    if kind is tuple or kind is list:
        tag = b"t" if kind is tuple else b"l"
        return _framed(tag, b"".join(_form(v, where, depth + 1) for v in value))
    if kind is dict:
        items = sorted(
            _form(k, where, depth + 1) + _form(v, where, depth + 1) for k, v in value.items()
        )
        return _framed(b"d", b"".join(items))
    if kind is set or kind is frozenset:
        tag = b"S" if kind is set else b"Z"
        return _framed(tag, b"".join(sorted(_form(v, where, depth + 1) for v in value)))
    if kind is Decimal:
        return _framed(b"D", str(value).encode())
    if kind is uuid.UUID:
        return _framed(b"U", value.bytes)
    if kind is dt.datetime or kind is dt.time:
        tag = b"W" if kind is dt.datetime else b"h"
        return _framed(tag, value.isoformat().encode() + b"|" + _zone(value, where))
    if kind is dt.date:
        return _framed(b"a", value.isoformat().encode())
    if kind is dt.timedelta:
        parts = (value.days, value.seconds, value.microseconds)
        return _framed(b"e", struct.pack(">qqq", *parts))
    return _object(value, where, depth)


def _zone(value: Any, where: str) -> bytes:
    tz = value.tzinfo
    if tz is None:
        return b""
    if type(tz) is dt.timezone:
        offset = tz.utcoffset(None)
        return b"tz:" + str(offset).encode() + b"|" + _text(tz.tzname(None) or "")
    if type(tz) is ZoneInfo:
        return b"zi:" + _text(tz.key)
    raise UnkeyableArgument(
        where,
        f"datetime with tzinfo {type(tz).__name__}",
        "only datetime.timezone and zoneinfo.ZoneInfo zones have a canonical form",
    )


def _object(value: Any, where: str, depth: int) -> bytes:
    kind = type(value)
    hook = getattr(kind, "__cache_key__", None)
    if hook is not None and callable(hook):
        return _framed(
            b"K",
            _text(class_path(kind, where)) + b"|" + _form(value.__cache_key__(), where, depth + 1),
        )
    caching_id = getattr(kind, "__caching_id__", None)  # Flask-Caching's own hook
    if caching_id is not None and callable(caching_id):
        inner = _form(value.__caching_id__(), where, depth + 1)
        return _framed(b"K", _text(class_path(kind, where)) + b"|" + inner)
    if isinstance(value, enum.Enum):
        return _framed(b"E", _text(class_path(kind, where)) + b"|" + _text(value.name))
    if isinstance(value, type):
        return _framed(b"c", _text(class_path(value, where)))
    if isinstance(value, tuple) and hasattr(kind, "_fields"):  # a named tuple
        inner = b"".join(_form(v, where, depth + 1) for v in value)
        return _framed(b"n", _text(class_path(kind, where)) + b"|" + inner)
    if dataclasses.is_dataclass(value):
        fields = [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]
        inner = b"".join(_form(n, where, depth + 1) + _form(v, where, depth + 1) for n, v in fields)
        return _framed(b"C", _text(class_path(kind, where)) + b"|" + inner)
    raise UnkeyableArgument(where, _type_name(kind), _why(value))


def _type_name(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def _why(value: object) -> str:
    try:
        text = object.__repr__(value) if type(value).__repr__ is object.__repr__ else None
    except Exception:  # noqa: BLE001 - only for the message
        text = None
    if text is not None and _ADDRESS_REPR.match(text):
        return (
            "its repr is a memory address (<... object at 0x...>), which another object"
            " may reuse; pass its id instead, or give its class a __cache_key__() method"
            " returning what identifies it"
        )
    return (
        "it has no known canonical form; pass plain values (str, int, tuples, dicts...),"
        " or give its class a __cache_key__() method returning what identifies it"
    )


def build_value_key(
    namespace: str,
    kind: str,
    app: str,
    name: str,
    args: bytes,
    scope: str,
    principal: tuple[tuple[str, str], ...] = (),
) -> CacheKey:
    """The key of a memoized result (``kind="memo"``, ``name`` the function, ``args`` its
    canonical arguments) or of a data cache value (``kind="data"``, ``name`` its key).

    Its parts begin ``ns``, ``kind``, unlike a response key's ``ns``, ``method``: being
    length-prefixed, the two encodings never meet.
    """
    parts: list[tuple[str, str]] = [
        ("ns", namespace),
        ("kind", kind),
        ("app", app),
        ("name", name),
        ("args", args.hex()),
        *principal,
        ("scope", scope),
    ]
    text = "\n".join([f"{k}={len(v)}:{v}" for k, v in parts])
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()
    return CacheKey(digest, scope, tuple(parts))
