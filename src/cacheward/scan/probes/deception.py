"""``cache-deception``: a static-looking path still returns the authenticated body.

The application ignores a path suffix (``/x.css``, ``;x.css``, encoded ``/``, ``;`` or ``#``,
``.json``, ``.js``) while a cache rule for static files stores the response for
everyone. Tried on every endpoint the primary key may read, whether or not a buster
busts it: each deceptive path carries a fresh name, so it is an entry nobody else uses
(the suffixes without a name, ``.json`` and ``.js``, only where a buster busts).

For each variant: the primary key A requests it; what the variant shares with A's own
response (its values: ids, e-mail, a per-session CSRF token; never what changes per
response or reads the clock) are A's values on it. If there are any, every other
caller (no key first, then the other keys) reads the same variant, then a fresh twin
of it (same suffix, another name) to learn what that caller gets on its own. A reader
served A's values that its own twin does not carry was served A's cached page.
"""

from __future__ import annotations

from ...core.finding import Severity
from ..compare import values
from ..context import BusterState, ProbeContext, token
from ..credential import Credential
from ..exchange import Probe, ProbeRequest
from .base import finding, step, who

#: ``{n}`` becomes a fresh name, so the deceptive path itself is unique to the probe.
SUFFIXES = (
    "/{n}.css",
    ";{n}.css",
    "%2F{n}.css",
    "%3B{n}.css",
    "%23{n}.css",
    ".json",
    ".js",
)


def probe(ctx: ProbeContext) -> Probe:
    """Find a suffix that keeps A's values, then read it as everyone else."""
    a = ctx.primary
    base_a = ctx.baseline(a)
    if not base_a.ok:
        return []
    mine = values(base_a)
    busts = ctx.buster is BusterState.WORKS
    readers: list[Credential | None] = [None, *[c for c in ctx.creds if c is not a]]
    for suffix in SUFFIXES:
        if "{n}" not in suffix and not busts:
            continue

        def variant(suffix: str = suffix) -> str:
            return ctx.url(suffix=suffix.format(n=token()))

        url = variant()
        preq = ProbeRequest(url, a)
        got = yield preq
        shown = {v for v in mine & values(got) if v in got.text} if got.ok else set()
        if not shown:
            continue
        for reader in readers:
            req = ProbeRequest(url, reader)
            leaked = yield req
            if not leaked.ok or not any(v in leaked.text for v in shown):
                continue
            twin_req = ProbeRequest(variant(), reader)
            twin = yield twin_req
            secret = sorted(v for v in shown if v in leaked.text and v not in twin.text)
            if not secret:
                continue  # the reader gets these values on its own: not A's to leak
            label = suffix.format(n="x")
            return [
                finding(
                    ctx,
                    "cache-deception",
                    Severity.HIGH,
                    f"Path suffix {label!r} returns the authenticated body and the cache"
                    " serves it to others",
                    "Answer unknown path suffixes with 404 (strict routing, no path-suffix"
                    " tolerance), and send Cache-Control: private or no-store on every"
                    " authenticated response so static-file cache rules cannot store it.",
                    cwe=524,
                    evidence={
                        "suffix": label,
                        "victim": str(a),
                        "served_to": who(reader),
                        "values_leaked": len(secret),
                        "buster": str(ctx.carrier) if busts else "none (fresh path)",
                    },
                    steps=(
                        step(preq, got),
                        step(req, leaked, " (victim's values)"),
                        step(twin_req, twin, " (the reader's own)"),
                    ),
                )
            ]
    return []
