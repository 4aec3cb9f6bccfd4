"""``response-splitting``: CRLF in a parameter becomes a header of a cached response.

An application that copies a parameter into a response header without refusing CR and
LF (a hand-written redirect, a raw ``Link`` or ``Set-Cookie``) lets a request add
headers of its choosing. Where the cache leaves that parameter out of its key, the
injected header is stored and served to everyone who asks for the clean URL. Every
parameter of :mod:`..influence` and the tracking parameters caches drop go out at once,
each carrying ``<CRLF>X-Cw-Split: <canary>``, in three encodings: ``%0d%0a``, a bare
``%0a``, and the UTF-8 ``%E5%98%8A%E5%98%8D`` some servers truncate to CR LF. Only a
canary in the ``X-Cw-Split`` *header* counts (a body echo is not a split), and it must
come back in a clean request (the URL without the parameter) on the same buster, and not
on a fresh one.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from ...core.finding import Finding
from ..batch import Guess, guesses
from ..context import ProbeContext
from ..exchange import Probe, ProbeRequest, ProbeResponse
from ..influence import influential
from . import unkeyed_param
from .base import poisoning, step

HEADER = "X-Cw-Split"
ENCODINGS = ("%0d%0a", "%0a", "%E5%98%8A%E5%98%8D")


def _split(resp: ProbeResponse, canary: str) -> bool:
    return canary in resp.header(HEADER)


def probe(ctx: ProbeContext) -> Probe:
    """One batch per encoding; confirm the parameter whose canary became a header."""
    if not ctx.authenticated:
        return []
    a = ctx.primary
    names = list(dict.fromkeys([*influential(ctx.endpoint.url), *unkeyed_param.WORDLIST]))
    for enc in ENCODINGS:

        def apply(group: Sequence[Guess], url: str, enc: str = enc) -> ProbeRequest:
            q = "&".join(f"{quote(g.name)}=x{enc}{HEADER}:%20{g.canary}" for g in group)
            return ProbeRequest(f"{url}&{q}", a)

        batch = guesses(names)
        resp = yield apply(batch, ctx.url())
        for g in [g for g in batch if _split(resp, g.canary)][:2]:
            u = ctx.url()
            preq = apply([g], u)
            rp = yield preq
            if not _split(rp, g.canary):
                continue
            creq = ProbeRequest(u, a)
            rc = yield creq
            if not _split(rc, g.canary):
                continue
            freq = ProbeRequest(ctx.url(), a)
            rf = yield freq
            if _split(rf, g.canary):
                continue
            return [
                poisoning(
                    ctx,
                    "response-splitting",
                    f"CRLF in parameter {g.name} injects a header the cache stores",
                    "Refuse CR and LF (and their encodings) in any value copied into a"
                    " response header (Werkzeug does; hand-written headers must too), and"
                    f" keep {g.name} in the cache key.",
                    {
                        "input": g.name,
                        "encoding": enc,
                        "injected_header": HEADER,
                        "poisoned_status": rp.status,
                        "clean_status": rc.status,
                        "steps": (
                            step(preq, rp),
                            step(creq, rc, f" (injected {HEADER} served to a clean request)"),
                            step(freq, rf),
                        ),
                    },
                )
            ]
    out: list[Finding] = []
    return out
