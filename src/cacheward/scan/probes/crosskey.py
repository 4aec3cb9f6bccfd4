"""Cross-key leakage: ``cross-key-leak``, ``anonymous-cache-leak``, ``auth-after-cache``.

Warm a busted URL as the primary principal A, then read the same URL as every other
principal, as ``--low-key`` principals and with no key. A reader served A's own values
(those A's two fresh responses both carry, so never noise) that its own baseline (a
different buster) does not carry was served A's data across keys; where the bodies
differ only by noise (a random number, a nonce, a clock) nothing is reported. A reader whose
baseline is a denial (401/403/404) but who now gets A's 200 was served *before*
authorization ran.
"""

from __future__ import annotations

from ...core.finding import Finding
from ..compare import carries, same
from ..context import ProbeContext
from ..detect import cache_headers
from ..exchange import Probe, ProbeRequest
from .base import leak, leak_id, redacted, specific, step, who

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
        marks = frozenset(m for m in specific(ctx, own) if m in warm.text)
        denied = not own.ok
        if not marks and not denied:
            continue  # the bodies differ only by noise (random numbers, nonces, clocks)
        req = ProbeRequest(url, reader)
        got = yield req
        if not got.ok or not (carries(got, set(marks)) or (denied and same(got, warm))):
            continue
        cid = leak_id(reader, denied)
        out.append(
            leak(
                ctx,
                cid,
                _FIX.format(header=header),
                evidence={
                    "warmed_by": str(a),
                    "served_to": who(reader),
                    "reader_baseline_status": own.status,
                    "served_status": got.status,
                    "markers": redacted(marks),
                    "cache_headers": cache_headers(got),
                },
                steps=(step(warm_req, warm), step(req, got, f" ({a.name}'s body)")),
            )
        )
    return out
