"""Which responses may be stored, how they are stored, and what caches in front are told."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response
from werkzeug.datastructures import Headers

from ..core.cachestatus import HIT
from ..core.downstream import PRIVATE as _PRIVATE
from ..core.downstream import Downstream
from ..core.downstream import downstream_headers as downstream_headers
from ..core.downstream import title as _title
from ..core.entry import Entry, etag_matches
from ..core.policy import KeyPolicy
from ..core.storable import HOP_BY_HOP as HOP_BY_HOP
from ..core.storable import STORABLE_STATUS as STORABLE_STATUS

#: Headers never stored with an entry: per-response or per-connection.
_UNSTORED = HOP_BY_HOP | {
    "set-cookie",
    "date",
    "age",
    "content-length",
    "cache-status",
    "cache-control",
    "vary",
}


_KEEP_OUT = frozenset({"private", "no-store", "no-cache"})


def directives(headers: Headers) -> set[str]:
    """The ``Cache-Control`` directive names, lower case (values ignored): cheaper than
    Werkzeug's parsed object, and all the storage rules need."""
    found: set[str] = set()
    for value in headers.getlist("Cache-Control"):
        for part in value.split(","):
            name = part.split("=", 1)[0].strip().lower()
            if name:
                found.add(name)
    return found


def refusal(
    response: Response, policy: KeyPolicy, max_bytes: int, unread: frozenset[str] = frozenset()
) -> str | None:
    """Why ``response`` must not be stored, or ``None`` when it may be (invariant 4).

    :param unread: ``Vary`` names the response is known not to depend on (``cookie``
        when only the auth layer or an after_request hook that changed nothing read the
        session: Flask says ``Vary: Cookie`` for any use of it).
    """
    if response.status_code not in STORABLE_STATUS:
        return f"status {response.status_code}"
    if response.is_streamed:
        return "a streamed body"
    headers = response.headers
    if "Set-Cookie" in headers:
        return "a Set-Cookie header"
    if not _KEEP_OUT.isdisjoint(directives(headers)):
        return "Cache-Control private/no-store/no-cache set by the view"
    for line in headers.getlist("Vary"):  # every Vary line counts, not only the first
        for name in line.split(","):
            name = name.strip().lower()
            if name == "*":
                return "Vary: *"
            if (
                name
                and not policy.keys_header(name)
                and name != "accept-encoding"
                and name not in unread
            ):
                return f"Vary: {name} that the key does not cover (add it to vary=[...])"
    length = response.content_length
    if length is not None and length > max_bytes:
        return "a body over CACHEWARD_MAX_ENTRY_BYTES"
    return None


def _unstored(response: Response) -> frozenset[str]:
    """The headers of ``response`` not to store: the usual ones and any header its
    ``Connection`` header names (hop-by-hop too, RFC 9110 7.6.1)."""
    lines = response.headers.getlist("Connection")
    named = [n.strip().lower() for line in lines for n in line.split(",")]
    return _UNSTORED.union(named) if named else _UNSTORED


class StoredForm:
    """What storing a response would keep: status, stored headers, body; and the header
    names of its ``Vary`` lines (judged, never stored)."""

    __slots__ = ("status", "headers", "body", "vary")

    def __init__(self, response: Response) -> None:
        unstored = _unstored(response)
        self.status = response.status_code
        self.headers = tuple(
            (k, v) for k, v in response.headers.items() if k.lower() not in unstored
        )
        self.body = response.get_data()
        self.vary = vary_names(response)

    def same(self, other: StoredForm) -> bool:
        return (self.status, self.headers, self.body) == (other.status, other.headers, other.body)


def stored_form(response: Response) -> StoredForm | None:
    """:class:`StoredForm` of ``response``; ``None`` for a streamed body (never stored)."""
    return None if response.is_streamed else StoredForm(response)


def vary_names(response: Response) -> frozenset[str]:
    """The lower-case header names every ``Vary`` line of ``response`` names."""
    return frozenset(
        n.strip().lower() for line in response.headers.getlist("Vary") for n in line.split(",")
    )


def to_entry(
    response: Response,
    body: bytes,
    key_digest: str,
    scope: str,
    ttl: float,
    tags: tuple[str, ...],
    generation: tuple[int, ...],
    created: float,
    form: StoredForm | None = None,
) -> Entry:
    """The storable form of ``response`` with its ``body`` (already read and measured),
    or ``form`` (the view's response before the after_request hooks) when given, made at
    ``created`` (epoch seconds, by the backend's clock)."""
    etag = response.headers.get("ETag")
    if not etag:
        # Unique per stored entry (its key and the moment it was made), without hashing
        # the body: a re-stored identical body only costs one full response.
        etag = f'"{key_digest[:24]}-{int(created * 1000):x}"'
        response.headers["ETag"] = etag
    if form is not None:
        status, headers, body = form.status, form.headers, form.body
        if not any(k.lower() == "etag" for k, _ in headers):
            headers = (*headers, ("ETag", etag))
    else:
        unstored = _unstored(response)
        status = response.status_code
        headers = tuple((k, v) for k, v in response.headers.items() if k.lower() not in unstored)
    return Entry(
        status=status,
        headers=headers,
        body=body,
        created=created,
        ttl=ttl,
        etag=etag,
        scope=scope,
        tags=tags,
        generation=generation,
    )


#: Set on cache hits to the ``Cache-Control`` they were built with: the after-request
#: hook leaves them alone while no other hook changed it or added a ``Set-Cookie``.
FINAL = "_cacheward_final"


def from_entry(
    entry: Entry, if_none_match: str | None, now: float, extra: list[tuple[str, str]]
) -> Response:
    """The response a hit answers with: ``304`` when the client holds the same ETag.

    :param extra: the route's downstream headers (``Cache-Control``, ``Vary``).
    """
    headers = [
        *entry.headers,
        ("Age", str(max(0, int(now - entry.created)))),
        ("Cache-Status", HIT),
        *extra,
    ]
    if if_none_match and etag_matches(if_none_match, entry.etag):
        headers = [(k, v) for k, v in headers if k != "Content-Type"]
        response = Response(status=304, headers=_trusted(headers))
    else:
        body = entry.body
        headers.append(("Content-Length", str(len(body))))
        response = _response(body, entry.status, headers)
    response.__dict__[FINAL] = extra[0][1]  # downstream_headers puts Cache-Control first
    return response


def _status_line(code: int) -> str:
    line = _STATUS_LINES.get(code)
    if line is None:
        line = _STATUS_LINES[code] = Response(status=code).status
    return line


_STATUS_LINES: dict[int, str] = {}


def _fast_response(body: bytes, status: int, headers: list[tuple[str, str]]) -> Response:
    """A response from parts that are already valid, without Werkzeug re-checking them
    (a hit's body, status and headers were checked when the entry was stored)."""
    response = Response.__new__(Response)
    response.__dict__.update(
        headers=_trusted(headers),
        _status=_status_line(status),
        _status_code=status,
        direct_passthrough=False,
        _on_close=[],
        response=[body],
    )
    return response


def _slow_response(body: bytes, status: int, headers: list[tuple[str, str]]) -> Response:
    return Response(body, status=status, headers=headers)


def _pick_response_builder() -> Callable[[bytes, int, list[tuple[str, str]]], Response]:
    """The fast builder if it makes exactly what Werkzeug's constructor makes here."""
    pairs = [("Content-Type", "text/plain"), ("Content-Length", "1")]
    slow = _slow_response(b"x", 203, list(pairs))
    fast = _fast_response(b"x", 203, list(pairs))
    same = (
        set(vars(slow)) == set(vars(fast))
        and slow.status == fast.status
        and slow.get_data() == fast.get_data()
        and list(slow.headers.items()) == list(fast.headers.items())
    )
    return _fast_response if same else _slow_response


def _trusted(pairs: list[tuple[str, str]]) -> Headers:
    """Headers from pairs that were validated when the entry was stored (or are ours):
    skips Werkzeug's per-header re-validation on the hit path."""
    headers = Headers()
    headers._list = pairs
    return headers


def tell_downstream(
    response: Response,
    downstream: Downstream,
    cached: bool,
    ttl: float,
    credential_headers: tuple[str, ...],
    vary: tuple[str, ...],
) -> None:
    """Give an authenticated response an explicit ``Cache-Control`` (invariant 5).

    A view's own ``private`` or ``no-store`` is kept; anything more permissive
    (``public``, ``s-maxage``, nothing at all) is replaced, because a shared cache in
    front cannot run our authorization.
    """
    headers = response.headers
    given = directives(headers)
    no_store = "no-store" in given
    if response.status_code >= 400 or not cached or downstream is Downstream.NO_STORE:
        if not no_store:
            headers["Cache-Control"] = "no-store"
    elif downstream is Downstream.PER_KEY:
        headers["Cache-Control"] = f"public, max-age={int(ttl)}"
        _add_vary(response, credential_headers + vary)
    elif not ("private" in given or no_store):
        headers["Cache-Control"] = _PRIVATE
    if vary and downstream is not Downstream.PER_KEY:
        _add_vary(response, vary)
    if "Set-Cookie" in headers and not no_store:
        headers["Cache-Control"] = "no-store"


def _add_vary(response: Response, names: tuple[str, ...]) -> None:
    present = {v.strip().lower() for v in response.headers.get("Vary", "").split(",") if v.strip()}
    for name in names:
        if name.startswith(":"):
            continue
        if name.lower() not in present:
            present.add(name.lower())
            response.vary.add(_title(name))


_response = _pick_response_builder()
