"""``unkeyed-cookie``: a cookie the application reads changes a response keyed without it.

Caches key on the URL; most leave ``Cookie`` out of the key (and CDNs strip it from the
key while forwarding it). An application that reflects a cookie (a language, a theme,
an A/B bucket) into a cacheable response lets one request store it for everyone. Cookie
names from the package's ``cookies`` wordlist go out batched in one ``Cookie`` header
each; a reflected canary must come back in a clean request (no cookie) on the same
buster, and not on a fresh one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ...core.finding import Finding
from ..batch import Guess, confirm, guesses, mine, packed
from ..buster import PARAM
from ..context import ProbeContext
from ..exchange import Probe, ProbeRequest
from ..wordlists import load
from .base import poisoning

BATCH = 120
BYTES = 3000
CAP = 12


#: Cookie names never touched: they may carry the session or the credential.
_PRIVATE_COOKIE = re.compile(r"sess|auth|token|csrf|xsrf|sid|key|login|jwt", re.IGNORECASE)


def cookie_names(ctx: ProbeContext) -> list[str]:
    """The endpoint's own ``Set-Cookie`` names (from any baseline), then the wordlist's;
    never one that may carry the session or the credential (a ``--key-cookie`` session
    stays exactly as the key set it)."""
    own = [
        part.split("=", 1)[0].strip()
        for resp in ctx.baselines.values()
        for part in resp.header("set-cookie").split(",")
        if "=" in part.split(";", 1)[0]
    ]
    taken = {c.cookie for c in ctx.creds} | {PARAM}
    names = dict.fromkeys([*own, *load("cookies")])
    return [
        n
        for n in names
        if n and n.isascii() and n not in taken and not _PRIVATE_COOKIE.search(n)
    ]


def probe(ctx: ProbeContext) -> Probe:
    """Cookies in batches; confirm a reflected one with a cookie-less clean request."""
    if not ctx.authenticated:
        return []
    a = ctx.primary

    def apply(group: Sequence[Guess], url: str) -> ProbeRequest:
        cookie = "; ".join(f"{g.name}={g.value}" for g in group)
        return ProbeRequest(url, a, headers=(("Cookie", cookie),))

    names = cookie_names(ctx)
    batches = packed(
        guesses(names), max_count=BATCH, max_bytes=BYTES, size=lambda g: len(g.name) + 15
    )
    mined = yield from mine(ctx, batches, apply, cap=CAP)
    out: list[Finding] = []
    for g in mined.reflected[:3]:
        ev = yield from confirm(ctx, g, apply)
        if ev is None:
            continue
        out.append(
            poisoning(
                ctx,
                "unkeyed-cookie",
                f"Cookie {g.name} is reflected into a response the cache serves without it",
                f"Key the cache on the {g.name} cookie (or Vary: Cookie), mark responses that"
                " read cookies private, or stop reflecting it.",
                ev,
            )
        )
        break
    return out
