"""Canonical query strings.

The canonical form must never merge two query strings that the application reads
differently, and should merge the ones it reads alike. So it parses exactly as Werkzeug
does (on ``&`` only, ``+`` as space, blank values kept), but strictly: a query that is not
valid UTF-8, raw or percent-decoded, is refused instead of guessed at. Parameters are
sorted by name with a stable sort, so that the values of a repeated name keep their
order (``?a=1&a=2`` is not ``?a=2&a=1`` to a view that reads ``args["a"]``).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, quote

from ..errors import MalformedQuery

#: More parameters than this is refused: nobody's API needs it, and it bounds the work.
MAX_QUERY_PARAMS = 256
#: A longer query string is refused (most servers stop at 8 KiB for the whole line).
MAX_QUERY_LENGTH = 8192

Pairs = tuple[tuple[str, str], ...]
_NOTHING: frozenset[str] = frozenset()


def parse_query(query_string: str) -> Pairs:
    """Parse a WSGI ``QUERY_STRING`` (latin-1 text of the raw bytes) as Werkzeug does.

    :raises MalformedQuery: invalid UTF-8, too long, or too many parameters.
    """
    if not query_string:
        return ()
    if len(query_string) > MAX_QUERY_LENGTH:
        raise MalformedQuery(f"the query string is longer than {MAX_QUERY_LENGTH} bytes")
    try:
        text = query_string.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise MalformedQuery("the query string is not valid UTF-8") from None
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, errors="strict", max_num_fields=MAX_QUERY_PARAMS
        )
    except UnicodeDecodeError:
        raise MalformedQuery("a percent-encoded query value is not valid UTF-8") from None
    except ValueError:
        raise MalformedQuery(f"more than {MAX_QUERY_PARAMS} query parameters") from None
    return tuple(pairs)


def canonical_query(
    pairs: Pairs,
    keep: Callable[[str], bool],
    *,
    reject_duplicates: bool = True,
) -> tuple[str, frozenset[str]]:
    """The canonical, injective encoding of the kept parameters, and the names dropped.

    :param pairs: parsed parameters, in request order.
    :param keep: whether a parameter name belongs in the cache key.
    :param reject_duplicates: refuse a repeated parameter name (HTTP parameter pollution:
        a cache that keys the first value and an app that reads the last disagree).
    :raises MalformedQuery: on a repeated name while ``reject_duplicates`` is on.
    """
    if not pairs:
        return "", _NOTHING
    kept: list[tuple[str, str]] = []
    dropped: set[str] = set()
    seen: set[str] = set()
    for name, value in pairs:
        if reject_duplicates:
            if name in seen:
                raise MalformedQuery(f"the query parameter {name!r} is repeated")
            seen.add(name)
        if keep(name):
            kept.append((name, value))
        else:
            dropped.add(name)
    kept.sort(key=_name)
    encoded = "&".join(f"{quote(n, safe='')}={quote(v, safe='')}" for n, v in kept)
    return encoded, frozenset(dropped)


def _name(pair: tuple[str, str]) -> str:
    return pair[0]
