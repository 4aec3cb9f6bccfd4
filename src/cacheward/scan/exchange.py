"""Requests a probe yields, responses it receives, and the drivers that connect them.

A probe is a generator, in the manner of httpx's ``Auth.auth_flow``: it yields a
:class:`ProbeRequest`, receives the matching :class:`ProbeResponse` through ``send()``
and finally returns its findings. The same probe runs under :func:`drive_sync` (unit
tests, with :class:`httpx.MockTransport`) and under the async runner.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field

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
    goes and ``query_names`` which query parameters carry it (``key-in-url``).
    """

    url: str
    cred: Credential | None = None
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    content: bytes | None = None
    placement: Placement | None = None
    query_names: tuple[str, ...] = ()


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


def build_request(client: httpx.Client | httpx.AsyncClient, req: ProbeRequest) -> httpx.Request:
    """The httpx request for ``req``, with its credential applied."""
    headers = list(req.headers)
    url = req.url
    if req.cred is not None:
        placement = req.placement or req.cred.placement
        if placement is Placement.QUERY:
            names = req.query_names or (req.cred.query,)
            url += ("&" if "?" in url else "?") + "&".join(
                f"{name}={req.cred.quoted_key}" for name in names
            )
        elif placement is Placement.BEARER:
            headers.append(("Authorization", f"Bearer {req.cred.key}"))
        else:
            headers.append((req.cred.header, req.cred.key))
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
