"""Cross-key leakage where no cache buster busts: read-only, never poisoning.

When the cache keys on the path alone (Flask-Caching's default ``@cache.cached``), no
probe can get an entry of its own, so the active probes never run. Leakage across keys
can still be *proved* without planting anything: the primary principal A requests the
URL twice (exactly what any real user of A does; it caches only A's own legitimate
response), and once that response is shown to be stored and served, every other
principal, ``--low-key`` principal and an anonymous caller read it once. Nothing a
reader sends is attacker-controlled, and a reader only asks after A's entry is shown
to be in the store, so a reader's own response (a 401, B's data) is not what gets
stored unless the entry expires in the few milliseconds between.

A reader is served A's data when its response is the same as A's and either carries
A's identity markers and none of its own (learned on endpoints whose buster works, see
:mod:`cacheward.scan.identity`), or is byte-identical to A's stored copy (request ids
and timestamps included) while declaring itself per-principal (``private``,
``no-store`` or ``Vary`` on the credential header). Findings say ``"buster": "none"``.
"""

from __future__ import annotations

from ...core.finding import Confidence, Finding
from ..cachecontrol import directives, forbids_shared_storage, vary
from ..compare import identical, same, volatile
from ..context import ProbeContext
from ..credential import Credential
from ..detect import Signal, cache_headers, signal
from ..exchange import Probe, ProbeRequest, ProbeResponse, Setup
from ..identity import Identities
from .base import leak, leak_id, redacted, step, who

MODE = (
    "no buster busts this endpoint, so this was tested read-only: the scanning principal"
    " cached only its own legitimate response (as any real user does) and the other"
    " callers read it; nothing attacker-controlled was sent"
)
#: The end of the note left where a copy was served but nothing showed whose it is.
UNPROVED = "check it by hand"
_FIX = (
    "Put the principal in the cache key (Flask-Caching's default key is the path alone:"
    " use cacheward's @ward.cached under @ward.protected, or key_prefix with the"
    " principal) and authenticate and authorize before any cache lookup."
)


def _per_principal(resp: ProbeResponse, a: Credential) -> bool:
    header = (a.credential_header or "").lower()
    return forbids_shared_storage(resp) or bool(vary(resp) & {header, "authorization"} - {""})


def _leaked(
    got: ProbeResponse,
    stored: ProbeResponse,
    a: Credential,
    reader: Credential | None,
    ids: Identities,
) -> tuple[bool, Confidence, list[str]]:
    if not got.ok or not same(got, stored):
        return False, Confidence.LOW, []
    theirs = ids.markers(reader.name, a.name) if reader is not None else frozenset()
    mine = {
        m for other in _others(ids, a.name) for m in ids.markers(a.name, other) if m in got.text
    }
    if mine and not any(m in got.text for m in theirs):
        return True, Confidence.HIGH, sorted(mine)[:5]
    if reader is not None and reader.low and identical(got, stored):
        # A key that must be denied got A's stored copy, byte for byte: the cache
        # answered before authorization (high when request ids prove it is the copy).
        return True, Confidence.HIGH if volatile(stored) else Confidence.MEDIUM, []
    if identical(got, stored) and volatile(stored) and _per_principal(stored, a):
        return True, Confidence.MEDIUM, []
    return False, Confidence.LOW, []


def _others(ids: Identities, owner: str) -> list[str | None]:
    """Every principal (``None``: no key) ``owner`` has markers against."""
    return sorted({b for (a, b) in ids.of if a == owner}, key=lambda b: b or "")


def _readers(ctx: ProbeContext, stored: bool) -> list[Credential | None]:
    """Who reads A's entry: everyone once A's response is shown stored; else only the
    other allowed keys, whose own legitimate response is all a cache could keep from
    them (never no key, an invalid or a low key: their error could be what is kept)."""
    a = ctx.primary
    if stored:
        return [*(c for c in ctx.creds if c is not a), None]
    return [c for c in ctx.victims if c is not a]


def probe(ctx: ProbeContext, ids: Identities) -> Probe:
    """A twice, then every other caller once, all on the path-keyed entry."""
    a = ctx.primary
    first_req = ProbeRequest(ctx.url(), a)
    first = yield first_req
    again_req = ProbeRequest(ctx.url(), a)
    again = yield again_req
    stored = signal(again) is Signal.HIT or (identical(first, again) and volatile(first))
    ctx.stored = again if again.ok else None  # what --wait-ttl waits out
    if not again.ok:
        return []
    out: list[Finding] = []
    unproved: list[str] = []
    for reader in _readers(ctx, stored):
        req = ProbeRequest(ctx.url(), reader)
        got = yield req
        hit, confidence, marks = _leaked(got, again, a, reader, ids)
        if not hit:
            if got.ok and identical(got, again) and (volatile(again) or not stored):
                unproved.append(who(reader))
            continue
        cid = leak_id(reader, reader is not None and reader.low)
        evidence = {
            "buster": "none",
            "mode": MODE,
            "warmed_by": str(a),
            "served_to": who(reader),
            "served_status": got.status,
            "markers": redacted(marks),
            "byte_identical": identical(got, again),
            "cache_headers": cache_headers(got),
        }
        steps = (
            step(first_req, first),
            step(again_req, again, " (stored)"),
            step(req, got, f" ({a.name}'s body)"),
        )
        out.append(leak(ctx, cid, _FIX, evidence=evidence, steps=steps, confidence=confidence))
    if unproved:
        ctx.notes.append(_unproved(ctx, unproved, stored))
    return out


def _unproved(ctx: ProbeContext, readers: list[str], stored: bool) -> str:
    a = ctx.primary.name
    served = "stored response was served" if stored else "response came back"
    return (
        f"{ctx.endpoint}: {a}'s {served} byte for byte to {', '.join(readers)}, but"
        f" nothing shows it is {a}'s own data (no identity markers: add an endpoint whose"
        " buster works, such as a /me, to the scan, or say who each key is with"
        " --identity or --whoami, or let the scan wait the entry out with --wait-ttl; no"
        f" private or Vary on the key header): {UNPROVED}"
    )


def ttl_wait(ctx: ProbeContext, bound: float) -> float | None:
    """Seconds to wait for the endpoint's stored entry to expire, at most ``bound``
    (``None``: its declared lifetime is longer than ``bound``, so do not wait)."""
    stored = ctx.stored
    if stored is None:
        return None
    left = _lifetime(stored)
    if left is None:
        return bound
    return left + 0.25 if left + 0.25 <= bound else None


def _lifetime(resp: ProbeResponse) -> float | None:
    cc = directives(resp)
    for name in ("s-maxage", "max-age"):
        if cc.get(name, "").isdigit():
            age = resp.header("age")
            return max(0.0, int(cc[name]) - (int(age) if age.isdigit() else 0))
    return None


def _first_reader(ctx: ProbeContext) -> Credential | None:
    others = [c for c in ctx.victims if c is not ctx.primary]
    rest = others or [c for c in ctx.creds if c is not ctx.primary]
    return rest[0] if rest else None


def _phase(ctx: ProbeContext, first: Credential | None, then: Credential | None) -> Setup:
    """On an expired entry: ``first`` caches its own response (twice: the second shows it
    stored), then ``then`` reads it. Plain reads only; the oracle judges the responses."""
    for cred in (first, first, then):
        yield ProbeRequest(ctx.url(), cred)
    return []


def _other_first(ctx: ProbeContext) -> Setup:
    return _phase(ctx, _first_reader(ctx), ctx.primary)


def _primary_again(ctx: ProbeContext) -> Setup:
    return _phase(ctx, ctx.primary, _first_reader(ctx))


#: ``--wait-ttl``: after one wait another principal caches its own response and the
#: primary reads it; after a second, the primary caches a fresh one again (two
#: independent copies make its values markers) and the other reads it.
AFTER_TTL = (_other_first, _primary_again)
