"""Cross-key leakage: ``cross-key-leak``, ``anonymous-cache-leak``, ``auth-after-cache``.

Warm a busted URL as the primary principal A, then read the same URL as every other
principal, as ``--low-key`` principals and with no key. Each reader's response is
compared with its own baseline (a different buster): getting A's body where the
reader's own would differ means the cache served A's data across keys. A reader whose
baseline is a denial (401/403/404) but who now gets A's 200 was served *before*
authorization ran.
"""

from __future__ import annotations

from ...core.finding import Finding, Severity
from ..compare import carries, markers, same
from ..context import ProbeContext
from ..detect import cache_headers
from ..exchange import Probe, ProbeRequest
from .base import finding, step

_FIX = (
    "Put the principal in the cache key (or Vary on {header}) and authenticate and authorize"
    " before any cache lookup; mark per-principal responses Cache-Control: private."
)


def probe(ctx: ProbeContext) -> Probe:
    """Warm as A, read as everyone else on the same buster."""
    a = ctx.primary
    base_a = ctx.baseline(a)
    if not base_a.ok:
        return []
    url = ctx.url()
    warm_req = ProbeRequest(url, a)
    warm = yield warm_req
    if not warm.ok:
        return []
    out: list[Finding] = []
    header = a.credential_header or "the credential"
    for reader in [c for c in ctx.creds if c is not a] + [None]:
        own = ctx.baseline(reader)
        if same(own, base_a):
            continue  # the reader legitimately sees the same body: nothing to tell apart
        marks = markers(base_a, own)
        req = ProbeRequest(url, reader)
        got = yield req
        if not got.ok or not (same(got, warm) or carries(got, marks)):
            continue
        denied = not own.ok
        if reader is None:
            cid, title = (
                "anonymous-cache-leak",
                "An anonymous request got another key's cached response",
            )
        elif denied:
            cid, title = (
                "auth-after-cache",
                "A denied key got a cached response: the cache answers before authorization",
            )
        else:
            cid, title = "cross-key-leak", "One key's cached response was served to another key"
        out.append(
            finding(
                ctx,
                cid,
                Severity.CRITICAL,
                title,
                _FIX.format(header=header),
                cwe=863 if cid == "auth-after-cache" else 524,
                evidence={
                    "warmed_by": str(a),
                    "served_to": str(reader) if reader else "no key",
                    "reader_baseline_status": own.status,
                    "served_status": got.status,
                    "markers": sorted(marks)[:5],
                    "cache_headers": cache_headers(got),
                },
                steps=(step(warm_req, warm), step(req, got, f" ({a.name}'s body)")),
            )
        )
    return out
