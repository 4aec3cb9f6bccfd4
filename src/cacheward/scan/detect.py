"""Cache detection and the buster check that every active probe depends on.

A cache shows itself in headers (RFC 9211 ``Cache-Status: ExampleCache; hit``,
``X-Cache: HIT``, ``CF-Cache-Status``, ``Age``,
``X-Varnish`` with two ids, ``Server-Timing: cdn-cache; desc=HIT`` ...) or, without
them, by body identity: a response that carries a request id or timestamp and comes back
byte for byte identical was served from a store. The buster check sends the same fresh
buster twice and a second fresh buster once: the second buster must *not* be a hit. The
unbusted URL is never requested, so a scan cannot poison what real users get.
"""

from __future__ import annotations

import re
from enum import Enum

from .cachestatus import served_from_store
from .compare import identical
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
    """Buster state and whether a cache was seen, from buster u1, u1 again, then u2."""
    s2, s3 = signal(r2), signal(r3)
    seen = s2 is Signal.HIT or bool(cache_headers(r1))
    if s3 is Signal.HIT:
        return BusterState.BROKEN, True
    if not identical(r1, r3):
        return BusterState.WORKS, seen or identical(r1, r2)
    if s3 is Signal.MISS:
        return BusterState.WORKS, True
    if s2 is Signal.HIT:  # the same body on a fresh buster, after a hit: served from store
        return BusterState.BROKEN, True
    return BusterState.UNVERIFIED, seen


def setup(ctx: ProbeContext) -> Setup:
    """Check the buster, then fetch every principal's baseline on a buster of its own."""
    a = ctx.primary
    u1 = ctx.url()
    r1 = yield ProbeRequest(u1, a)
    r2 = yield ProbeRequest(u1, a)
    r3 = yield ProbeRequest(ctx.url(), a)
    ctx.buster, ctx.cache_seen = verdict(r1, r2, r3)
    ctx.baselines[a.name] = r3
    for cred in [c for c in ctx.creds if c is not a] + [None]:
        ctx.baselines[cred.name if cred else None] = yield ProbeRequest(ctx.url(), cred)
    notes = []
    if ctx.buster is BusterState.BROKEN:
        notes.append(
            f"{ctx.endpoint}: a fresh {BUSTER_PARAM}= buster was served from cache;"
            " active checks skipped so the shared entry is never touched"
        )
    elif ctx.buster is BusterState.UNVERIFIED:
        notes.append(
            f"{ctx.endpoint}: could not show that the cache buster busts (identical bodies,"
            " no cache headers); active checks skipped"
        )
    return notes
