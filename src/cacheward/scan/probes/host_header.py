"""``host-header``: the Host the origin sees is not the Host the cache keys on.

The origin builds absolute links, redirects and CORS answers from the request's host;
the cache keys on the URL it was configured with (nginx's default ``proxy_cache_key``
is ``$scheme$proxy_host$request_uri``: the *upstream* name, not the client's ``Host``).
Tried, each on a fresh buster and confirmed by a clean request that must carry the
canary back:

* a port in ``Host`` (``Host: example.test:41234``, the port being the canary);
* the forwarding headers with their names in another case (``x-forwarded-host``,
  ``X-HOST`` ...), for caches that compare field names case-sensitively; only where the
  canonical spelling is not already reported by ``unkeyed-header``, which tries
  ``X-Forwarded-Host``, ``X-Host``, ``X-Forwarded-Server`` and ``Forwarded`` (an app
  that reads ``X-Forwarded-Host`` without ProxyFix is reported there).

httpx (h11) writes header names as spelt, so the variants reach the wire as written. A
second ``Host`` field, which h11 refuses to send, is :mod:`.duplicate_host`'s (raw).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from urllib.parse import urlsplit

from ...core.finding import Finding
from ..batch import Guess, confirm, guesses
from ..compare import reflects
from ..context import ProbeContext
from ..exchange import Probe, ProbeRequest
from .base import poisoning

FORWARDING = ("X-Forwarded-Host", "X-Host", "X-Forwarded-Server", "X-Original-Host")


def _finding(ctx: ProbeContext, title: str, ev: dict[str, object]) -> Finding:
    return poisoning(
        ctx,
        "host-header",
        title,
        "Build absolute URLs from a configured server name, not from the request's Host;"
        " if the app must use it, key the cache on the client's Host (nginx:"
        " proxy_cache_key with $http_host) and reject Hosts you do not serve.",
        dict(ev),
    )


def probe(ctx: ProbeContext) -> Probe:
    """Port in Host, then case variants of the forwarding headers."""
    if not ctx.authenticated:
        return []
    a = ctx.primary
    host = urlsplit(ctx.endpoint.url).hostname or "localhost"
    out: list[Finding] = []

    port = str(20000 + secrets.randbelow(40000))
    g = Guess("Host", f"{host}:{port}", port)

    def with_host(group: Sequence[Guess], url: str) -> ProbeRequest:
        return ProbeRequest(url, a, headers=tuple((x.name, x.value) for x in group))

    ev = yield from confirm(ctx, g, with_host)
    if ev is not None:
        out.append(_finding(ctx, "A port in the Host header poisons the cached response", ev))

    variants = guesses(
        [n.lower() for n in FORWARDING] + [n.upper() for n in FORWARDING],
        lambda c: f"{c}.example",
    )
    resp = yield with_host(variants, ctx.url())
    for x in [v for v in variants if reflects(resp, v.canary)][:2]:
        ev = yield from confirm(ctx, x, with_host)
        if ev is None:
            continue
        canonical = guesses([n for n in FORWARDING if n.lower() == x.name.lower()])
        also = yield from confirm(ctx, canonical[0], with_host)
        if also is None:  # else the canonical spelling poisons too: unkeyed-header's
            out.append(
                _finding(ctx, f"Header {x.name} (that spelling) poisons the cached response", ev)
            )
        break
    return out
