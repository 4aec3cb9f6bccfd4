"""``unkeyed-param``: a query parameter the cache drops from its key changes the response.

Caches and CDNs commonly drop tracking parameters (``utm_*``, ``gclid``, ``fbclid``) and
JSONP callbacks from the key; an application that still reads them can be poisoned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from ...core.finding import Finding
from ..context import ProbeContext
from ..exchange import Probe, ProbeRequest
from ..poison import Candidate, candidates, found_and_confirmed
from .base import poisoning

WORDLIST = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "utm_id",
    "gclid",
    "fbclid",
    "msclkid",
    "dclid",
    "yclid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "ref",
    "trk",
    "callback",
    "jsonp",
    "cb",
    "_",
)


def _query(group: Sequence[Candidate]) -> str:
    return "&".join(f"{quote(c.name)}={quote(c.value)}" for c in group)


def probe(ctx: ProbeContext) -> Probe:
    """Batch, bisect, then confirm: the clean request is the busted URL without the parameter."""
    if not ctx.authenticated:
        return []
    a = ctx.primary
    cands = candidates(WORDLIST, lambda n, c: c)

    def apply(group: Sequence[Candidate], url: str) -> ProbeRequest:
        return ProbeRequest(f"{url}&{_query(group)}", a)

    def report(cand: Candidate, ev: dict[str, Any]) -> Finding:
        return poisoning(
            ctx,
            "unkeyed-param",
            f"Query parameter {cand.name} is not in the cache key but changes the response",
            f"Keep {cand.name} in the cache key, or strip it before the application sees it;"
            " never reflect parameters the cache ignores.",
            ev,
        )

    return (yield from found_and_confirmed(ctx, cands, apply, report))
