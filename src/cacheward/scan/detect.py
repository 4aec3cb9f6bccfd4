"""Cache detection and the buster check that every active probe depends on.

A cache shows itself in headers (RFC 9211 ``Cache-Status: ExampleCache; hit``,
``X-Cache: HIT``, ``CF-Cache-Status``, ``Age``,
``X-Varnish`` with two ids, ``Server-Timing: cdn-cache; desc=HIT`` ...) or, without
them, by body identity: a response that carries a request id or timestamp and comes back
byte for byte identical was served from a store. The buster check sends the same fresh
buster twice and a second fresh buster once: the second buster must *not* be a hit.
When the query does not bust, the same check is tried with a cookie and with the headers
the response names in ``Vary`` (:mod:`cacheward.scan.buster`). Where nothing busts,
requests reach the entry real users get, so only the primary principal's plain reads are
sent here; no attack input is ever sent there.
"""

from __future__ import annotations

import re
from enum import Enum

from .buster import QUERY, Buster, candidates
from .cachecontrol import vary
from .cachestatus import served_from_store
from .compare import identical, volatile
from .context import BUSTER_PARAM, BusterState, ProbeContext
from .exchange import ProbeRequest, ProbeResponse, Setup

_STATUS_HEADERS = (
    "x-cache",
    "x-cache-status",
    "cf-cache-status",
    "x-proxy-cache",
    "x-drupal-cache",
    "akamai-cache-status",
    "x-rack-cache",
    "x-litespeed-cache",
    "cdn-cache",
    "x-vercel-cache",
    "x-nextjs-cache",
)
_PRESENCE_HEADERS = (
    ("cache-status",)
    + _STATUS_HEADERS
    + ("age", "via", "x-varnish", "x-served-by", "server-timing")
)
_HIT = re.compile(r"\bhit\b|\bstale\b|\brevalidated\b", re.IGNORECASE)
_MISS = re.compile(r"\bmiss\b|\bexpired\b|\bbypass\b|\bdynamic\b|\bpass\b", re.IGNORECASE)


class Signal(Enum):
    """What the cache headers of one response say."""

    HIT = "hit"
    MISS = "miss"
    NONE = "none"


def signal(resp: ProbeResponse) -> Signal:
    """Read the cache-status headers of ``resp`` (RFC 9211 ``Cache-Status`` first)."""
    stored = served_from_store(resp.header("cache-status"))
    if stored is not None:
        return Signal.HIT if stored else Signal.MISS
    for name in _STATUS_HEADERS:
        value = resp.header(name)
        if _HIT.search(value):
            return Signal.HIT
        if _MISS.search(value):
            return Signal.MISS
    timing = resp.header("server-timing")
    if re.search(r"cdn-cache[^,]*hit", timing, re.IGNORECASE):
        return Signal.HIT
    if re.search(r"cdn-cache[^,]*miss", timing, re.IGNORECASE):
        return Signal.MISS
    if len(resp.header("x-varnish").split()) >= 2:
        return Signal.HIT
    age = resp.header("age")
    if age.isdigit() and int(age) > 0:
        return Signal.HIT
    return Signal.NONE


def cache_headers(resp: ProbeResponse) -> dict[str, str]:
    """The cache-revealing headers of ``resp``, for evidence."""
    return {h: resp.header(h) for h in _PRESENCE_HEADERS if resp.header(h)}


def verdict(r1: ProbeResponse, r2: ProbeResponse, r3: ProbeResponse) -> tuple[BusterState, bool]:
    """Buster state and whether a cache was seen, from buster u1, u1 again, then u2.

    Freshness is shown, never assumed: the second buster busts when its body differs
    from the first's (the request reached something that answered anew), or when the
    headers say miss *and* nothing contradicts them. A body that carries request ids or
    timestamps and comes back byte for byte on a fresh buster was served from a store,
    whatever the headers say: a cache behind the cache (:func:`behind`).
    """
    s2, s3 = signal(r2), signal(r3)
    seen = s2 is Signal.HIT or bool(cache_headers(r1))
    if s3 is Signal.HIT:
        return BusterState.BROKEN, True
    if not identical(r1, r3):
        return BusterState.WORKS, seen or identical(r1, r2)
    if volatile(r1):  # request ids repeated on a fresh buster: a store answered
        return BusterState.BROKEN, True
    if s3 is Signal.MISS:
        return BusterState.WORKS, True
    if s2 is Signal.HIT:  # the same body on a fresh buster, after a hit: served from store
        return BusterState.BROKEN, True
    return BusterState.UNVERIFIED, seen


def behind(r1: ProbeResponse, r3: ProbeResponse) -> bool:
    """A cache behind the cache: the front says miss on a fresh buster while the body,
    request ids and timestamps included, is the first buster's (an application cache
    keyed on the path behind a proxy the buster does bust)."""
    return signal(r3) is Signal.MISS and identical(r1, r3) and volatile(r1)


def _trial(ctx: ProbeContext, buster: Buster) -> Setup:
    """The three-request check for one buster carrier; sets ``ctx.buster``."""
    a = ctx.primary
    u1 = ctx.url()
    r1 = yield buster.apply(ProbeRequest(u1, a))
    r2 = yield buster.apply(ProbeRequest(u1, a))
    r3 = yield buster.apply(ProbeRequest(ctx.url(), a))
    state, seen = verdict(r1, r2, r3)
    ctx.buster, ctx.cache_seen = state, ctx.cache_seen or seen
    ctx.baselines[a.name], ctx.echo = r3, r1
    ctx.behind = behind(r1, r3)
    return sorted(vary(r1))


def _stale(ctx: ProbeContext) -> list[str | None]:
    """Callers whose baseline is a byte-for-byte copy of the primary's (ids included)."""
    mine = [r for r in (ctx.baseline(ctx.primary), ctx.echo) if r is not None and volatile(r)]
    return [
        name
        for name, resp in ctx.baselines.items()
        if name != ctx.primary.name and any(identical(resp, r) for r in mine)
    ]


def setup(ctx: ProbeContext) -> Setup:
    """Check the buster (the query, then a header or cookie the cache may key on), then
    fetch every principal's baseline on a buster of its own (only the primary's when no
    buster works)."""
    a = ctx.primary
    varied = yield from _trial(ctx, QUERY)
    query_state, query_behind = ctx.buster, ctx.behind
    if query_state is not BusterState.WORKS:
        for alt in candidates(varied, a.credential_header):
            yield from _trial(ctx, alt)
            if ctx.buster is BusterState.WORKS:
                ctx.carrier = alt
                break
        else:
            ctx.buster, ctx.behind = query_state, query_behind
    if ctx.buster is BusterState.WORKS:
        # Without a working buster these would read (and, were A's entry not stored,
        # write) the entry real users get: the read-only cross-key probe does it gated.
        for cred in [c for c in ctx.creds if c is not a] + [None]:
            req = ctx.carrier.apply(ProbeRequest(ctx.url(), cred))
            ctx.baselines[cred.name if cred else None] = yield req
        stale = _stale(ctx)
        if stale:
            # Another caller's "fresh" baseline is the primary's copy, byte for byte: the
            # buster busts a front cache only. Nothing here is fresh; treat it as unbusted.
            ctx.buster, ctx.behind = BusterState.BROKEN, True
            for name in stale:
                ctx.baselines.pop(name, None)
    notes = []
    if ctx.behind:
        notes.append(
            f"{ctx.endpoint}: a cache behind the cache: the front reports a miss on a fresh"
            " buster, yet the body (request ids and timestamps included) is one served"
            " before; an application cache keyed on less than the URL answers behind it"
        )
    if ctx.carrier is not QUERY:
        notes.append(
            f"{ctx.endpoint}: the {BUSTER_PARAM}= query buster does not bust;"
            f" probes carry their buster in {ctx.carrier} instead"
        )
    elif ctx.buster is BusterState.BROKEN:
        notes.append(
            f"{ctx.endpoint}: no buster busts (query, cookie, Vary headers: a fresh value"
            " was served from cache); active checks skipped so the shared entry is never"
            " poisoned; cross-key leakage tested read-only"
        )
    elif ctx.buster is BusterState.UNVERIFIED:
        notes.append(
            f"{ctx.endpoint}: could not show that any cache buster busts (identical bodies,"
            " no cache headers); active checks skipped; cross-key leakage tested read-only"
        )
    return notes
