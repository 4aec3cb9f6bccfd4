"""``hidden-cache``: a cache answers this endpoint but announces itself nowhere.

Golinelli et al. (2024) found caches that send no status header in front of 5.8% of
the top 50,000 sites; every header-based check is blind to them. When the primary
principal's baseline carries no cache header at all (no ``Cache-Status``, ``X-Cache``,
``Age``, ``Via`` ...), the endpoint is timed: one warm request on a fresh buster, then
:data:`REPEATS` rounds of the same URL again (a hit if anything stores it) interleaved
with a fresh buster (always a miss). The time is httpx's ``elapsed`` for each response
(sending to the last byte; waits in the scanner's own queue excluded).

The verdict is *cached* when both hold:

* at least ``REPEATS - 1`` of the :data:`REPEATS` (7) hits are faster than the fastest
  miss (were hits and misses alike, that happens by chance with probability 8/3432,
  0.23%), and
* the median miss is at least :data:`MIN_GAP_S` (25 ms) slower than the median hit.

A fast origin (under about 25 ms per miss) cannot be told from its cache this way and
is never reported. The engine runs this probe in a quiet phase, alone, between every
endpoint's setup and the concurrent probes (other requests in flight would blur the
timing), and feeds its verdict to the buster check: where identical bodies and no cache
header left the buster unverified, a fresh buster timed as a miss shows it isolates
(:func:`cacheward.scan.phases.timing`).

Only plain GETs of the primary principal are sent, each on its own buster, as the
setup's baselines are; not at all where a fresh buster was shown to be
served from the cache (nothing to time there, and every read is the shared entry).
"""

from __future__ import annotations

from statistics import median

from ...core.finding import Confidence, Severity
from ..context import BusterState, ProbeContext
from ..detect import cache_headers
from ..exchange import Probe, ProbeRequest
from .base import finding

REPEATS = 7
MIN_GAP_S = 0.025


def _ms(xs: list[float]) -> list[float]:
    return [round(x * 1000, 1) for x in xs]


def verdict(hits: list[float], misses: list[float]) -> bool:
    """Whether ``hits`` (same URL again) are a cache's answers next to ``misses``."""
    if len(hits) < REPEATS or len(misses) < REPEATS:
        return False
    mh, mm = median(hits), median(misses)
    faster = sum(h < min(misses) for h in hits)
    return mm - mh >= MIN_GAP_S and faster >= REPEATS - 1


def probe(ctx: ProbeContext) -> Probe:
    """Time hits against misses when no header says whether a cache answered."""
    a = ctx.primary
    base = ctx.baseline(a)
    if cache_headers(base) or not base.ok or ctx.buster is BusterState.BROKEN:
        return []  # BROKEN: a fresh buster is a hit too, and every read is the shared entry
    u = ctx.url()
    warm = yield ProbeRequest(u, a)
    hits: list[float] = []
    misses: list[float] = [warm.elapsed]
    for _ in range(REPEATS):
        hits.append((yield ProbeRequest(u, a)).elapsed)
        misses.append((yield ProbeRequest(ctx.url(), a)).elapsed)
    misses = misses[1:]
    if not verdict(hits, misses):
        return []
    return [
        finding(
            ctx,
            "hidden-cache",
            Severity.LOW,
            "A cache stores this endpoint's responses but sends no cache-status header",
            "Make every cache announce itself (RFC 9211 Cache-Status, or X-Cache) so"
            " its behaviour can be tested, and check what it stores: authenticated"
            " responses need Cache-Control: private or no-store.",
            cwe=524,
            confidence=Confidence.MEDIUM,
            evidence={
                "method": "timing",
                "repeats": REPEATS,
                "hit_ms": _ms(hits),
                "miss_ms": _ms(misses),
                "median_gap_ms": round((median(misses) - median(hits)) * 1000, 1),
                "threshold": f">= {REPEATS - 1} of {REPEATS} hits faster than every miss,"
                f" median gap >= {MIN_GAP_S * 1000:.0f} ms",
            },
        )
    ]
