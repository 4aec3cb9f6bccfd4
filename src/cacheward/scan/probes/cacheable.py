"""``cacheable-authenticated`` (passive): a shared cache may store an authenticated response.

Flagged when a principal-specific or access-controlled 2xx response has neither
``private`` nor ``no-store`` and no ``Vary`` on the credential header (``Vary: *``
also protects), or says ``public``. Caches protect ``Authorization`` requests on their own
(RFC 9111 section 3.5) unless told ``public``/``s-maxage``; they know nothing about
``X-API-Key``, and Varnish stores a response with no caching headers at all.
"""

from __future__ import annotations

from ...core.finding import Finding, Severity
from ..cachecontrol import directives, explicitly_shared, forbids_shared_storage, vary
from ..compare import same
from ..context import ProbeContext
from ..credential import Placement
from .base import finding, specific


def look(ctx: ProbeContext) -> list[Finding]:
    """Look at the primary principal's baseline; sends nothing."""
    a = ctx.primary
    resp, anon = ctx.baseline(a), ctx.baselines.get(None)
    if anon is None:
        return []  # no buster: no anonymous baseline to tell a public endpoint apart
    if not resp.ok or forbids_shared_storage(resp):
        return []
    if anon.ok and (same(anon, resp) or not specific(ctx, anon)):
        return []  # the same for no key, but for noise: a public response
    varies = vary(resp)
    header = (a.credential_header or "").lower()
    if "*" in varies or (header and header in varies):
        return []
    if a.placement is Placement.BEARER and not explicitly_shared(resp):
        return []
    public = explicitly_shared(resp)
    return [
        finding(
            ctx,
            "cacheable-authenticated",
            Severity.HIGH if public else Severity.MEDIUM,
            "An authenticated response may be stored by a shared cache",
            f"Send Cache-Control: private (or no-store) on authenticated responses, or"
            f" Vary: {a.credential_header or 'the credential header'} with a per-key cache"
            " key; never public.",
            cwe=524,
            evidence={
                "cache-control": resp.header("cache-control") or "(none)",
                "vary": resp.header("vary") or "(none)",
                "credential": a.name_for(a.placement),
                "directives": sorted(directives(resp)),
            },
        )
    ]
