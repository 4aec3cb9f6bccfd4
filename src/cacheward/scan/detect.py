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

from .buster import QUERY, Buster, candidates, token_of
from .cachecontrol import vary
from .cachestatus import served_from_store
from .compare import identical, volatile
from .context import BUSTER_PARAM, BusterState, ProbeContext
from .exchange import ProbeRequest, ProbeResponse, Setup
from .freshness import TIMING, evidence, stored_behind

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
#: Any other ``X-...Cache...`` header (Mastodon's ``X-Cached``, ``X-FastCGI-Cache``); not
#: Squid's ``X-Cache-Lookup``, which says what a lookup would find, not what was served.
_OTHER_STATUS = re.compile(r"^x-(?!cache-lookup$)[a-z0-9-]*cach", re.IGNORECASE)
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
    named = [resp.header(name) for name in _STATUS_HEADERS]
    others = [
        v for k, v in resp.headers.items() if k not in _STATUS_HEADERS and _OTHER_STATUS.match(k)
    ]
    for value in (*named, *others):
        if _HIT.search(value):
            return Signal.HIT
        if _MISS.search(value):
            return Signal.MISS
    timing = resp.header("server-timing")
    if re.search(r"cdn-cache[^,]*hit", timing, re.IGNORECASE):
        return Signal.HIT
    if re.search(r"cdn-cache[^,]*miss", timing, re.IGNORECASE):
        return Signal.MISS
    ids = len(resp.header("x-varnish").split())
    if ids >= 2:  # Varnish names the request and the object it was served from
        return Signal.HIT
    if ids == 1:  # only the request: fetched from the backend (a miss or a pass)
        return Signal.MISS
    age = resp.header("age")
    if age.isdigit() and int(age) > 0:
        return Signal.HIT
    return Signal.NONE


def cache_headers(resp: ProbeResponse) -> dict[str, str]:
    """The cache-revealing headers of ``resp``, for evidence."""
    return {h: resp.header(h) for h in _PRESENCE_HEADERS if resp.header(h)}


def verdict(
    r1: ProbeResponse, r2: ProbeResponse, r3: ProbeResponse, token: str = ""
) -> tuple[BusterState, bool]:
    """Buster state and whether a cache was seen, from buster u1, u1 again, then u2
    (``token``: u2's value).

    Freshness is shown, never assumed: the second buster busts when its response shows
    it was made anew (:func:`~cacheward.scan.freshness.evidence`: another body, u2 echoed,
    a new validator or cookie), or when the headers say miss *and* nothing contradicts
    them. A body that carries request ids or timestamps and comes back byte for byte on
    a fresh buster was served from a store, whatever the headers say, and so was one
    another cache on the path (or its dates) says is stored: a cache behind the cache
    (:func:`behind`). A miss with nothing either way busts the front; whether the origin
    answered anew stays unproven (``ProbeContext.fresh``).
    """
    s2, s3 = signal(r2), signal(r3)
    seen = s2 is Signal.HIT or bool(cache_headers(r1))
    if s3 is Signal.HIT:
        return BusterState.BROKEN, True
    if not identical(r1, r3):
        return BusterState.WORKS, seen or identical(r1, r2)
    if volatile(r1) or stored_behind(r3):  # a store answered the fresh buster
        return BusterState.BROKEN, True
    if evidence(r3, token, [r1, r2]) is not None:
        return BusterState.WORKS, seen
    if s3 is Signal.MISS:
        return BusterState.WORKS, True
    if s2 is Signal.HIT:  # the same body on a fresh buster, after a hit: served from store
        return BusterState.BROKEN, True
    return BusterState.UNVERIFIED, seen


def behind(r1: ProbeResponse, r3: ProbeResponse) -> bool:
    """A cache behind the cache: the front says miss on a fresh buster while the body is
    the first buster's and either carries request ids or timestamps (repeated byte for
    byte) or comes with another cache's hit, an ``Age`` or an application cache's stamp
    from before (an application cache keyed on the path behind a proxy the buster does
    bust)."""
    return signal(r3) is Signal.MISS and identical(r1, r3) and (volatile(r1) or stored_behind(r3))


def _trial(ctx: ProbeContext, buster: Buster) -> Setup:
    """The three-request check for one buster carrier; sets ``ctx.buster``."""
    a = ctx.primary
    u1 = ctx.url()
    r1 = yield buster.apply(ProbeRequest(u1, a))
    r2 = yield buster.apply(ProbeRequest(u1, a))
    u3 = ctx.url()
    r3 = yield buster.apply(ProbeRequest(u3, a))
    state, seen = verdict(r1, r2, r3, token_of(u3))
    ctx.buster, ctx.cache_seen = state, ctx.cache_seen or seen
    ctx.baselines[a.name], ctx.echo = r3, r1
    ctx.behind = behind(r1, r3)
    ctx.fresh.pop(a.name, None)
    why = evidence(r3, token_of(u3), [r1, r2]) if state is BusterState.WORKS else None
    if why is not None:
        ctx.fresh[a.name] = why
    return sorted(vary(r1))


def baselines(ctx: ProbeContext) -> Setup:
    """Every other caller's baseline on a buster of its own, each judged fresh or not
    against every earlier response to the endpoint (the primary's copy is no proof)."""
    a = ctx.primary
    earlier = [r for r in (ctx.echo, ctx.baselines.get(a.name)) if r is not None]
    for cred in [c for c in ctx.creds if c is not a] + [None]:
        url = ctx.url()
        resp = yield ctx.carrier.apply(ProbeRequest(url, cred))
        name = cred.name if cred else None
        ctx.baselines[name] = resp
        why = evidence(resp, token_of(url), earlier)
        if why is not None or ctx.fresh.get(a.name) == TIMING:
            ctx.fresh[name] = why or TIMING
        earlier.append(resp)
    return []


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
        yield from baselines(ctx)
        stale = _stale(ctx)
        if stale:
            # Another caller's "fresh" baseline is the primary's copy, byte for byte: the
            # buster busts a front cache only. Nothing here is fresh; treat it as unbusted.
            ctx.buster, ctx.behind = BusterState.BROKEN, True
            for name in stale:
                ctx.baselines.pop(name, None)
                ctx.fresh.pop(name, None)
    return _notes(ctx)


def _notes(ctx: ProbeContext) -> list[str]:
    # With no key there is no cross-key check to run read-only (the scan says so once).
    read_only = "" if all(c.keyless for c in ctx.creds) else "; cross-key leakage tested read-only"
    notes = []
    if ctx.behind:
        notes.append(
            f"{ctx.endpoint}: a cache behind the cache: the front reports a miss on a fresh"
            " buster, yet the body is one served before (its request ids and timestamps"
            " repeated byte for byte, or another cache, an Age or the application's own"
            " date stamp says it was stored); an application cache keyed on less than the"
            " URL answers behind it"
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
            f" poisoned{read_only}"
        )
    elif ctx.buster is BusterState.UNVERIFIED:
        notes.append(
            f"{ctx.endpoint}: could not show that any cache buster busts (identical bodies,"
            f" no cache headers); active checks skipped{read_only}"
        )
    return notes
