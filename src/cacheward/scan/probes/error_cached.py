"""``error-cached``: an error response stored and then served to a valid key (CPDoS).

Warm a busted URL with a request that should fail (no key, an invalid key, a
``--low-key``), then read the same URL with the primary key. If the primary key, whose
own baseline is a success, now gets the same error, the cache stored the error.
"""

from __future__ import annotations

from ...core.finding import Finding, Severity
from ..context import ProbeContext
from ..credential import Credential
from ..exchange import Probe, ProbeRequest
from .base import finding, step, who

#: A syntactically plausible key that no server should accept.
INVALID_KEY = "cw_invalidinvalid_0000000000000000000000000000000000000000"


def probe(ctx: ProbeContext) -> Probe:
    """Warm an error, then read as the primary key."""
    a = ctx.primary
    if not ctx.authenticated:
        return []
    invalid = a.with_key("invalid", INVALID_KEY)
    warmers: list[Credential | None] = [None, invalid, *[c for c in ctx.creds if c.low]]
    out: list[Finding] = []
    for warmer in warmers:
        url = ctx.url()
        wreq = ProbeRequest(url, warmer)
        err = yield wreq
        if err.status < 400:
            continue
        req = ProbeRequest(url, a)
        got = yield req
        if got.status != err.status:
            continue
        out.append(
            finding(
                ctx,
                "error-cached",
                Severity.HIGH,
                f"A {err.status} response was cached and served to a valid key",
                "Never store 401, 403, 404 or 5xx responses (or store them with no-store);"
                " authenticate before the cache lookup so errors are never keyed as successes.",
                cwe=349,
                evidence={
                    "warmed_by": who(warmer),
                    "error_status": err.status,
                    "valid_key": str(a),
                    "valid_key_baseline_status": ctx.baseline(a).status,
                },
                steps=(step(wreq, err), step(req, got, " (cached error)")),
            )
        )
        break
    return out
