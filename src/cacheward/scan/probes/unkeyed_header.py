"""``unkeyed-header``: a request header changes the response but not the cache key.

The wordlist holds the headers most often left out of cache keys, after Param Miner and
Hackmanit's Web-Cache-Vulnerability-Scanner; method-override headers are the
``method-override`` probe's, and the credential header is never touched. Cookies are
the ``unkeyed-cookie`` probe's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...core.finding import Finding
from ..context import ProbeContext
from ..exchange import Probe, ProbeRequest
from ..poison import Candidate, candidates, found_and_confirmed
from .base import poisoning

#: Header → value template (``{c}`` is the canary).
WORDLIST: dict[str, str] = {
    "X-Forwarded-Host": "{c}.example",
    "X-Host": "{c}.example",
    "X-Forwarded-Server": "{c}.example",
    "X-Original-Host": "{c}.example",
    "X-HTTP-Host-Override": "{c}.example",
    "Forwarded": "host={c}.example;proto=http",
    "X-Forwarded-Scheme": "http",
    "X-Forwarded-Proto": "http",
    "X-Forwarded-Port": "1337",
    "X-Forwarded-SSL": "off",
    "Front-End-Https": "off",
    "X-Url-Scheme": "http",
    "X-Forwarded-Prefix": "/{c}",
    "X-Forwarded-Path": "/{c}",
    "X-Original-URL": "/{c}",
    "X-Rewrite-URL": "/{c}",
    "X-Forwarded-For": "{c}.example",
    "X-Real-IP": "127.0.0.2",
    "X-Client-IP": "127.0.0.2",
    "True-Client-IP": "127.0.0.2",
    "X-Originating-IP": "127.0.0.2",
    "X-Remote-Addr": "127.0.0.2",
    "Origin": "https://{c}.example",
    "X-Api-Version": "{c}",
    "Accept-Version": "{c}",
    "X-Device": "{c}",
    "X-Country-Code": "{c}",
    "X-Locale": "{c}",
    "X-Wap-Profile": "https://{c}.example/x.xml",
    "X-Timezone": "{c}",
    "X-Tenant": "{c}",
    "X-Debug": "1",
}


def _apply(group: Sequence[Candidate], url: str, ctx: ProbeContext) -> ProbeRequest:
    return ProbeRequest(url, ctx.primary, headers=tuple((c.name, c.value) for c in group))


def probe(ctx: ProbeContext) -> Probe:
    """Batch, bisect, confirm."""
    if not ctx.authenticated:
        return []
    skip = {(c.credential_header or "").lower() for c in ctx.creds}
    names = [h for h in WORDLIST if h.lower() not in skip]
    cands = candidates(names, lambda n, c: WORDLIST[n].format(c=c))

    def apply(group: Sequence[Candidate], url: str) -> ProbeRequest:
        return _apply(group, url, ctx)

    def report(cand: Candidate, ev: dict[str, Any]) -> Finding:
        return poisoning(
            ctx,
            "unkeyed-header",
            f"Unkeyed header {cand.name} poisons the cached response",
            f"Add {cand.name} to the cache key (Vary: {cand.name}) or stop the application"
            " reading it; trust X-Forwarded-* only from a configured proxy.",
            ev,
        )

    return (yield from found_and_confirmed(ctx, cands, apply, report))
