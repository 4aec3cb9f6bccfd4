"""The storage and downstream rules on raw ASGI responses.

The same rules as the Flask guard (:mod:`cacheward.flask.response`, whose constants are
shared): only 200/203/204/300/301/308 are stored; never a streamed body, a
``Set-Cookie``, ``private``/``no-store``/``no-cache``, ``Vary: *`` or a ``Vary`` the key
does not cover; hop-by-hop headers are never stored or replayed; every authenticated
response leaves with an explicit ``Cache-Control``.

Headers here are ASGI's: a list of ``(name, value)`` byte pairs, names lower case.
"""

from __future__ import annotations

from ..core import cachestatus
from ..core.downstream import Downstream
from ..core.entry import Entry, etag_matches
from ..core.policy import KeyPolicy
from ..core.storable import HOP_BY_HOP, STORABLE_STATUS

RawHeaders = list[tuple[bytes, bytes]]

_UNSTORED = frozenset(
    n.encode()
    for n in HOP_BY_HOP
    | {"set-cookie", "date", "age", "content-length", "cache-status", "cache-control", "vary"}
)
_KEEP_OUT = frozenset({"private", "no-store", "no-cache"})
_PRIVATE = b"private, no-cache"
_NO_STORE = b"no-store"


def values(headers: RawHeaders, name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in headers if k == name]


def directives(headers: RawHeaders) -> set[str]:
    found: set[str] = set()
    for value in values(headers, b"cache-control"):
        for part in value.split(","):
            name = part.split("=", 1)[0].strip().lower()
            if name:
                found.add(name)
    return found


def refusal(
    status: int, headers: RawHeaders, policy: KeyPolicy, streamed: bool, size: int, limit: int
) -> str | None:
    """Why this final response must not be stored, or ``None`` (invariant 4)."""
    if status not in STORABLE_STATUS:
        return f"status {status}"
    if streamed:
        return "a streamed body"
    names = {k for k, _ in headers}
    if b"set-cookie" in names:
        return "a Set-Cookie header"
    if not _KEEP_OUT.isdisjoint(directives(headers)):
        return "Cache-Control private/no-store/no-cache set by the endpoint"
    for line in values(headers, b"vary"):
        for name in line.split(","):
            name = name.strip().lower()
            if name == "*":
                return "Vary: *"
            if name and not policy.keys_header(name) and name != "accept-encoding":
                return f"Vary: {name} that the key does not cover (add it to vary=[...])"
    if not policy.keys_header("accept-encoding"):
        # GZipMiddleware and friends compress for callers that accept it: a compressed
        # body is another response than the identity one, keyed by Accept-Encoding.
        for coding in values(headers, b"content-encoding"):
            if coding.strip().lower() not in ("", "identity"):
                return (
                    f"Content-Encoding: {coding.strip()} that the key does not cover"
                    " (add Accept-Encoding to vary=[...])"
                )
    if size > limit:
        return "a body over max_entry_bytes"
    return None


def final_refusal(headers: RawHeaders) -> str | None:
    """Why the *final* response (after every middleware inside the guard) forbids
    storing the route's own, or ``None``. What those middlewares add is not stored (they
    run again on every hit), so only what marks the whole response unstorable counts."""
    if any(k == b"set-cookie" for k, _ in headers):
        return "a Set-Cookie header"
    if not _KEEP_OUT.isdisjoint(directives(headers)):
        return "Cache-Control private/no-store/no-cache"
    for line in values(headers, b"vary"):
        if any(name.strip() == "*" for name in line.split(",")):
            return "Vary: *"
    return None


def _unstored(headers: RawHeaders) -> frozenset[bytes]:
    named = [
        n.strip().lower().encode("latin-1")
        for line in values(headers, b"connection")
        for n in line.split(",")
    ]
    return _UNSTORED.union(named) if named else _UNSTORED


def to_entry(
    status: int,
    headers: RawHeaders,
    body: bytes,
    key_digest: str,
    scope: str,
    ttl: float,
    tags: tuple[str, ...],
    generation: tuple[int, ...],
    created: float,
) -> Entry:
    """The storable form of a final response, made at ``created`` (the backend's clock);
    adds an ``ETag`` to ``headers`` if none."""
    etags = values(headers, b"etag")
    etag = etags[0] if etags else ""
    if not etag:
        etag = f'"{key_digest[:24]}-{int(created * 1000):x}"'
        headers.append((b"etag", etag.encode("latin-1")))
    unstored = _unstored(headers)
    kept = tuple(
        (k.decode("latin-1"), v.decode("latin-1")) for k, v in headers if k not in unstored
    )
    return Entry(status, kept, body, created, ttl, etag, scope, tags, generation)


_HIT = cachestatus.HIT.encode("latin-1")

def hit_response(
    entry: Entry, if_none_match: str | None, now: float, extra: RawHeaders
) -> tuple[int, RawHeaders, bytes]:
    """Status, headers and body a hit answers with: ``304`` for a matching ETag."""
    headers: RawHeaders = [
        (k.encode("latin-1"), v.encode("latin-1")) for k, v in entry.headers
    ]
    headers.append((b"age", str(max(0, int(now - entry.created))).encode()))
    headers.append((b"cache-status", _HIT))
    headers.extend(extra)
    if if_none_match and etag_matches(if_none_match, entry.etag):
        return 304, [(k, v) for k, v in headers if k != b"content-type"], b""
    body = entry.body
    headers.append((b"content-length", str(len(body)).encode()))
    return entry.status, headers, body


def _title(name: str) -> str:
    return "-".join(p.capitalize() for p in name.split("-"))


def _set(headers: RawHeaders, name: bytes, value: bytes) -> None:
    headers[:] = [(k, v) for k, v in headers if k != name]
    headers.append((name, value))


def add_vary(headers: RawHeaders, names: tuple[str, ...]) -> None:
    """Name each header of ``names`` (but ``:``-pseudo ones) in one ``Vary`` line."""
    present = {
        v.strip().lower() for line in values(headers, b"vary") for v in line.split(",") if v.strip()
    }
    missing = [_title(n) for n in names if not n.startswith(":") and n.lower() not in present]
    if not missing:
        return
    lines = [*(line for line in values(headers, b"vary") if line.strip()), *missing]
    _set(headers, b"vary", ", ".join(lines).encode("latin-1"))


def tell_downstream(
    status: int,
    headers: RawHeaders,
    downstream: Downstream,
    cached: bool,
    ttl: float,
    credential_headers: tuple[str, ...],
    vary: tuple[str, ...],
) -> None:
    """Give an authenticated response an explicit ``Cache-Control`` (invariant 5): the
    endpoint's own ``private``/``no-store`` is kept, anything more permissive replaced."""
    given = directives(headers)
    no_store = "no-store" in given
    if status >= 400 or not cached or downstream is Downstream.NO_STORE:
        if not no_store:
            _set(headers, b"cache-control", _NO_STORE)
    elif downstream is Downstream.PER_KEY:
        _set(headers, b"cache-control", f"public, max-age={int(ttl)}".encode())
        add_vary(headers, credential_headers + vary)
    elif not ("private" in given or no_store):
        _set(headers, b"cache-control", _PRIVATE)
    if vary and downstream is not Downstream.PER_KEY:
        add_vary(headers, vary)
    if any(k == b"set-cookie" for k, _ in headers) and not no_store:
        _set(headers, b"cache-control", _NO_STORE)
