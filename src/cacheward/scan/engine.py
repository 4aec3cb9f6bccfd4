"""One scan: set up every endpoint, run its probes, gather one :class:`Report`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from .. import __version__
from ..core.finding import Finding, Report
from .buster import carried
from .context import BusterState, Options, ProbeContext
from .credential import ANONYMOUS, Credential, Redactor, redacted_logs
from .detect import baselines, setup
from .exchange import ProbeRequest, ProbeResponse, new_client
from .freshness import TIMING, unshown, unshown_note
from .identity import Identities, whoami_values
from .oracle import Oracle
from .probes import PROBES, ProbeSpec, crosskey_unbusted
from .probes.base import ANONYMOUS as ANONYMOUS_LEAK
from .probes.base import AUTH_AFTER_CACHE, CROSS_KEY
from .progress import Progress, Silent
from .runner import Budget, BudgetExceeded, Sender, drive
from .target import Endpoint

T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """The scan's limits and switches (the CLI's numeric options).

    :param concurrency: requests in flight at once.
    :param rate: request starts per second across the scan (``0``: unlimited).
    :param budget: requests per endpoint, setup included.
    :param timeout: seconds per request.
    :param aggressive: also send unsafe methods as override values.
    :param headers: headers the API requires, sent on every request (``--header``);
        a probe's own value for one of them wins, and ``Cookie`` values are merged.
    :param identities: ``(principal, value)`` pairs the user knows: a value only that
        principal's responses carry (``--identity alice=alice@example.org``).
    :param whoami: a URL (absolute, or a path on the first endpoint's origin) that
        returns the caller's identity (``--whoami /me``); asked once per principal.
    :param wait_ttl: at most this many seconds to wait, twice, for a path-keyed entry
        to expire so that each principal gets a fresh response of its own (``0``: never).
    """

    concurrency: int = 8
    rate: float = 50.0
    budget: int = 400
    timeout: float = 10.0
    aggressive: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    identities: tuple[tuple[str, str], ...] = ()
    whoami: str | None = None
    wait_ttl: float = 0.0


#: Probes that need a real key: with no ``--key`` they have nothing to protect or leak.
KEYED_PROBES = frozenset({"cross-key", "key-in-url", "cacheable-authenticated"})
NO_KEYS_NOTE = (
    "no keys given: scanned as an anonymous caller; the cross-key checks (cross-key-leak,"
    " anonymous-cache-leak, auth-after-cache, key-in-url, cacheable-authenticated) were"
    " skipped; pass two or more --key to run them"
)
FEW_KEYS_NOTE = "fewer than two allowed keys: cross-key-leak was not tested"


@dataclass
class _Outcome:
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


async def _attempt(
    out: _Outcome,
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


async def _setup(
    endpoint: Endpoint, creds: list[Credential], settings: Settings, sender: Sender
) -> tuple[_Outcome, list[str]]:
    ctx = ProbeContext(endpoint, creds, Options(aggressive=settings.aggressive))
    out = _Outcome(endpoint, Budget(settings.budget, ctx=ctx), ctx=ctx)
    notes = await _attempt(out, "setup", setup(ctx), sender, lead="not scanned: ")
    if notes is None:
        out.scanned, out.ctx = False, None
        return out, []
    return out, notes


#: Timed in the quiet phase, alone, between setup and the concurrent probes.
_TIMED = next(s for s in PROBES if s.name == "hidden-cache")
_UNVERIFIED = "could not show that any cache buster busts"


async def _timing(out: _Outcome, notes: list[str], sender: Sender) -> list[str]:
    """``hidden-cache`` with nothing else in flight (concurrent requests would blur the
    timing), and its verdict fed to the buster check: where identical bodies and no
    cache header left the buster unverified, a fresh buster timed as a miss beside the
    same URL's hits shows it busts, so the active checks run and baselines count fresh."""
    ctx = out.ctx
    if ctx is None or _TIMED.run is None or not _TIMED.runs(ctx):
        return notes
    found = await _attempt(out, _TIMED.name, carried(_TIMED.run(ctx), ctx.carrier), sender)
    out.findings += found or []
    if not found or ctx.buster is not BusterState.UNVERIFIED:
        return notes
    ctx.buster, ctx.fresh[ctx.primary.name] = BusterState.WORKS, TIMING
    if await _attempt(out, "setup", baselines(ctx), sender) is None:
        ctx.buster = BusterState.UNVERIFIED
        return notes
    return [n for n in notes if _UNVERIFIED not in n] + [
        f"{ctx.endpoint}: timing showed the {ctx.carrier} buster busts a cache that sends"
        " no cache header (a fresh buster is a miss, the same URL again a hit): the active"
        " checks ran on buster-isolated entries"
    ]


async def _probes(out: _Outcome, notes: list[str], sender: Sender) -> _Outcome:
    ctx = out.ctx
    if ctx is None:
        return out
    # Setup's notes say which buster carries the probes; without a working one the
    # active checks are skipped, which leaves this endpoint untested for poisoning.
    busted = ctx.buster is BusterState.WORKS
    for note in notes:
        if busted:
            out.notes.append(note)
        else:
            out.gap(note)
    keyless = all(c.keyless for c in ctx.creds)
    specs = [
        s
        for s in PROBES
        if s is not _TIMED and s.runs(ctx) and not (keyless and s.name in KEYED_PROBES)
    ]
    results = await asyncio.gather(*(_probe(out, s, sender) for s in specs))
    out.findings += [f for r in results for f in r or ()]
    return out


async def _probe(out: _Outcome, spec: ProbeSpec, sender: Sender) -> list[Finding] | None:
    ctx = out.ctx
    assert ctx is not None  # noqa: S101 - set for every scanned endpoint
    if spec.look is not None:
        return spec.look(ctx)
    if spec.run is None:
        return []
    return await _attempt(out, spec.name, carried(spec.run(ctx), ctx.carrier), sender)


async def _unbusted(out: _Outcome, ids: Identities, sender: Sender) -> None:
    """The read-only cross-key probe, for an endpoint no buster busts (second phase,
    once every bustable endpoint has taught us what each principal's data looks like)."""
    ctx = out.ctx
    if ctx is None or ctx.buster is BusterState.WORKS or all(c.keyless for c in ctx.creds):
        return
    found = await _attempt(out, "cross-key", crosskey_unbusted.probe(ctx, ids), sender)
    out.findings += found or []


async def _after_ttl(out: _Outcome, settings: Settings, sender: Sender) -> None:
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
        wait = crosskey_unbusted.ttl_wait(ctx, settings.wait_ttl)
        if wait is None:
            out.gap(
                f"{ctx.endpoint}: not waited out: its entry lives longer than"
                f" --wait-ttl {settings.wait_ttl:g}, or no 2xx was stored"
            )
            return
        await asyncio.sleep(wait)
        ctx.epoch += 1
        if await _attempt(out, "wait-ttl", phase(ctx), sender) is None:
            return


async def _whoami(
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


async def scan_async(
    endpoints: Sequence[Endpoint],
    creds: list[Credential],
    settings: Settings = Settings(),  # noqa: B008 - frozen, so a shared default is safe
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    progress: Progress | None = None,
    notes: Sequence[str] = (),
    gaps: Sequence[str] = (),
) -> Report:
    """Scan ``endpoints`` as ``creds`` and return the report (keys already masked).

    :param endpoints: what to probe; every request adds its own cache buster.
    :param creds: principals, the first allowed one being the victim probes try to leak;
        none: the endpoints are public, scanned as an anonymous caller, and the checks
        that need a key are skipped (a note says so).
    :param settings: concurrency, rate, per-endpoint budget, timeout, aggressiveness.
    :param transport: an httpx transport (tests pass an in-process one).
    :param progress: where to report progress (default: nowhere).
    :param notes: notes to carry into the report.
    :param gaps: notes on what was not tested (e.g. skipped OpenAPI operations): they
        make the report :attr:`~cacheward.core.finding.Report.inconclusive`.

    .. versionadded:: 0.1
    """
    creds = list(creds) or [ANONYMOUS]
    redact = Redactor(creds)
    progress = progress or Silent()
    progress.start(len(endpoints))
    start = time.monotonic()
    with redacted_logs(redact):
        outcomes = await _run(endpoints, creds, settings, transport, progress, redact)
    progress.close()
    elapsed = time.monotonic() - start
    carried = (tuple(notes) + tuple(gaps), tuple(gaps))
    return _report(endpoints, creds, outcomes, carried, elapsed, redact)


async def _run(
    endpoints: Sequence[Endpoint],
    creds: list[Credential],
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None,
    progress: Progress,
    redact: Redactor,
) -> list[_Outcome]:
    async with new_client(transport, settings.timeout, settings.headers) as client:
        keyed = [c for c in creds if not c.keyless]  # the oracle learns principals' data
        oracle = Oracle(keyed, _stated(settings))
        sender = Sender(
            client,
            redact=redact,
            concurrency=settings.concurrency,
            rate=settings.rate,
            oracle=oracle,
        )
        early: list[str] = []
        if settings.whoami and keyed:
            found, early = await _whoami(settings.whoami, endpoints, keyed, sender)
            oracle.state(found)

        ready = await asyncio.gather(*(_setup(e, creds, settings, sender) for e in endpoints))
        timed = [await _timing(out, notes, sender) for out, notes in ready]  # one at a time

        async def one(out: _Outcome, notes: list[str]) -> _Outcome:
            await _probes(out, notes, sender)
            progress.advance(redact(str(out.endpoint)), out.requests)
            return out

        outcomes = list(
            await asyncio.gather(*(one(o, n) for (o, _), n in zip(ready, timed, strict=True)))
        )
        ids = oracle.learn()
        await asyncio.gather(*(_unbusted(o, ids, sender) for o in outcomes))
        if settings.wait_ttl > 0:
            proved = {id(c) for c, f in oracle.findings(oracle.learn()) if f.id == CROSS_KEY}
            waiting = [o for o in outcomes if id(o.ctx) not in proved]
            await asyncio.gather(*(_after_ttl(o, settings, sender) for o in waiting))
        if keyed:
            _judge(oracle, outcomes)
            _unshown(oracle, outcomes)
        if oracle.full and outcomes:
            outcomes[0].gap(
                "the identity oracle stopped recording after 64 MiB of response bodies:"
                " later responses were not checked for another key's data"
            )
        for o in outcomes:  # what probes could not prove, once every phase has run
            if o.ctx is not None:
                for note in o.ctx.notes:
                    o.gap(note)
        if outcomes and early:
            outcomes[0].notes[:0] = early
            outcomes[0].gaps[:0] = early
        return outcomes


def _stated(settings: Settings) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for name, value in settings.identities:
        out.setdefault(name, set()).add(value)
    return out


def _judge(oracle: Oracle, outcomes: list[_Outcome]) -> None:
    """The oracle's verdict on every response of the scan: leaks no probe reported."""
    reported = {(f.url, f.id) for o in outcomes for f in o.findings}
    by_ctx = {id(o.ctx): o for o in outcomes if o.ctx is not None}
    for ctx, f in oracle.findings(oracle.learn(), reported):
        out = by_ctx.get(id(ctx))
        if out is not None:
            out.findings.append(f)
            # what the read-only probe could not show, the oracle now has
            ctx.notes[:] = [n for n in ctx.notes if crosskey_unbusted.UNPROVED not in n]


_LEAKS = frozenset({CROSS_KEY, ANONYMOUS_LEAK, AUTH_AFTER_CACHE})


def _unshown(oracle: Oracle, outcomes: list[_Outcome]) -> None:
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


def _report(
    endpoints: Sequence[Endpoint],
    creds: list[Credential],
    outcomes: list[_Outcome],
    carried: tuple[tuple[str, ...], tuple[str, ...]],
    elapsed: float,
    redact: Redactor,
) -> Report:
    all_notes, gap_notes = list(carried[0]), carried[1]
    if all(c.keyless for c in creds):
        all_notes.append(NO_KEYS_NOTE)
    elif len([c for c in creds if not c.low]) < 2:
        all_notes.append(FEW_KEYS_NOTE)
    all_notes += [n for o in outcomes for n in o.notes]
    gaps = [*gap_notes, *(n for o in outcomes for n in o.gaps)]
    findings = sorted((f for o in outcomes for f in o.findings), key=lambda f: (f.url or "", f.id))
    per = [o.requests for o in outcomes]
    stats = {
        "requests": sum(per),
        "duration_s": round(elapsed, 3),
        "endpoints": len(endpoints),
        "endpoints_scanned": sum(o.scanned for o in outcomes),
        "requests_per_endpoint_max": max(per, default=0),
        "requests_per_endpoint_mean": round(sum(per) / len(per), 1) if per else 0,
    }
    return Report(
        tool="scan",
        version=__version__,
        targets=tuple(redact(e.url) for e in endpoints),
        findings=tuple(findings),
        stats=stats,
        notes=tuple(redact(n) for n in all_notes),
        inconclusive=tuple(redact(n) for n in gaps),
    )


def scan(
    endpoints: Sequence[Endpoint],
    creds: list[Credential],
    settings: Settings = Settings(),  # noqa: B008
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    progress: Progress | None = None,
) -> Report:
    """Synchronous wrapper around :func:`scan_async`."""
    return asyncio.run(
        scan_async(endpoints, creds, settings, transport=transport, progress=progress)
    )
