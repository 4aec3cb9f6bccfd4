"""What the guard knows about one ASGI request, from the middleware to the final send.

Context variables are a channel too: a middleware or an ASGI wrapper (asgi-correlation-id,
starlette-context, the "global request" recipe) copies a request header, or the raw
``Request`` itself, into a :class:`~contextvars.ContextVar` that the endpoint reads
without touching its recording ``Request``. The guard cannot see a ``ContextVar.get()``,
so it compares the context at authentication (the first time the request's principal is
set, before FastAPI solves the dependencies declared after it) with the context the
server gives every request: the one the guard's ``lifespan`` ran in. Any variable that
differs (other than the guard's own) was set for this request, inside the guard or
outside it (an ``app = Wrapper(app)``), and is an unknown read: the response
is not stored (fail closed, whatever the variable holds). A variable a dependency sets
after authentication derives from what that dependency read, which the route's
dependency tree already accounts for. When no lifespan ran (``httpx.ASGITransport``,
``uvicorn --lifespan off``), the request's context is the caller's, full of variables
that say nothing of the request: the guard then compares with the context the request
entered it with, and a variable a wrapper outside it set goes unseen.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from contextvars import Context, ContextVar, copy_context
from dataclasses import dataclass, field
from typing import Any

from ..backends.base import Lookup
from ..core.cachekey import CacheKey
from ..core.entry import Entry
from ..core.inputs import Kind, Read
from ..core.policy import CREDENTIAL_PARAMS
from ..core.principal import Principal
from .state import Route, State


class Recorder:
    """The reads one request made while its endpoint ran (invariant 3)."""

    __slots__ = ("reads", "credential_headers", "on")

    def __init__(self, credential_headers: tuple[str, ...]) -> None:
        self.reads: set[Read] = set()
        self.credential_headers = frozenset(h.lower() for h in credential_headers) | {
            "authorization"
        }
        self.on = True
        rs = current.get()
        if rs is not None:
            for name, value in rs.context_set_for_request():
                if name in rs.ward.unread_context:
                    rs.unread_values += _spelled(name, value)
                else:
                    self.unknown(
                        f"the context variable {name!r}, set for this request (if no cached"
                        f" endpoint reads it: Cacheward(unread_context=[{name!r}]))"
                    )

    def add(self, kind: Kind, name: str = "") -> None:
        if self.on:
            self.reads.add((kind, name))

    def unknown(self, what: str) -> None:
        """An input the guard cannot name: the response is never stored."""
        self.add(Kind.UNKNOWN, what)

    def header(self, name: str) -> None:
        name = name.lower()
        if name in self.credential_headers:
            self.add(Kind.CREDENTIAL)
        elif name == "cookie":
            self.add(Kind.COOKIE, "*")
        elif name == "host":
            self.add(Kind.HOST)
        else:
            self.add(Kind.HEADER, name)

    def query(self, name: str) -> None:
        if name.lower() in CREDENTIAL_PARAMS:
            self.add(Kind.CREDENTIAL)
        else:
            self.add(Kind.QUERY, name)


@dataclass
class Pending:
    """A miss whose response may be stored once the final response is known."""

    key: CacheKey
    found: Lookup
    dropped: frozenset[str]
    route: Route
    #: Set once the route's own response went by (:mod:`cacheward.asgi.capture`).
    captured: bool = False
    #: The route's response in storable form, or why it is not storable.
    form: Entry | None = None
    why: str | None = None
    #: The ``ETag`` the guard gave the route's response (none of its own).
    added_etag: bytes | None = None


@dataclass
class RequestState:
    """Per-request: the principal, the recorder and the pending store."""

    ward: State
    scope: dict[str, Any]
    route: Route | None = None
    rec: Recorder | None = None
    pending: Pending | None = None
    #: ``Cache-Status`` detail when no store decision is pending (``hit``, ``bypass``).
    detail: str | None = None
    flight: AbstractAsyncContextManager[bool] | None = None
    #: The ``send`` :class:`~cacheward.asgi.capture.RouteCapture` gave the router: a
    #: route whose ``Request`` holds another one ran below code the guard cannot see.
    route_send: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: The context when the principal was first set (authentication).
    authed: Context | None = None
    #: The context the request entered the guard with, when no lifespan ran.
    entered: Context | None = None
    #: (name, bytes) of each ``unread_context`` variable set for this request.
    unread_values: tuple[tuple[str, bytes], ...] = ()
    _principal: Principal | None = field(default=None, repr=False)

    @property
    def principal(self) -> Principal | None:
        """The caller, once ``protected`` authenticated the request."""
        return self._principal

    @principal.setter
    def principal(self, value: Principal | None) -> None:
        if value is not None and self.authed is None:
            self.authed = copy_context()
        self._principal = value

    def context_set_for_request(self) -> list[tuple[str, Any]]:
        """The context variables (name, value) that, at the request's authentication,
        differ from the context the server gives every request (see the module
        docstring)."""
        base = self.ward.context_baseline
        if base is None:
            base = self.entered
        now = self.authed if self.authed is not None else copy_context()
        return sorted(
            (
                (var.name, value)
                for var, value in now.items()
                if var is not current and (base is None or base.get(var, _UNSET) is not value)
            ),
            key=lambda pair: pair[0],
        )

    def unread_in(self, headers: list[tuple[bytes, bytes]], body: bytes) -> str | None:
        """The name of an ``unread_context`` variable whose value is in the route's
        response: it *was* read, whatever the setting says."""
        for name, spelled in self.unread_values:
            if spelled in body or any(spelled in v for _, v in headers):
                return name
        return None

    async def release_flight(self) -> None:
        flight, self.flight = self.flight, None
        if flight is not None:
            try:
                await flight.__aexit__(None, None, None)
            except Exception as e:  # noqa: BLE001 - a lost lock only expires
                self.ward.backend_failed(e)

    def stop_recording(self) -> None:
        if self.rec is not None:
            self.rec.on = False


_UNSET = object()
#: Shorter values are left alone: they would be found in most responses by chance.
_SPELLED_MIN = 8


def _spelled(name: str, value: Any) -> tuple[tuple[str, bytes], ...]:
    """How an ``unread_context`` value may be spelled in a response (a string, bytes or
    a number: a correlation id), if long enough to be telling."""
    if isinstance(value, bytes):
        raw = value
    elif isinstance(value, str | int) and not isinstance(value, bool):
        raw = str(value).encode("utf-8", "replace")
    else:
        return ()
    return ((name, raw),) if len(raw) >= _SPELLED_MIN else ()

#: The request being served; set by the middleware for the whole request.
current: ContextVar[RequestState | None] = ContextVar("cacheward_asgi_request", default=None)
