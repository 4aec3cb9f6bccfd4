"""The RFC 9211 ``Cache-Status`` header: the values the guard says, and a loose reader.

``Cache-Status`` is an RFC 8941 structured-field *list*: one member per cache on the
path, the cache nearest the origin first and the one nearest the client last. Each
member is a cache name (a token or a quoted string) with parameters, e.g.
``ExampleCache; hit, CDN; fwd=uri-miss; stored; ttl=30``. ``hit`` means the member
answered from its store; ``fwd`` means it forwarded the request (a miss of some kind).

The guard's own member is named :data:`NAME`; every value it sends is built by
:func:`member` (or is one of the constants below), and read back by :func:`ours`.

Real servers emit sloppy values (bare ``hit``, odd spacing, unbalanced quotes), so the
parser never raises: anything it cannot read simply carries no signal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The cache name the guard gives itself in ``Cache-Status``.
NAME = "cacheward"


def member(*params: str) -> str:
    """The guard's member with ``params`` (``"hit"``, ``"fwd=miss"``, ``"detail=..."``)."""
    return "; ".join((NAME, *params))


def detail(text: str) -> str:
    """A ``detail=`` parameter: a token, so spaces become ``-``."""
    return "detail=" + text.replace(" ", "-")


#: A response answered from the guard's store.
HIT = member("hit")
#: A miss whose response the guard stored.
STORED = member("fwd=miss", "stored")


def not_stored(why: str) -> str:
    """A miss whose response the guard did not store, and why (a token)."""
    return member("fwd=miss", detail(why))


def bypass(why: str) -> str:
    """A request the guard did not look up at all, and why."""
    return member("fwd=bypass", detail(why))


@dataclass(frozen=True)
class Member:
    """One cache's entry: its name and its parameters (``hit`` -> ``"?1"``)."""

    name: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def hit(self) -> bool:
        return self.params.get("hit", "?0") != "?0"

    @property
    def forwarded(self) -> bool:
        return "fwd" in self.params


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside double-quoted strings (backslash escapes honoured)."""
    parts: list[str] = []
    cur: list[str] = []
    quoted = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


_PARAMS = frozenset({"hit", "fwd", "fwd-status", "ttl", "stored", "collapsed", "key", "detail"})


def parse(value: str) -> list[Member]:
    """The members of a ``Cache-Status`` value, in header order (empty ones dropped).

    A bare parameter name is boolean true (``?1``), as in RFC 8941. A member whose first
    item is itself a parameter (``hit``, ``fwd=miss; stored``: the cache name left out)
    is read as an unnamed cache with those parameters.
    """
    members: list[Member] = []
    for raw in _split(value, ","):
        items = [i.strip() for i in _split(raw, ";") if i.strip()]
        if not items:
            continue
        first = items[0].partition("=")[0].strip().lower()
        name = "" if first in _PARAMS else _unquote(items.pop(0))
        params: dict[str, str] = {}
        for item in items:
            key, eq, val = item.partition("=")
            key = key.strip().lower()
            if key:
                params[key] = _unquote(val).lower() if eq else "?1"
        members.append(Member(name, params))
    return members


def served_from_store(value: str) -> bool | None:
    """``True`` if any cache on the path hit, ``False`` if the caches present all
    forwarded, ``None`` when the header is absent or says neither."""
    members = parse(value)
    if any(m.hit for m in members):
        return True
    if any(m.forwarded for m in members):
        return False
    return None


def ours(value: str) -> Member | None:
    """The guard's own member of a ``Cache-Status`` value, or ``None``."""
    return next((m for m in parse(value) if m.name == NAME), None)
