"""One scan: set up every endpoint, run its probes, gather one :class:`Report`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import httpx

from .. import __version__
from ..core.finding import Finding, Report
from .buster import carried
from .context import BusterState, Options, ProbeContext
from .credential import ANONYMOUS, Credential, Redactor, redacted_logs
from .detect import setup
from .exchange import new_client
from .oracle import Oracle
from .phases import TIMED, Outcome, after_ttl, attempt, inconclusive, timing, unbusted, whoami
from .probes import PROBES, ProbeSpec, crosskey_unbusted
from .probes.base import CROSS_KEY
from .progress import Progress, Silent
from .raw import RawSender
from .runner import Budget, Sender
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
IN_PROCESS_NOTE = (
    "scanned through an in-process transport: duplicate-host (two Host fields, which only"
    " a raw socket can send) was not tried; scan over the network to run it"
)
FEW_KEYS_NOTE = "fewer than two allowed keys: cross-key-leak was not tested"


async def _setup(
    endpoint: Endpoint, creds: list[Credential], settings: Settings, sender: Sender
) -> tuple[Outcome, list[str]]:
    options = Options(aggressive=settings.aggressive, raw=sender.raw)
    ctx = ProbeContext(endpoint, creds, options)
    out = Outcome(endpoint, Budget(settings.budget, ctx=ctx), ctx=ctx)
    notes = await attempt(out, "setup", setup(ctx), sender, lead="not scanned: ")
    if notes is None:
        out.scanned, out.ctx = False, None
        return out, []
    return out, notes


async def _probes(out: Outcome, notes: list[str], sender: Sender) -> Outcome:
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
        if s is not TIMED and s.runs(ctx) and not (keyless and s.name in KEYED_PROBES)
    ]
    results = await asyncio.gather(*(_probe(out, s, sender) for s in specs))
    out.findings += [f for r in results for f in r or ()]
    return out


async def _probe(out: Outcome, spec: ProbeSpec, sender: Sender) -> list[Finding] | None:
    ctx = out.ctx
    assert ctx is not None  # noqa: S101 - set for every scanned endpoint
    if spec.look is not None:
        return spec.look(ctx)
    if spec.run is None:
        return []
    return await attempt(out, spec.name, carried(spec.run(ctx), ctx.carrier), sender)


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
    if transport is not None:
        notes = (*notes, IN_PROCESS_NOTE)
    carried = (tuple(notes) + tuple(gaps), tuple(gaps))
    return _report(endpoints, creds, outcomes, carried, elapsed, redact)


async def _run(
    endpoints: Sequence[Endpoint],
    creds: list[Credential],
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None,
    progress: Progress,
    redact: Redactor,
) -> list[Outcome]:
    async with new_client(transport, settings.timeout, settings.headers) as client:
        keyed = [c for c in creds if not c.keyless]  # the oracle learns principals' data
        oracle = Oracle(keyed, _stated(settings))
        sender = Sender(
            client,
            redact=redact,
            concurrency=settings.concurrency,
            rate=settings.rate,
            oracle=oracle,
            raw=RawSender(settings.timeout) if transport is None else None,  # duplicate-host
        )
        early: list[str] = []
        if settings.whoami and keyed:
            found, early = await whoami(settings.whoami, endpoints, keyed, sender)
            oracle.state(found)

        ready = await asyncio.gather(*(_setup(e, creds, settings, sender) for e in endpoints))
        timed = [await timing(out, notes, sender) for out, notes in ready]  # one at a time

        async def one(out: Outcome, notes: list[str]) -> Outcome:
            await _probes(out, notes, sender)
            progress.advance(redact(str(out.endpoint)), out.requests)
            return out

        outcomes = list(
            await asyncio.gather(*(one(o, n) for (o, _), n in zip(ready, timed, strict=True)))
        )
        ids = oracle.learn()
        await asyncio.gather(*(unbusted(o, ids, sender) for o in outcomes))
        if settings.wait_ttl > 0:
            proved = {id(c) for c, f in oracle.findings(oracle.learn()) if f.id == CROSS_KEY}
            waiting = [o for o in outcomes if id(o.ctx) not in proved]
            await asyncio.gather(*(after_ttl(o, settings.wait_ttl, sender) for o in waiting))
        if keyed:
            _judge(oracle, outcomes)
            inconclusive(oracle, outcomes)
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


def _judge(oracle: Oracle, outcomes: list[Outcome]) -> None:
    """The oracle's verdict on every response of the scan: leaks no probe reported."""
    reported = {(f.url, f.id) for o in outcomes for f in o.findings}
    by_ctx = {id(o.ctx): o for o in outcomes if o.ctx is not None}
    for ctx, f in oracle.findings(oracle.learn(), reported):
        out = by_ctx.get(id(ctx))
        if out is not None:
            out.findings.append(f)
            # what the read-only probe could not show, the oracle now has
            ctx.notes[:] = [n for n in ctx.notes if crosskey_unbusted.UNPROVED not in n]


def _report(
    endpoints: Sequence[Endpoint],
    creds: list[Credential],
    outcomes: list[Outcome],
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
