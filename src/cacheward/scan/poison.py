"""Poison-then-clean: the oracle shared by the unkeyed-input probes.

Candidates (headers or parameters) go out in batches on fresh busters, each with its own
canary. A batch that changes the response is split in halves until the inputs that
matter are found (Param Miner's way); a reflected canary names its input at once. Each
such input is then *confirmed*: sent once on a fresh buster, followed by a clean request
on the same buster that must still show the change, and a clean request on another
fresh buster that must not (else the change is application state, not the cache).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from .compare import differs, reflects, same
from .context import ProbeContext, token
from .credential import Credential
from .exchange import ProbeRequest, ProbeResponse
from .probes.base import step

BATCH = 16


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


def _changed(resp: ProbeResponse, base: ProbeResponse, group: Sequence[Candidate]) -> bool:
    return differs(resp, base) or any(reflects(resp, c.canary) for c in group)


def bisect(
    ctx: ProbeContext, cands: Sequence[Candidate], apply: Apply, *, reflect_only: bool = False
) -> Generator[ProbeRequest, ProbeResponse, list[Candidate]]:
    """The candidates that change the primary principal's response."""
    base = ctx.baseline(ctx.primary)
    found: list[Candidate] = []
    stack = [list(cands[i : i + BATCH]) for i in range(0, len(cands), BATCH)]
    while stack:
        group = stack.pop()
        resp = yield apply(group, ctx.url())
        reflected = [c for c in group if reflects(resp, c.canary)]
        if reflected:
            found.extend(reflected)
        elif not reflect_only and _changed(resp, base, group):
            if len(group) == 1:
                found.append(group[0])
            else:
                mid = len(group) // 2
                stack += [group[:mid], group[mid:]]
    return found


def confirm(
    ctx: ProbeContext, cand: Candidate, apply: Apply, clean: Callable[[str], str] | None = None
) -> Generator[ProbeRequest, ProbeResponse, dict[str, Any] | None]:
    """Evidence that ``cand`` poisons the entry a clean request reads, or ``None``.

    ``clean`` maps the poisoned request's URL to the clean one (default: the same URL).
    """
    cred: Credential = ctx.primary
    base = ctx.baseline(cred)
    u = ctx.url()
    preq = apply([cand], u)
    rp = yield preq
    reflected = reflects(rp, cand.canary)
    if not (reflected or differs(rp, base)):
        return None

    def shows(r: ProbeResponse) -> bool:
        if reflected:
            return reflects(r, cand.canary)
        return same(r, rp) and differs(r, base)

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
