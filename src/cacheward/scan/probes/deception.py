"""``cache-deception``: a static-looking path still returns the authenticated body.

The application ignores a path suffix (``/x.css``, ``;x.css``, encoded ``/``, ``;`` or
``#``, ``.json``, ``.js``) while a cache rule for static files stores the response for
everyone. Each variant is requested with the primary key; one that returns the
authenticated body is then read with no key and with the other keys on the same buster.
"""

from __future__ import annotations

from ...core.finding import Finding, Severity
from ..compare import carries, markers, same
from ..context import ProbeContext, token
from ..credential import Credential
from ..exchange import Probe, ProbeRequest
from .base import finding, step

#: ``{n}`` becomes a fresh name, so the deceptive path itself is unique to the probe.
SUFFIXES = ("/{n}.css", ";{n}.css", "%2F{n}.css", "%3B{n}.css", "%23{n}.css", ".json", ".js")


def probe(ctx: ProbeContext) -> Probe:
    """Find a suffix that keeps the private body, then read it as someone else."""
    a = ctx.primary
    base_a, anon = ctx.baseline(a), ctx.baseline(None)
    if not base_a.ok or same(anon, base_a):
        return []
    marks = markers(base_a, anon)
    readers: list[Credential | None] = [None, *[c for c in ctx.creds if c is not a]]
    for suffix in SUFFIXES:
        url = ctx.url(suffix=suffix.format(n=token()))
        preq = ProbeRequest(url, a)
        got = yield preq
        if not got.ok or not (same(got, base_a) or carries(got, marks)):
            continue
        out: list[Finding] = []
        for reader in readers:
            own = ctx.baseline(reader)
            if same(own, base_a):
                continue
            req = ProbeRequest(url, reader)
            leaked = yield req
            if leaked.ok and (same(leaked, got) or carries(leaked, markers(base_a, own))):
                out.append(
                    finding(
                        ctx,
                        "cache-deception",
                        Severity.HIGH,
                        f"Path suffix {suffix.format(n='x')!r} returns the authenticated body"
                        " and the cache serves it to others",
                        "Answer unknown path suffixes with 404 (strict routing, no"
                        " path-suffix tolerance), and send Cache-Control: private or no-store"
                        " on every authenticated response so static-file cache rules cannot"
                        " store it.",
                        cwe=524,
                        evidence={
                            "suffix": suffix.format(n="x"),
                            "victim": str(a),
                            "served_to": str(reader) if reader else "no key",
                        },
                        steps=(step(preq, got), step(req, leaked, " (victim's body)")),
                    )
                )
                return out
    return []
