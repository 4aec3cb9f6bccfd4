"""Wordlists in batches, Param Miner's way, within the request budget.

Thousands of guesses (header, parameter or cookie names) go out packed into as few
requests as the origin and the proxies accept: each batch carries up to ``max_count``
guesses and ``max_bytes`` of them (gunicorn refuses more than 100 header fields and a
4,094-byte request line, Varnish more than 64 header fields), each guess with its own
canary, each batch on a fresh cache buster. A reflected canary names its guess at once.
A batch whose status differs from the baseline while reflecting nothing (one guess made
the origin refuse the request, redirect or fail) is split in halves until the guess that
blocks is alone and dropped, so one blocker cannot hide the rest: bisection.

Only a reflected canary counts. :func:`confirm` then proves the cache stores it: the
guess is sent once on a fresh buster, a *clean* request on the same buster must carry
the canary back, and a clean request on another fresh buster must not (else the value
is application state, not a stored response).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .compare import reflects
from .context import ProbeContext, token
from .exchange import ProbeRequest, ProbeResponse
from .probes.base import step


@dataclass(frozen=True)
class Guess:
    """One input to try: ``value`` is sent and carries ``canary``."""

    name: str
    value: str
    canary: str


def guesses(names: Iterable[str], template: Callable[[str], str] = lambda c: c) -> list[Guess]:
    """One guess per name, its value ``template(canary)``."""
    out = []
    for name in names:
        c = token()
        out.append(Guess(name, template(c), c))
    return out


def packed(
    items: Sequence[Guess], *, max_count: int, max_bytes: int, size: Callable[[Guess], int]
) -> list[list[Guess]]:
    """``items`` in order, cut into batches of at most ``max_count`` and ``max_bytes``."""
    out: list[list[Guess]] = []
    cur: list[Guess] = []
    used = 0
    for g in items:
        n = size(g)
        if cur and (len(cur) >= max_count or used + n > max_bytes):
            out.append(cur)
            cur, used = [], 0
        cur.append(g)
        used += n
    if cur:
        out.append(cur)
    return out


#: Builds the request that sends ``group`` on the given busted URL.
Apply = Callable[[Sequence[Guess], str], ProbeRequest]


@dataclass
class Mined:
    """What a wordlist run found, and what it cost."""

    reflected: list[Guess]
    blockers: list[Guess]
    requests: int = 0
    truncated: bool = False


def mine(
    ctx: ProbeContext,
    batches: Sequence[Sequence[Guess]],
    apply: Apply,
    *,
    cap: int,
) -> Generator[ProbeRequest, ProbeResponse, Mined]:
    """Send every batch (at most ``cap`` requests); bisect the ones that block."""
    base = ctx.baseline(ctx.primary)
    out = Mined([], [])
    stack = [list(b) for b in reversed(batches)]
    while stack:
        if out.requests >= cap:
            out.truncated = True
            break
        group = stack.pop()
        resp = yield apply(group, ctx.url())
        out.requests += 1
        hit = [g for g in group if reflects(resp, g.canary)]
        if hit:
            out.reflected += hit
        elif resp.status != base.status:
            if len(group) == 1:
                out.blockers.append(group[0])
            else:
                mid = len(group) // 2
                stack += [group[mid:], group[:mid]]
    return out


def confirm(
    ctx: ProbeContext,
    guess: Guess,
    apply: Apply,
    clean: Callable[[str], ProbeRequest] | None = None,
) -> Generator[ProbeRequest, ProbeResponse, dict[str, Any] | None]:
    """Evidence that ``guess``'s canary is stored and served to a clean request, or ``None``.

    ``clean`` builds the clean request for the poisoned URL (default: a plain GET of it
    as the primary principal, without the guess).
    """
    a = ctx.primary
    u = ctx.url()
    preq = apply([guess], u)
    rp = yield preq
    if not reflects(rp, guess.canary):
        return None
    creq = clean(u) if clean else ProbeRequest(u, a)
    rc = yield creq
    if not reflects(rc, guess.canary):
        return None
    freq = ProbeRequest(ctx.url(), a)
    rf = yield freq
    if reflects(rf, guess.canary):
        return None
    return {
        "input": guess.name,
        "value": guess.value,
        "reflected": True,
        "poisoned_status": rp.status,
        "clean_status": rc.status,
        "baseline_status": ctx.baseline(a).status,
        "steps": (
            step(preq, rp),
            step(creq, rc, " (canary served to a clean request)"),
            step(freq, rf),
        ),
    }
