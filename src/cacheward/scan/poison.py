"""Poison-then-clean: the oracle shared by the unkeyed-input probes.

Candidates (headers or parameters) go out in batches on fresh busters, each with its own
canary. A reflected canary names its input at once; a batch that changes the status or
a steering header is split in halves until the input that matters is found (Param
Miner's way). A changed body alone never counts: random numbers and clocks change it
too. Each input found is then *confirmed*: sent once on a fresh buster, followed by a
clean request on the same buster that must carry the planted canary itself (or the
same changed status or header), and a clean request on another fresh buster that must
not (else the change is application state, not the cache). WCVS confirms the same way:
the canary, or the status, of an unpoisoned request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.finding import Finding
from .compare import SIGNIFICANT_HEADERS, reflects
from .context import ProbeContext, token
from .credential import Credential
from .exchange import ProbeRequest, ProbeResponse
from .probes.base import step

BATCH = 16
#: The scanner's own busters and canaries (``token()``): a redirect that echoes the
#: request's URL would otherwise look changed on every fresh buster.
_TOKEN = re.compile(r"cw[0-9a-f]{10}")


@dataclass(frozen=True)
class Candidate:
    """One input to try: ``value`` is sent, ``canary`` is looked for in responses."""

    name: str
    value: str
    canary: str


def candidates(names: Sequence[str], template: Callable[[str, str], str]) -> list[Candidate]:
    """One candidate per name, ``template(name, canary)`` giving the value to send."""
    out = []
    for name in names:
        c = token()
        out.append(Candidate(name, template(name, c), c))
    return out


#: Builds the request that sends ``group`` on the given busted URL.
Apply = Callable[[Sequence[Candidate], str], ProbeRequest]


def effect(resp: ProbeResponse) -> tuple[object, ...]:
    """What an input can change that dynamic content never does: the status and the
    headers that steer a client (``Location``, CORS, ``Content-Type``, ``Link``)."""
    return (resp.status, *(_TOKEN.sub("cw~", resp.header(h)) for h in SIGNIFICANT_HEADERS))


def _changed(resp: ProbeResponse, base: ProbeResponse) -> bool:
    return effect(resp) != effect(base)


def bisect(
    ctx: ProbeContext, cands: Sequence[Candidate], apply: Apply, *, reflect_only: bool = False
) -> Generator[ProbeRequest, ProbeResponse, list[Candidate]]:
    """The candidates that change the primary principal's response: a reflected canary
    names its input at once; a changed status or steering header (never a changed body,
    which dynamic content changes too) is split in halves until one input is left. The
    inputs whose canary came back are listed first."""
    base = ctx.baseline(ctx.primary)
    reflected_found: list[Candidate] = []
    changed_found: list[Candidate] = []
    stack = [list(cands[i : i + BATCH]) for i in range(0, len(cands), BATCH)]
    while stack:
        group = stack.pop()
        resp = yield apply(group, ctx.url())
        reflected = [c for c in group if reflects(resp, c.canary)]
        reflected_found += reflected
        rest = [c for c in group if c not in reflected]
        if reflect_only or not rest or not _changed(resp, base):
            continue
        if reflected:
            stack.append(rest)  # another input of the group may change the status
        elif len(rest) == 1:
            changed_found.append(rest[0])
        else:
            mid = len(rest) // 2
            stack += [rest[:mid], rest[mid:]]
    return reflected_found + changed_found


def confirm(
    ctx: ProbeContext, cand: Candidate, apply: Apply, clean: Callable[[str], str] | None = None
) -> Generator[ProbeRequest, ProbeResponse, dict[str, Any] | None]:
    """Evidence that ``cand`` poisons the entry a clean request reads, or ``None``.

    The poisoned request plants ``cand``; a clean request on the same buster must then
    show its canary itself (or, for an input whose effect is not text, the same changed
    status or steering header), and a clean request on a fresh buster must not (else it
    is application state, not the cache). ``clean`` maps the poisoned request's URL to
    the clean one (default: the same URL).
    """
    cred: Credential = ctx.primary
    base = ctx.baseline(cred)
    u = ctx.url()
    preq = apply([cand], u)
    rp = yield preq
    reflected = reflects(rp, cand.canary)
    if not (reflected or _changed(rp, base)):
        return None

    def shows(r: ProbeResponse) -> bool:
        if reflected:
            return reflects(r, cand.canary)
        return effect(r) == effect(rp)

    creq = ProbeRequest(clean(u) if clean else u, cred)
    rc = yield creq
    if not shows(rc):
        return None
    freq = ProbeRequest(ctx.url(), cred)
    rf = yield freq
    if shows(rf):
        return None
    return {
        "input": cand.name,
        "value": cand.value,
        "reflected": reflected,
        "poisoned_status": rp.status,
        "clean_status": rc.status,
        "baseline_status": base.status,
        "steps": (step(preq, rp), step(creq, rc, " (still poisoned)"), step(freq, rf)),
    }


def confirmed(
    ctx: ProbeContext,
    found: Sequence[Candidate],
    apply: Apply,
    report: Callable[[Candidate, dict[str, Any]], Finding],
    *,
    limit: int,
    first: bool = False,
) -> Generator[ProbeRequest, ProbeResponse, list[Finding]]:
    """Confirm up to ``limit`` of ``found`` and report each confirmed one (only the
    first when ``first``): the confirm-then-report loop of every poisoning probe."""
    out: list[Finding] = []
    for cand in found[:limit]:
        ev = yield from confirm(ctx, cand, apply)
        if ev is None:
            continue
        out.append(report(cand, ev))
        if first:
            break
    return out


def found_and_confirmed(
    ctx: ProbeContext,
    cands: Sequence[Candidate],
    apply: Apply,
    report: Callable[[Candidate, dict[str, Any]], Finding],
    *,
    limit: int = 6,
) -> Generator[ProbeRequest, ProbeResponse, list[Finding]]:
    """Bisect ``cands``, then confirm and report up to ``limit`` of those found."""
    found = yield from bisect(ctx, cands, apply)
    return (yield from confirmed(ctx, found, apply, report, limit=limit))
