"""Requests a probe yields, responses it receives, and the drivers that connect them.

A probe is a generator, in the manner of httpx's ``Auth.auth_flow``: it yields a
:class:`ProbeRequest`, receives the matching :class:`ProbeResponse` through ``send()``
and finally returns its findings. The same probe runs under :func:`drive_sync` (unit
tests, with :class:`httpx.MockTransport`) and under the async runner.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from http.cookiejar import Cookie, CookieJar
from typing import Any

import httpx

from ..core.finding import Finding
from .credential import Credential, Placement

#: A probe: yields requests, receives responses, returns findings.
Probe = Generator["ProbeRequest", "ProbeResponse", list[Finding]]
#: The per-endpoint setup step: yields requests, returns notes.
Setup = Generator["ProbeRequest", "ProbeResponse", list[str]]


@dataclass(frozen=True)
class ProbeRequest:
    """One request a probe wants sent.

    ``url`` is sent as written (percent-escapes and ``;`` are preserved). ``cred`` is the
    principal to send as (``None``: anonymous); ``placement`` overrides where the key
    goes and ``query_names`` which query parameters carry it (``key-in-url``). ``raw``:
    sent by :mod:`~cacheward.scan.raw` on a socket of its own, for what h11 refuses to
    send (a second ``Host`` field, in any spelling, among ``headers``).
    """

    url: str
    cred: Credential | None = None
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    content: bytes | None = None
    placement: Placement | None = None
    query_names: tuple[str, ...] = ()
    raw: bool = False


@dataclass(frozen=True)
class ProbeResponse:
    """What came back, decoupled from httpx so probes stay pure."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: seconds from sending the request to the end of the response (``hidden-cache``)
    elapsed: float = 0.0

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def header(self, name: str) -> str:
        """A header's value (lower-case lookup), ``""`` when absent."""
        return self.headers.get(name.lower(), "")

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @classmethod
    def from_httpx(cls, resp: httpx.Response) -> ProbeResponse:
        headers: dict[str, str] = {}
        for k, v in resp.headers.multi_items():
            k = k.lower()
            headers[k] = f"{headers[k]}, {v}" if k in headers else v
        try:
            elapsed = resp.elapsed.total_seconds()
        except RuntimeError:  # a response httpx did not time (built by hand)
            elapsed = 0.0
        return cls(resp.status_code, headers, resp.content, elapsed)


class NoCookieJar(CookieJar):
    """A cookie jar that keeps nothing: a ``Set-Cookie`` is never replayed.

    Each request carries exactly what its probe sets. A jar would send one endpoint's
    cookie on every later request, and then a stock Varnish passes every request (it
    caches nothing that carries a ``Cookie``) or a VCL keys on it: real leaks vanish.
    """

    def set_cookie(self, cookie: Cookie) -> None:
        pass

    def extract_cookies(self, response: Any, request: Any) -> None:
        pass


def new_client(
    transport: httpx.AsyncBaseTransport | None,
    timeout: float,
    headers: Sequence[tuple[str, str]] = (),
) -> httpx.AsyncClient:
    """The scan's one client: no cookie jar, no redirects followed, ``headers`` (the
    API's required ones, ``--header``) on every request."""
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        follow_redirects=False,
        headers=list(headers),
        cookies=NoCookieJar(),
    )


def build_request(client: httpx.Client | httpx.AsyncClient, req: ProbeRequest) -> httpx.Request:
    """The httpx request for ``req``, with its credential applied.

    Every cookie (the client's required ones, the probe's buster, a cookie credential)
    travels in the one ``Cookie`` header: a second ``Cookie`` header is not one list of
    cookies to every server, and a session cookie beside it may be lost.
    """
    headers = list(req.headers)
    url = req.url
    cookies = client.headers.get_list("cookie")
    if req.cred is not None:
        placement = req.placement or req.cred.placement
        if placement is Placement.QUERY:
            names = req.query_names or (req.cred.query,)
            url += ("&" if "?" in url else "?") + "&".join(
                f"{name}={req.cred.quoted_key}" for name in names
            )
        elif placement is Placement.BEARER:
            headers.append(("Authorization", f"Bearer {req.cred.key}"))
        elif placement is Placement.COOKIE:
            cookies.append(f"{req.cred.cookie}={req.cred.key}")
        elif placement is Placement.HEADER:
            headers.append((req.cred.header, req.cred.key))
    cookies += [v for k, v in headers if k.lower() == "cookie"]
    headers = [(k, v) for k, v in headers if k.lower() != "cookie"]
    if cookies:
        headers.append(("Cookie", "; ".join(cookies)))
    return client.build_request(req.method, url, headers=headers, content=req.content)


def drive_sync(probe: Probe, client: httpx.Client) -> list[Finding]:
    """Run ``probe`` to completion with a synchronous client.

    :param probe: a probe generator.
    :param client: any :class:`httpx.Client` (e.g. over :class:`httpx.MockTransport`).
    :returns: the probe's findings.
    """
    return drive_with(
        probe, lambda r: ProbeResponse.from_httpx(client.send(build_request(client, r)))
    )


def drive_with(probe: Probe, send: Callable[[ProbeRequest], ProbeResponse]) -> list[Finding]:
    """Run ``probe`` with any synchronous ``send`` function (tests use a plain function)."""
    try:
        req = next(probe)
        while True:
            req = probe.send(send(req))
    except StopIteration as stop:
        return list(stop.value or [])
