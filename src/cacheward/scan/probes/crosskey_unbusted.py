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

from ...core.finding import Confidence, Finding, Severity
from ..cachecontrol import forbids_shared_storage, vary
from ..compare import identical, same, volatile
from ..context import ProbeContext
from ..credential import Credential
from ..detect import Signal, cache_headers, signal
from ..exchange import Probe, ProbeRequest, ProbeResponse
from ..identity import Identities
from .base import finding, step

MODE = (
    "no buster busts this endpoint, so this was tested read-only: the scanning principal"
    " cached only its own legitimate response (as any real user does) and the other"
    " callers read it; nothing attacker-controlled was sent"
)
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
    if identical(got, stored) and volatile(stored) and _per_principal(stored, a):
        return True, Confidence.MEDIUM, []
    return False, Confidence.LOW, []


def _others(ids: Identities, owner: str) -> list[str]:
    """Every principal ``owner`` has markers against."""
    return sorted({b for (a, b) in ids.of if a == owner})


def probe(ctx: ProbeContext, ids: Identities) -> Probe:
    """A twice, then every other caller once, all on the path-keyed entry."""
    a = ctx.primary
    readers = [c for c in ctx.creds if c is not a]
    first_req = ProbeRequest(ctx.url(), a)
    first = yield first_req
    again_req = ProbeRequest(ctx.url(), a)
    again = yield again_req
    stored = signal(again) is Signal.HIT or (identical(first, again) and volatile(first))
    if not (again.ok and stored):
        return []  # A's response is not (provably) stored: nothing to read, nothing sent
    out: list[Finding] = []
    unproved: list[str] = []
    for reader in [*readers, None]:
        req = ProbeRequest(ctx.url(), reader)
        got = yield req
        hit, confidence, marks = _leaked(got, again, a, reader, ids)
        if not hit:
            if got.ok and identical(got, again) and volatile(again):
                unproved.append(str(reader) if reader else "no key")
            continue
        cid, title = (
            ("anonymous-cache-leak", "An anonymous request got another key's cached response")
            if reader is None
            else ("cross-key-leak", "One key's cached response was served to another key")
        )
        out.append(
            finding(
                ctx,
                cid,
                Severity.CRITICAL,
                title,
                _FIX,
                cwe=524,
                confidence=confidence,
                evidence={
                    "buster": "none",
                    "mode": MODE,
                    "warmed_by": str(a),
                    "served_to": str(reader) if reader else "no key",
                    "served_status": got.status,
                    "markers": marks,
                    "byte_identical": identical(got, again),
                    "cache_headers": cache_headers(got),
                },
                steps=(
                    step(first_req, first),
                    step(again_req, again, " (stored)"),
                    step(req, got, f" ({a.name}'s body)"),
                ),
            )
        )
    if unproved:
        ctx.notes.append(
            f"{ctx.endpoint}: {a.name}'s stored response was served byte for byte to"
            f" {', '.join(unproved)}, but nothing shows it is {a.name}'s own data (no"
            " identity markers: add an endpoint whose buster works, such as a /me, to"
            " the scan; no private or Vary on the key header): check it by hand"
        )
    return out
