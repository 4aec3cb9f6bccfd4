"""What a request read while cacheward recorded it (invariant 3)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import Any

from ..core.inputs import Kind, Read
from ..core.policy import CREDENTIAL_PARAMS


class Recorder:
    """The reads one request made; translates proxy-rewritten inputs to their headers.

    The reads fall in phases, each with its own rule (:meth:`resolve`):

    - the hooks before the view (``request_started``, URL value preprocessors,
      ``before_request``, in ``hook_reads``): they count, as the hooks may hand what they
      read to the view by any channel (``g``, a global), except the credential (a hook
      may authenticate: its outcome is the principal);
    - the auth layer (the decorators between the hooks and ``@ward.cached``): what it
      reads authenticates the caller and is never an input; what it produced is the
      principal when read;
    - the view (``view_reads`` once it returned): always counts;
    - the ``after_request`` hooks (``reads`` after :meth:`view_done`): they run again on
      every hit, so their reads count only when they changed what would be stored.

    :param credential_headers: header names that carry the credential (their reads are
        reads of the credential, keyed by the scope).
    """

    __slots__ = (
        "reads",
        "credential_headers",
        "rewrites",
        "hook_reads",
        "view_reads",
        "view_state_read",
    )

    def __init__(self, credential_headers: Iterable[str], environ: Mapping[str, Any]) -> None:
        self.reads: set[Read] = set()
        self.hook_reads: set[Read] = set()
        self.view_reads: set[Read] | None = None
        #: An after_request hook read what the view left on ``g`` (it would not be there
        #: on a hit, so the view's own response must not be stored in its place).
        self.view_state_read = False
        self.credential_headers = frozenset(h.lower() for h in credential_headers) | {
            "authorization"
        }
        self.rewrites = proxy_rewrites(environ)

    def add(self, kind: Kind, name: str = "") -> None:
        self.reads.add((kind, name))

    def unknown(self, what: str) -> None:
        """An input the guard cannot name: the response is never stored."""
        self.reads.add((Kind.UNKNOWN, what))

    def header(self, name: str) -> None:
        name = name.lower()
        if name in self.credential_headers:
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

    def hooks_done(self) -> None:
        """The hooks before the view ran: set their reads aside (they always count)."""
        self.forget_credential()
        self.hook_reads |= self.reads
        self.reads = set()

    def view_done(self) -> None:
        """The view returned: what is read from now on is the after_request hooks'."""
        if self.view_reads is None:
            self.view_reads = self.reads
            self.reads = set()

    @property
    def after(self) -> bool:
        """Whether the view returned (reads are the after_request hooks')."""
        return self.view_reads is not None

    def resolve(self, after_changed: bool) -> set[Read]:
        """The reads the response depends on: the hooks' before the view, the view's,
        and the after_request hooks' when they changed what is stored."""
        if self.view_reads is None:
            return self.hook_reads | self.reads
        out = self.hook_reads | self.view_reads
        if after_changed:
            out |= self.reads
        return out

    def forget_credential(self) -> None:
        """Drop reads of the credential: what authentication read is not the response's
        input (its outcome, the principal, is keyed by the scope)."""
        self.reads = {r for r in self.reads if r[0] is not Kind.CREDENTIAL}


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


#: The recorder of the request in progress, for :data:`cacheward.current_principal`.
current_recorder: ContextVar[Recorder | None] = ContextVar("cacheward_recorder", default=None)
