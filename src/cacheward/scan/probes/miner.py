"""``unkeyed-header`` and ``unkeyed-param`` over the full wordlists (Param Miner style).

The curated lists of :mod:`.unkeyed_header` and :mod:`.unkeyed_param` carry value
templates and catch inputs that change a response without reflecting it; this probe
adds the long tail: 3,000+ header names and 6,800+ parameter names (the package's
``wordlists``, larger than WCVS 2.0's 2,921 and 6,452), packed into about 80 header
batches and 45 parameter batches by :mod:`cacheward.scan.batch`. A finding needs the
guess's canary to come back in a clean request on the poisoned buster.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl, quote, urlsplit

from ...core.finding import Finding
from ..batch import Guess, confirm, guesses, mine, packed
from ..context import ProbeContext
from ..exchange import Probe, ProbeRequest
from ..wordlists import load
from . import unkeyed_header, unkeyed_param
from .base import poisoning

#: Never guessed: framing and hop-by-hop fields (they would break the request or smuggle),
#: credentials, and the fields the ``cpdos`` and ``host-header`` probes send on purpose.
SKIP_HEADERS = frozenset(
    h.lower()
    for h in (
        "Host",
        "Content-Length",
        "Transfer-Encoding",
        "Connection",
        "Keep-Alive",
        "Proxy-Connection",
        "Expect",
        "Upgrade",
        "TE",
        "Trailer",
        "HTTP2-Settings",
        "Authorization",
        "Proxy-Authorization",
        "Cookie",
        "Cookie2",
        "Range",
        "If-Range",
        "Content-Type",
        "Content-Encoding",
        "Max-Forwards",
        "Accept-Encoding",
        "X-HTTP-Method-Override",
        "X-HTTP-Method",
        "X-Method-Override",
        "X-Original-Method",
        "X-Forwarded-Method",
    )
)
#: Varnish refuses more than 64 header fields, gunicorn more than 100.
HEADER_BATCH = 40
HEADER_BYTES = 6000
#: gunicorn refuses a request line over 4,094 bytes; the path and key need room too.
PARAM_BATCH = 200
PARAM_BYTES = 2800
#: Requests each wordlist may use at most (batches plus bisection), of the 400 per endpoint.
HEADER_CAP = 110
PARAM_CAP = 70
CONFIRM = 4
#: At most this many names of each wordlist (``None``: all). The test suite scans its
#: whole targets with a short list; the wordlist tests and the benchmark use all.
LIMIT: int | None = None


def header_names(ctx: ProbeContext) -> list[str]:
    skip = SKIP_HEADERS | {(c.credential_header or "").lower() for c in ctx.creds}
    skip |= {h.lower() for h in unkeyed_header.WORDLIST}
    skip |= {ctx.carrier.name.lower()}
    return [h for h in load("headers") if h.lower() not in skip][:LIMIT]


def param_names(ctx: ProbeContext) -> list[str]:
    skip = {p.lower() for p in unkeyed_param.WORDLIST} | {"cwcb"}
    skip |= {c.query.lower() for c in ctx.creds}
    # The endpoint's own parameters: a second copy is a repeated parameter, which a strict
    # origin refuses (a 400 that bisection would pay to isolate), never a new input.
    skip |= {k.lower() for k, _ in parse_qsl(urlsplit(ctx.endpoint.url).query, True)}
    return [p for p in load("params") if p.lower() not in skip][:LIMIT]


def headers(ctx: ProbeContext) -> Probe:
    """Every header name, batched, bisected, confirmed."""
    if not ctx.authenticated:
        return []
    a = ctx.primary

    def apply(group: Sequence[Guess], url: str) -> ProbeRequest:
        return ProbeRequest(url, a, headers=tuple((g.name, g.value) for g in group))

    batches = packed(
        guesses(header_names(ctx)),
        max_count=HEADER_BATCH,
        max_bytes=HEADER_BYTES,
        size=lambda g: len(g.name) + len(g.value) + 4,
    )
    mined = yield from mine(ctx, batches, apply, cap=HEADER_CAP)
    if mined.truncated:
        ctx.notes.append(f"{ctx.endpoint}: header wordlist stopped at {HEADER_CAP} requests")
    out: list[Finding] = []
    for g in mined.reflected[:CONFIRM]:
        ev = yield from confirm(ctx, g, apply)
        if ev is not None:
            out.append(
                poisoning(
                    ctx,
                    "unkeyed-header",
                    f"Unkeyed header {g.name} is reflected into the cached response",
                    f"Add {g.name} to the cache key (Vary: {g.name}) or stop the application"
                    " reading it.",
                    {**ev, "wordlist": "headers"},
                )
            )
    return out


def _query(group: Sequence[Guess]) -> str:
    return "&".join(f"{quote(g.name, safe='')}={g.value}" for g in group)


def params(ctx: ProbeContext) -> Probe:
    """Every parameter name, batched, bisected; confirmed by the URL without it."""
    if not ctx.authenticated:
        return []
    a = ctx.primary

    def apply(group: Sequence[Guess], url: str) -> ProbeRequest:
        return ProbeRequest(f"{url}&{_query(group)}", a)

    batches = packed(
        guesses(param_names(ctx)),
        max_count=PARAM_BATCH,
        max_bytes=PARAM_BYTES,
        size=lambda g: len(quote(g.name, safe="")) + len(g.value) + 2,
    )
    mined = yield from mine(ctx, batches, apply, cap=PARAM_CAP)
    if mined.truncated:
        ctx.notes.append(f"{ctx.endpoint}: parameter wordlist stopped at {PARAM_CAP} requests")
    out: list[Finding] = []
    for g in mined.reflected[:CONFIRM]:
        ev = yield from confirm(ctx, g, apply)
        if ev is not None:
            out.append(
                poisoning(
                    ctx,
                    "unkeyed-param",
                    f"Query parameter {g.name} is not in the cache key and is reflected",
                    f"Keep {g.name} in the cache key, or strip it before the application sees"
                    " it; never reflect parameters the cache ignores.",
                    {**ev, "wordlist": "params"},
                )
            )
    return out
