"""The phases of a scan after setup, and each endpoint's :class:`Outcome`.

:func:`timing` runs alone, between setup and the concurrent probes; :func:`unbusted`,
:func:`after_ttl` and :func:`inconclusive` once every endpoint's probes have run, when
the identity oracle has learned from the whole scan; :func:`whoami` before anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..core.finding import Finding
from .buster import carried
from .context import BusterState, ProbeContext
from .credential import Credential
from .detect import baselines
from .exchange import ProbeRequest, ProbeResponse
from .freshness import TIMING, unshown, unshown_note
from .identity import Identities, whoami_values
from .oracle import Oracle
from .probes import PROBES, crosskey_unbusted
from .probes.base import ANONYMOUS, AUTH_AFTER_CACHE, CROSS_KEY
from .runner import Budget, BudgetExceeded, Sender, drive
from .target import Endpoint

T = TypeVar("T")


@dataclass
class Outcome:
    """One endpoint's result. ``gaps`` are the notes (also in ``notes``) that name
    something this endpoint set out to test and could not: they make the scan
    inconclusive."""

    endpoint: Endpoint
    budget: Budget
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    scanned: bool = True
    ctx: ProbeContext | None = None

    @property
    def requests(self) -> int:
        return self.budget.used

    def gap(self, note: str) -> None:
        self.notes.append(note)
        self.gaps.append(note)


async def attempt(
    out: Outcome,
    label: str,
    gen: Generator[ProbeRequest, ProbeResponse, T],
    sender: Sender,
    *,
    lead: str = "",
) -> T | None:
    """Drive ``gen`` within the endpoint's budget; the one place where a spent budget or
    an HTTP error stops a step, leaving a note that makes the scan inconclusive."""
    try:
        return await drive(gen, sender, out.budget)
    except BudgetExceeded:
        why = f"request budget ({out.budget.limit}) ran out in {label}"
    except httpx.HTTPError as exc:
        why = f"{label} stopped: {type(exc).__name__}: {exc}"
    out.gap(f"{out.endpoint}: {lead}{why}")
    return None


#: Timed in the quiet phase, alone, between setup and the concurrent probes.
TIMED = next(s for s in PROBES if s.name == "hidden-cache")
_UNVERIFIED = "could not show that any cache buster busts"


async def timing(out: Outcome, notes: list[str], sender: Sender) -> list[str]:
    """``hidden-cache`` with nothing else in flight (concurrent requests would blur the
    timing), and its verdict fed to the buster check: where identical bodies and no
    cache header left the buster unverified, a fresh buster timed as a miss beside the
    same URL's hits shows it busts, so the active checks run and baselines count fresh."""
    ctx = out.ctx
    if ctx is None or TIMED.run is None or not TIMED.runs(ctx):
        return notes
    found = await attempt(out, TIMED.name, carried(TIMED.run(ctx), ctx.carrier), sender)
    out.findings += found or []
    if not found or ctx.buster is not BusterState.UNVERIFIED:
        return notes
    ctx.buster, ctx.fresh[ctx.primary.name] = BusterState.WORKS, TIMING
    if await attempt(out, "setup", baselines(ctx), sender) is None:
        ctx.buster = BusterState.UNVERIFIED
        return notes
    return [n for n in notes if _UNVERIFIED not in n] + [
        f"{ctx.endpoint}: timing showed the {ctx.carrier} buster busts a cache that sends"
        " no cache header (a fresh buster is a miss, the same URL again a hit): the active"
        " checks ran on buster-isolated entries"
    ]


async def unbusted(out: Outcome, ids: Identities, sender: Sender) -> None:
    """The read-only cross-key probe, for an endpoint no buster busts (second phase,
    once every bustable endpoint has taught us what each principal's data looks like)."""
    ctx = out.ctx
    if ctx is None or ctx.buster is BusterState.WORKS or all(c.keyless for c in ctx.creds):
        return
    found = await attempt(out, "cross-key", crosskey_unbusted.probe(ctx, ids), sender)
    out.findings += found or []


async def after_ttl(out: Outcome, bound: float, sender: Sender) -> None:
    """``--wait-ttl``: wait out a path-keyed entry (twice, each bounded) so that each
    principal caches and reads a fresh response of its own; the oracle judges them."""
    ctx = out.ctx
    if ctx is None or all(c.keyless for c in ctx.creds):
        return
    if ctx.buster is BusterState.WORKS:
        if not unshown(ctx):
            return
        # every key got the primary's copy, unproven: wait out what may be an app cache
        ctx.stored = ctx.baseline(ctx.primary)
    if any(f.id == CROSS_KEY for f in out.findings):
        return  # proved already (by a probe; the engine skips the oracle's): no need to wait
    for phase in crosskey_unbusted.AFTER_TTL:
        wait = crosskey_unbusted.ttl_wait(ctx, bound)
        if wait is None:
            out.gap(
                f"{ctx.endpoint}: not waited out: its entry lives longer than"
                f" --wait-ttl {bound:g}, or no 2xx was stored"
            )
            return
        await asyncio.sleep(wait)
        ctx.epoch += 1
        if await attempt(out, "wait-ttl", phase(ctx), sender) is None:
            return


async def whoami(
    url: str, endpoints: Sequence[Endpoint], creds: list[Credential], sender: Sender
) -> tuple[dict[str, frozenset[str]], list[str]]:
    """Ask ``url`` once per principal and once with no key: what it returns for one
    principal only is that principal's identity."""
    if url.startswith("/") and endpoints:
        parts = urlsplit(endpoints[0].url)
        url = urlunsplit((parts.scheme, parts.netloc, url, "", ""))
    ctx = ProbeContext(Endpoint(url), creds)
    budget = Budget(len(creds) + 1, ctx=ctx)
    answers = {}
    try:
        for cred in [*creds, None]:
            answers[cred.name if cred else None] = await sender.send(
                ProbeRequest(ctx.url(), cred), budget
            )
    except httpx.HTTPError as exc:
        return {}, [f"--whoami {url}: not reached: {type(exc).__name__}: {exc}"]
    found = whoami_values(answers)
    missing = [c.name for c in creds if not c.low and c.name not in found]
    notes = []
    if missing:
        notes.append(
            f"--whoami {url}: no value only {', '.join(missing)} gets (the same body for"
            " every key: is the whoami URL itself cached across keys?)"
        )
    return found, notes


_LEAKS = frozenset({CROSS_KEY, ANONYMOUS, AUTH_AFTER_CACHE})


def inconclusive(oracle: Oracle, outcomes: list[Outcome]) -> None:
    """Where every key got the primary's body and nothing showed it fresh, cross-key
    leakage is inconclusive, unless a leak was proved or the identity the user stated
    for the primary is not in the body."""
    for o in outcomes:
        ctx = o.ctx
        if ctx is None or ctx.buster is not BusterState.WORKS:
            continue  # an unbusted endpoint says what it could not prove already
        readers = unshown(ctx)
        if not readers or any(f.id in _LEAKS for f in o.findings):
            continue
        stated = oracle.stated(ctx.primary.name)
        if stated and not any(v in ctx.baseline(ctx.primary).text for v in stated):
            continue
        o.gap(unshown_note(ctx, readers))
