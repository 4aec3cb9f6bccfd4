"""Recording which request inputs a view reads while it runs on a miss (invariant 3).

For the length of the view call, the request context's ``request`` and ``url_adapter``
are replaced by proxies that record every input read through them and then delegate to
the real objects. Everything that reaches the request through ``flask.request`` (the
view, functions it calls, templates) is seen; reads Flask, Werkzeug and cacheward made
before the swap are not. Nothing here runs on a cache hit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from flask import Request
from flask.ctx import RequestContext

from ..core.inputs import Kind, Read
from ..core.policy import CREDENTIAL_PARAMS


class Recorder:
    """The reads one view call made; translates proxy-rewritten inputs to their headers."""

    __slots__ = ("reads", "key_header", "rewrites")

    def __init__(self, key_header: str, environ: Mapping[str, Any]) -> None:
        self.reads: set[Read] = set()
        self.key_header = key_header.lower()
        self.rewrites = proxy_rewrites(environ)

    def add(self, kind: Kind, name: str = "") -> None:
        self.reads.add((kind, name))

    def header(self, name: str) -> None:
        name = name.lower()
        if name in (self.key_header, "authorization"):
            self.add(Kind.CREDENTIAL)
        elif name == "cookie":
            self.add(Kind.COOKIE, "*")
        else:
            self.add(Kind.HEADER, name)

    def query(self, name: str) -> None:
        if name.lower() in CREDENTIAL_PARAMS:
            self.add(Kind.CREDENTIAL)
        else:
            self.add(Kind.QUERY, name)

    def host(self) -> None:
        rewritten = self.rewrites.get("host")
        if rewritten:
            self.add(Kind.HEADER, rewritten)
        else:
            self.add(Kind.HOST)

    def scheme(self) -> None:
        rewritten = self.rewrites.get("scheme")
        if rewritten:
            self.add(Kind.HEADER, rewritten)

    def prefix(self) -> None:
        rewritten = self.rewrites.get("prefix")
        if rewritten:
            self.add(Kind.HEADER, rewritten)

    def remote_addr(self) -> None:
        rewritten = self.rewrites.get("remote_addr")
        self.add(*((Kind.HEADER, rewritten) if rewritten else (Kind.REMOTE_ADDR, "")))


def proxy_rewrites(environ: Mapping[str, Any]) -> dict[str, str]:
    """Which inputs Werkzeug's ``ProxyFix`` rewrote from ``X-Forwarded-*`` headers."""
    orig = environ.get("werkzeug.proxy_fix.orig")
    if not orig:
        return {}
    out = {}
    if orig.get("HTTP_HOST") != environ.get("HTTP_HOST") or orig.get("SERVER_PORT") != environ.get(
        "SERVER_PORT"
    ):
        out["host"] = "x-forwarded-host"
        if orig.get("HTTP_HOST") == environ.get("HTTP_HOST"):
            out["host"] = "x-forwarded-port"
    if orig.get("wsgi.url_scheme") != environ.get("wsgi.url_scheme"):
        out["scheme"] = "x-forwarded-proto"
    if orig.get("SCRIPT_NAME") != environ.get("SCRIPT_NAME"):
        out["prefix"] = "x-forwarded-prefix"
    if orig.get("REMOTE_ADDR") != environ.get("REMOTE_ADDR"):
        out["remote_addr"] = "x-forwarded-for"
    return out


#: The recorder of the view call in progress, for :data:`cacheward.current_principal`.
current_recorder: ContextVar[Recorder | None] = ContextVar("cacheward_recorder", default=None)


class _Tracked:
    """Base of the recording proxies: delegate, and count unknown access as a read of
    everything the wrapped object holds (over-approximating is the safe side)."""

    __slots__ = ("_obj", "_rec")
    _everything: tuple[Kind, str] = (Kind.HEADER, "*")

    def __init__(self, obj: Any, rec: Recorder) -> None:
        self._obj = obj
        self._rec = rec

    def _all(self) -> None:
        self._rec.add(*self._everything)

    def __getattr__(self, name: str) -> Any:
        self._all()
        return getattr(self._obj, name)

    def __iter__(self) -> Iterator[Any]:
        self._all()
        return iter(self._obj)

    def __len__(self) -> int:
        self._all()
        return len(self._obj)

    def __repr__(self) -> str:
        return repr(self._obj)


class TrackedHeaders(_Tracked):
    __slots__ = ()

    def get(self, key: str, default: Any = None, type: Any = None) -> Any:
        self._rec.header(key)
        return self._obj.get(key, default, type)

    def __getitem__(self, key: str) -> Any:
        self._rec.header(key)
        return self._obj[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self._rec.header(key)
        return key in self._obj

    def getlist(self, key: str, type: Any = None) -> list[Any]:
        self._rec.header(key)
        return self._obj.getlist(key, type)  # type: ignore[no-any-return]

    get_all = getlist


class TrackedArgs(_Tracked):
    __slots__ = ()
    _everything = (Kind.QUERY_ALL, "")

    def get(self, key: str, default: Any = None, type: Any = None) -> Any:
        self._rec.query(key)
        return self._obj.get(key, default, type)

    def __getitem__(self, key: str) -> Any:
        self._rec.query(key)
        return self._obj[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self._rec.query(key)
        return key in self._obj

    def getlist(self, key: str, type: Any = None) -> list[Any]:
        self._rec.query(key)
        return self._obj.getlist(key, type)  # type: ignore[no-any-return]


class TrackedCookies(_Tracked):
    __slots__ = ()
    _everything = (Kind.COOKIE, "*")

    def get(self, key: str, default: Any = None, type: Any = None) -> Any:
        self._rec.add(Kind.COOKIE, key)
        return self._obj.get(key, default, type)

    def __getitem__(self, key: str) -> Any:
        self._rec.add(Kind.COOKIE, key)
        return self._obj[key]

    def __contains__(self, key: object) -> bool:
        self._rec.add(Kind.COOKIE, str(key))
        return key in self._obj


_ENVIRON_INPUTS: dict[str, str] = {
    "QUERY_STRING": "query*",
    "REMOTE_ADDR": "remote",
    "HTTP_HOST": "host",
    "SERVER_NAME": "host",
    "SERVER_PORT": "host",
    "wsgi.url_scheme": "scheme",
    "SCRIPT_NAME": "prefix",
    "wsgi.input": "body",
    "CONTENT_LENGTH": "body",
    "CONTENT_TYPE": "body",
    "REQUEST_URI": "query*",
    "RAW_URI": "query*",
}


class TrackedEnviron(_Tracked):
    __slots__ = ()
    _everything = (Kind.HEADER, "*")

    def _note(self, key: object) -> None:
        if not isinstance(key, str):
            return
        if key.startswith("HTTP_") and key != "HTTP_HOST":
            self._rec.header(key[5:].replace("_", "-"))
            return
        what = _ENVIRON_INPUTS.get(key)
        if what is None:
            return
        if what == "query*":
            self._rec.add(Kind.QUERY_ALL)
        elif what == "remote":
            self._rec.remote_addr()
        elif what == "host":
            self._rec.host()
        elif what == "scheme":
            self._rec.scheme()
        elif what == "prefix":
            self._rec.prefix()
        else:
            self._rec.add(Kind.BODY)

    def get(self, key: str, default: Any = None) -> Any:
        self._note(key)
        return self._obj.get(key, default)

    def __getitem__(self, key: str) -> Any:
        self._note(key)
        return self._obj[key]

    def __contains__(self, key: object) -> bool:
        self._note(key)
        return key in self._obj


from .tracked_request import TrackedRequest, TrackedUrlAdapter  # noqa: E402


class Swap:
    """An active swap of a request context's request and URL adapter."""

    __slots__ = ("ctx", "rec", "request", "adapter", "token")

    def __init__(self, ctx: RequestContext, rec: Recorder) -> None:
        self.ctx = ctx
        self.rec = rec
        self.request: Request = ctx.request
        self.adapter = ctx.url_adapter
        ctx.request = TrackedRequest(self.request, rec)  # type: ignore[assignment]
        if self.adapter is not None:
            ctx.url_adapter = TrackedUrlAdapter(self.adapter, rec)  # type: ignore[assignment]
        self.token = current_recorder.set(rec)

    def undo(self) -> None:
        current_recorder.reset(self.token)
        self.ctx.request = self.request
        self.ctx.url_adapter = self.adapter


@contextmanager
def tracking(ctx: RequestContext, rec: Recorder) -> Iterator[Recorder]:
    """Swap ``ctx.request`` and ``ctx.url_adapter`` for recording proxies."""
    swap = Swap(ctx, rec)
    try:
        yield rec
    finally:
        swap.undo()
