"""The ``Request`` a cached endpoint is given: every input it reads is recorded.

:class:`TrackedRequest` is a :class:`starlette.requests.Request` (``isinstance`` holds)
whose every attribute read goes through one ``__getattribute__``: the inputs the guard
can key are recorded by name (a header, a query parameter, a cookie), the rest by kind
(the body, the client address, the host), and **any attribute it does not know**
(``request.scope``, ``request.state``, ``request.session``, ``request["..."]``, a private
field) is recorded as an unknown input, so the response is not stored. Fail closed: a
Starlette release that adds a way to read the request makes responses unstorable until
it is mapped here, never silently cacheable.

The URLs (``url``, ``base_url``, ``url_for``) are the request as it was *spelled*, while
the key holds it canonically: the query parsed and sorted, the Host without its default
port. A URL read is keyed only when the request was spelled canonically; otherwise two
spellings share one key and the first caller's spelling (``?q=<script>`` against
``?q=%3Cscript%3E``, another parameter order, ``Host: api:80``) would be served to the
next, so the read is unknown and that response is not stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from ..core.cachekey import canonical_host
from ..core.inputs import Kind
from ..core.query import parse_query
from ..errors import MalformedQuery
from .context import Recorder


class TrackedHeaders(Mapping[str, str]):
    """Headers whose reads by name are reads of that header; anything else reads all."""

    __slots__ = ("_h", "_rec")

    def __init__(self, headers: Any, rec: Recorder) -> None:
        self._h = headers
        self._rec = rec

    def __getitem__(self, key: str) -> str:
        self._rec.header(key)
        return self._h[key]  # type: ignore[no-any-return]

    def get(self, key: str, default: Any = None) -> Any:
        self._rec.header(key)
        return self._h.get(key, default)

    def getlist(self, key: str) -> list[str]:
        self._rec.header(key)
        return self._h.getlist(key)  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self._rec.header(key)
        else:
            self._rec.add(Kind.HEADER, "*")
        return key in self._h

    def __iter__(self) -> Iterator[str]:
        self._rec.add(Kind.HEADER, "*")
        return iter(self._h)

    def __len__(self) -> int:
        self._rec.add(Kind.HEADER, "*")
        return len(self._h)

    def __getattr__(self, name: str) -> Any:  # raw, mutablecopy, items()...
        self._rec.add(Kind.HEADER, "*")
        return getattr(self._h, name)

    def __eq__(self, other: object) -> bool:
        self._rec.add(Kind.HEADER, "*")
        return bool(self._h == other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        self._rec.add(Kind.HEADER, "*")
        return repr(self._h)


class TrackedQuery(Mapping[str, str]):
    """Query parameters: reads by name are keyed; iterating reads the whole query."""

    __slots__ = ("_q", "_rec")

    def __init__(self, query: Any, rec: Recorder) -> None:
        self._q = query
        self._rec = rec

    def __getitem__(self, key: str) -> str:
        self._rec.query(key)
        return self._q[key]  # type: ignore[no-any-return]

    def get(self, key: str, default: Any = None) -> Any:
        self._rec.query(key)
        return self._q.get(key, default)

    def getlist(self, key: str) -> list[str]:
        self._rec.query(key)
        return self._q.getlist(key)  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self._rec.query(key)
        else:
            self._rec.add(Kind.QUERY_ALL)
        return key in self._q

    def __iter__(self) -> Iterator[str]:
        self._rec.add(Kind.QUERY_ALL)
        return iter(self._q)

    def __len__(self) -> int:
        self._rec.add(Kind.QUERY_ALL)
        return len(self._q)

    def __getattr__(self, name: str) -> Any:  # multi_items(), items()...
        self._rec.add(Kind.QUERY_ALL)
        return getattr(self._q, name)

    def __eq__(self, other: object) -> bool:
        self._rec.add(Kind.QUERY_ALL)
        return bool(self._q == other)

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        self._rec.add(Kind.QUERY_ALL)
        return str(self._q)

    def __repr__(self) -> str:
        self._rec.add(Kind.QUERY_ALL)
        return repr(self._q)


class TrackedCookies(Mapping[str, str]):
    """Cookies: any read is a read of the ``Cookie`` header (keyed by ``vary=["Cookie"]``)."""

    __slots__ = ("_c", "_rec")

    def __init__(self, cookies: dict[str, str], rec: Recorder) -> None:
        self._c = cookies
        self._rec = rec

    def __getitem__(self, key: str) -> str:
        self._rec.add(Kind.COOKIE, key)
        return self._c[key]

    def get(self, key: str, default: Any = None) -> Any:
        self._rec.add(Kind.COOKIE, key)
        return self._c.get(key, default)

    def __contains__(self, key: object) -> bool:
        self._rec.add(Kind.COOKIE, key if isinstance(key, str) else "*")
        return key in self._c

    def __iter__(self) -> Iterator[str]:
        self._rec.add(Kind.COOKIE, "*")
        return iter(self._c)

    def __len__(self) -> int:
        self._rec.add(Kind.COOKIE, "*")
        return len(self._c)

    def __getattr__(self, name: str) -> Any:
        self._rec.add(Kind.COOKIE, "*")
        return getattr(self._c, name)

    def __eq__(self, other: object) -> bool:
        self._rec.add(Kind.COOKIE, "*")
        return bool(self._c == other)

    __hash__ = None  # type: ignore[assignment]


def _mark(*kinds: Kind) -> Callable[[Request, Recorder, str], Any]:
    def read(real: Request, rec: Recorder, name: str) -> Any:
        for kind in kinds:
            rec.add(kind)
        return getattr(real, name)

    return read


def _spelled_host(real: Request) -> bool:
    """Whether the Host the URL shows is the one the key holds (no default port)."""
    for k, v in real.scope["headers"]:
        if k == b"host":
            host: str = v.decode("latin-1")
            scheme = str(real.scope.get("scheme") or "http")
            return canonical_host(scheme, host) == host
    return True  # no Host header: the URL and the key both use the server address


def _spelled_query(real: Request) -> bool:
    """Whether the raw query string is the one spelling the key's parsed, sorted
    parameters have (``urlencode`` of them in the key's order)."""
    raw: bytes = real.scope.get("query_string", b"")
    if not raw:
        return True
    try:
        pairs = parse_query(raw.decode("latin-1"))
    except MalformedQuery:
        return False
    ordered = sorted(pairs, key=lambda pair: pair[0])
    return urlencode(ordered).encode("ascii") == raw


def _url(with_query: bool) -> Callable[[Request, Recorder, str], Any]:
    def read(real: Request, rec: Recorder, name: str) -> Any:
        rec.add(Kind.HOST)
        if not _spelled_host(real):
            rec.unknown(f"request.{name} with the Host's default port, which the key drops")
        if with_query:
            rec.add(Kind.QUERY_ALL)
            if not _spelled_query(real):
                rec.unknown(
                    f"request.{name} with the query as spelled (order, encoding), which the"
                    " key holds only parsed and sorted"
                )
        return getattr(real, name)

    return read


def _plain(real: Request, rec: Recorder, name: str) -> Any:
    return getattr(real, name)


_READS: dict[str, Callable[[Request, Recorder, str], Any]] = {
    "headers": lambda real, rec, _: TrackedHeaders(real.headers, rec),
    "query_params": lambda real, rec, _: TrackedQuery(real.query_params, rec),
    "cookies": lambda real, rec, _: TrackedCookies(real.cookies, rec),
    # The path is in the key; the router decoded path parameters from it.
    "path_params": lambda real, rec, _: dict(real.path_params),
    "url": _url(with_query=True),
    "base_url": _url(with_query=False),
    "url_for": _url(with_query=False),
    "method": _mark(Kind.METHOD),
    "client": _mark(Kind.REMOTE_ADDR),
    "body": _mark(Kind.BODY),
    "json": _mark(Kind.BODY),
    "form": _mark(Kind.BODY),
    "stream": _mark(Kind.BODY),
    "receive": _mark(Kind.BODY),
    # Not inputs of the response: the application object, the connection's liveness.
    "app": _plain,
    "is_disconnected": _plain,
    "close": _plain,
}


class TrackedRequest(Request):
    """A recording view of the request a cached endpoint reads."""

    def __init__(self, real: Request, rec: Recorder) -> None:  # noqa: D107
        object.__setattr__(self, "_cw_real", real)
        object.__setattr__(self, "_cw_rec", rec)

    def __getattribute__(self, name: str) -> Any:
        if name in ("_cw_real", "_cw_rec", "__class__"):
            return object.__getattribute__(self, name)
        real: Request = object.__getattribute__(self, "_cw_real")
        rec: Recorder = object.__getattribute__(self, "_cw_rec")
        read = _READS.get(name)
        if read is not None:
            return read(real, rec, name)
        rec.unknown(f"request.{name}")
        return getattr(real, name)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__getattribute__(self, "_cw_rec").unknown(f"request.{name} (written)")
        setattr(object.__getattribute__(self, "_cw_real"), name, value)

    def __getitem__(self, key: str) -> Any:
        object.__getattribute__(self, "_cw_rec").unknown(f"request[{key!r}]")
        return object.__getattribute__(self, "_cw_real")[key]

    def __iter__(self) -> Iterator[str]:
        object.__getattribute__(self, "_cw_rec").unknown("iter(request)")
        return iter(object.__getattribute__(self, "_cw_real"))

    def __len__(self) -> int:
        object.__getattribute__(self, "_cw_rec").unknown("len(request)")
        return len(object.__getattribute__(self, "_cw_real"))

    def __eq__(self, other: object) -> bool:
        object.__getattribute__(self, "_cw_rec").unknown("request ==")
        return object.__getattribute__(self, "_cw_real") is other or self is other

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return "<cacheward TrackedRequest>"
