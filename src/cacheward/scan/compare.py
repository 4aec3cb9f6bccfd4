"""Response comparison tolerant of what changes on every request.

Two responses are *the same* when their status and normalized bodies match: JSON is
compared structurally with volatile fields dropped (timestamps, request ids, nonces),
text with volatile tokens (UUIDs, long hex, ISO dates, epoch numbers) replaced.
*Markers* are the values that tell one principal's body from another's; finding them in
a response proves whose data it carries.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .exchange import ProbeResponse

_VOLATILE_KEY = re.compile(
    r"(^|_|-)(request_?id|req_?id|trace_?id|span_?id|correlation_?id|nonce|timestamp|ts|time|"
    r"date|generated(_at)?|served_at|now|elapsed|duration|uptime|etag|csrf(_token)?)$",
    re.IGNORECASE,
)
_TIME = (
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?"  # iso date
    r"|\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? \d{1,2}[ -][A-Z][a-z]{2}[ -]\d{2,4}"  # http date
    r"|\b\d{1,2}:\d{2}:\d{2}(\.\d+)?\b"  # time of day
    r"|\b\d{10,}(\.\d+)?\b"  # epoch seconds / ms
)
_IDS = (
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # uuid
    r"|\b[0-9a-f]{16,}\b"  # long hex ids
)
_VOLATILE_TEXT = re.compile(f"{_IDS}|{_TIME}", re.IGNORECASE)
#: What reads the clock: never an identity value, whatever else a body repeats.
_CLOCK = re.compile(_TIME, re.IGNORECASE)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if not _VOLATILE_KEY.search(str(k))}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, str):
        return _VOLATILE_TEXT.sub("~", value)
    if isinstance(value, float):
        return "~"
    return value


def _json(resp: ProbeResponse) -> Any:
    if not resp.body or resp.body[:1] not in (b"{", b"["):
        return None
    try:
        return json.loads(resp.body)
    except ValueError:
        return None


def normalized(resp: ProbeResponse) -> str:
    """A canonical form of the body for comparison."""
    doc = _json(resp)
    if doc is not None:
        return json.dumps(_scrub(doc), sort_keys=True)
    return _VOLATILE_TEXT.sub("~", resp.text)


def fingerprint(resp: ProbeResponse) -> str:
    """What :func:`same` compares, computed once: status and normalized body."""
    return f"{resp.status}:{normalized(resp)}"


def same(a: ProbeResponse, b: ProbeResponse) -> bool:
    """Same status and same normalized body."""
    return a.status == b.status and normalized(a) == normalized(b)


def volatile(resp: ProbeResponse) -> bool:
    """Whether the body carries per-response values (request ids, timestamps): then two
    byte-identical bodies prove one was served from the other."""
    return bool(_VOLATILE_TEXT.search(resp.text)) or _volatile_key(_json(resp))


def _volatile_key(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_VOLATILE_KEY.search(str(k)) or _volatile_key(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_volatile_key(v) for v in value)
    return False


def identical(a: ProbeResponse, b: ProbeResponse) -> bool:
    """Byte-identical bodies, volatile parts included (one was served from the other)."""
    return a.status == b.status and a.body == b.body


def _leaves(value: Any, out: set[str], *, every_key: bool = False) -> set[str]:
    """Strings and numbers of four characters or more: under non-volatile keys and not
    volatile themselves, or (``every_key``) under any key and not reading the clock."""
    if isinstance(value, dict):
        for k, v in value.items():
            if every_key or not _VOLATILE_KEY.search(str(k)):
                _leaves(v, out, every_key=every_key)
    elif isinstance(value, list):
        for v in value:
            _leaves(v, out, every_key=every_key)
    elif isinstance(value, str | int) and not isinstance(value, bool):
        s = str(value)
        noise = _CLOCK.search(s) if every_key else _VOLATILE_TEXT.fullmatch(s)
        if len(s) >= 4 and not noise:
            out.add(s)
    return out


def markers(own: ProbeResponse, other: ProbeResponse) -> set[str]:
    """Values in ``own`` that ``other`` does not carry: the fingerprint of ``own``'s data."""
    a, b = _json(own), _json(other)
    if a is not None and b is not None:
        mine, theirs = _leaves(a, set()), _leaves(b, set())
        return {m for m in mine - theirs if m not in other.text}
    words = set(re.findall(r"[\w@.+-]{6,}", _VOLATILE_TEXT.sub(" ", own.text)))
    return {w for w in words if w not in other.text}


def carries(resp: ProbeResponse, marks: set[str]) -> bool:
    """Whether ``resp`` carries every one of ``marks`` (and there is at least one)."""
    return bool(marks) and all(m in resp.text for m in marks)


def reflects(resp: ProbeResponse, canary: str) -> bool:
    """Whether ``canary`` shows up in the body or in any response header."""
    return canary in resp.text or any(canary in v for v in resp.headers.values())


#: Headers that steer a client: a change here is an effect, never noise.
SIGNIFICANT_HEADERS = ("location", "access-control-allow-origin", "content-type", "link")


def differs(resp: ProbeResponse, baseline: ProbeResponse) -> bool:
    """Whether ``resp`` is materially different from ``baseline``."""
    if not same(resp, baseline):
        return True
    return any(resp.header(h) != baseline.header(h) for h in SIGNIFICANT_HEADERS)


_WORD = re.compile(r"[\w@.+-]{6,}")


def values(resp: ProbeResponse) -> frozenset[str]:
    """Every value of ``resp`` that could name whose data it is: JSON leaves (strings and
    numbers of four characters or more, under any key, tokens such as a CSRF token
    included) or, for other bodies, words of six characters or more. Whatever reads
    the clock is left out; what changes per response (a request id, a random number) is
    kept here and weeded out by the identity oracle, which keeps only values a principal's
    responses repeat (:mod:`cacheward.scan.identity`)."""
    doc = _json(resp)
    if doc is not None:
        return frozenset(_leaves(doc, set(), every_key=True))
    return frozenset(_WORD.findall(_CLOCK.sub(" ", resp.text)))
