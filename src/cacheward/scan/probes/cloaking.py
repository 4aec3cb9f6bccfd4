"""``param-cloaking``: a parameter hidden from the cache key by a separator mismatch.

Two disagreements between cache and application are tried, each with every likely
influential parameter at once (a reflected canary names the one that got through):

* ``;`` cloaking: ``?utm_content=x;lang=CANARY``. A cache that splits on ``&`` only and
  drops ``utm_content`` keys this as the clean URL; an application that also splits on
  ``;`` reads ``lang=CANARY``.
* ``&`` only: ``?lang=x;utm_content=CANARY``. A cache that splits on ``;`` and drops
  ``utm_content`` keys this as ``?lang=x``; an application that splits on ``&`` only
  reads ``lang="x;utm_content=CANARY"``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence

from ...core.finding import Finding
from ..context import ProbeContext, token
from ..exchange import Probe, ProbeRequest, ProbeResponse
from ..influence import influential
from ..poison import Candidate, bisect, candidates, confirm
from .base import poisoning

CARRIER = "utm_content"


def _semicolon(group: Sequence[Candidate]) -> str:
    return f"{CARRIER}=x;" + ";".join(f"{c.name}={c.canary}" for c in group)


def _ampersand(group: Sequence[Candidate]) -> str:
    return "&".join(f"{c.name}=x;{CARRIER}={c.canary}" for c in group)


def _clean_ampersand(cand: Candidate) -> Callable[[str], str]:
    return lambda url: f"{url}&{cand.name}=x"


def _plainly_unkeyed(
    ctx: ProbeContext, cand: Candidate
) -> Generator[ProbeRequest, ProbeResponse, bool]:
    """Whether ``cand`` poisons even when sent plainly, without any separator trick."""
    a = ctx.primary
    canary = token()
    plain = Candidate(cand.name, canary, canary)

    def apply(group: Sequence[Candidate], url: str) -> ProbeRequest:
        return ProbeRequest(f"{url}&{group[0].name}={group[0].value}", a)

    return (yield from confirm(ctx, plain, apply)) is not None


def probe(ctx: ProbeContext) -> Probe:
    """Try both separator disagreements; confirm with the cloaked part left out."""
    if not ctx.authenticated:
        return []
    a = ctx.primary
    out: list[Finding] = []
    for label, build in (("';' separator", _semicolon), ("'&'-only parser", _ampersand)):
        cands = candidates(influential(ctx.endpoint.url), lambda n, c: c)

        def apply(
            group: Sequence[Candidate],
            url: str,
            build: Callable[[Sequence[Candidate]], str] = build,
        ) -> ProbeRequest:
            return ProbeRequest(f"{url}&{build(group)}", a)

        found = yield from bisect(ctx, cands, apply, reflect_only=True)
        for cand in found[:2]:
            if (yield from _plainly_unkeyed(ctx, cand)):
                continue  # not cloaking: unkeyed-param reports a parameter left out outright
            clean = _clean_ampersand(cand) if build is _ampersand else None
            ev = yield from confirm(ctx, cand, apply, clean)
            if ev is None:
                continue
            out.append(
                poisoning(
                    ctx,
                    "param-cloaking",
                    f"Parameter {cand.name} cloaked from the cache key via the {label}",
                    "Parse the query the same way in the cache and the application (split on"
                    " '&' only, as the design's canonical query does), and key every"
                    " parameter the application reads.",
                    {**ev, "technique": label},
                )
            )
            break
    return out
