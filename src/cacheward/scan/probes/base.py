"""What probes share: their type, the finding factory and step descriptions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ...core.finding import Confidence, Finding, Severity
from ..compare import values
from ..context import BusterState, ProbeContext
from ..credential import Credential
from ..exchange import Probe, ProbeRequest, ProbeResponse

#: A passive probe: reads the baselines, sends nothing.
Look = Callable[[ProbeContext], list[Finding]]


@dataclass(frozen=True)
class ProbeSpec:
    """A registered probe.

    ``run`` is an active probe (a generator that sends requests); ``look`` a passive one
    (a plain function of the baselines). Active probes send attack inputs and run only
    where a buster was shown to bust, unless ``unbusted`` (their every request goes to a
    fresh path of their own, never to the entry real users get).
    """

    name: str
    run: Callable[[ProbeContext], Probe] | None = None
    look: Look | None = None
    unbusted: bool = False

    @property
    def active(self) -> bool:
        return self.run is not None

    def runs(self, ctx: ProbeContext) -> bool:
        """Whether this probe may run on ``ctx``'s endpoint."""
        return not self.active or self.unbusted or ctx.buster is BusterState.WORKS


def who(req: ProbeRequest | Credential | None) -> str:
    """The redacted label of a request's principal (or of a principal): ``"no key"``
    for an anonymous one."""
    cred = req.cred if isinstance(req, ProbeRequest) else req
    return str(cred) if cred is not None else "no key"


#: The cross-key check ids and their titles (the one place they are spelt).
CROSS_KEY = "cross-key-leak"
ANONYMOUS = "anonymous-cache-leak"
AUTH_AFTER_CACHE = "auth-after-cache"
LEAK_TITLES = {
    CROSS_KEY: "One key's cached response was served to another key",
    ANONYMOUS: "An anonymous request got another key's cached response",
    AUTH_AFTER_CACHE: "A denied key got a cached response: the cache answers before authorization",
}


def leak_id(reader: Credential | None, denied: bool) -> str:
    """The id of a leak to ``reader``: with no key, to a key that is ``denied`` (its own
    response is a 4xx, or, where none could be fetched, it is a ``--low-key``), or to
    another allowed key."""
    if reader is None:
        return ANONYMOUS
    return AUTH_AFTER_CACHE if denied else CROSS_KEY


def redact_marker(value: str) -> str:
    """``alice@example.org`` -> ``al…rg (17 chars)``: enough to recognise, not to reuse
    (a marker may be a CSRF token or an account number)."""
    if len(value) <= 6:
        return f"… ({len(value)} chars)"
    return f"{value[:2]}…{value[-2:]} ({len(value)} chars)"


def redacted(markers: Iterable[str]) -> list[str]:
    """At most five markers, each redacted, for a finding's evidence."""
    return [redact_marker(m) for m in sorted(markers)[:5]]


def specific(ctx: ProbeContext, other: ProbeResponse) -> frozenset[str]:
    """The primary's own values that ``other`` does not carry. Own values are those its
    baseline and its response on the buster trial's other buster both carry, so a random
    number or a nonce (noise) is never one; whatever reads the clock never is either."""
    base = ctx.baseline(ctx.primary)
    mine = values(base)
    if ctx.echo is not None and ctx.echo.ok and ctx.echo is not base:
        mine &= values(ctx.echo)
    return frozenset(v for v in mine if v not in other.text)


def step(req: ProbeRequest, resp: ProbeResponse, extra: str = "") -> str:
    """One line of a finding's reproduction, credentials redacted."""
    added = "".join(f" [{k}: {v}]" for k, v in req.headers)
    body = f" [body {len(req.content)} bytes]" if req.content else ""
    via = f" (key in ?{'/'.join(req.query_names)})" if req.query_names else ""
    return f"{req.method} {req.url}{added}{body} as {who(req)}{via} -> {resp.status}{extra}"


def finding(
    ctx: ProbeContext,
    check_id: str,
    severity: Severity,
    title: str,
    remediation: str,
    *,
    cwe: int,
    evidence: Mapping[str, Any],
    steps: tuple[str, ...] = (),
    confidence: Confidence = Confidence.HIGH,
) -> Finding:
    """A finding located at the endpoint under test."""
    return Finding(
        id=check_id,
        severity=severity,
        title=title,
        remediation=remediation,
        confidence=confidence,
        cwe=cwe,
        method=ctx.endpoint.method,
        url=ctx.endpoint.url,
        evidence=dict(evidence),
        steps=steps,
    )


def leak(
    ctx: ProbeContext,
    check_id: str,
    remediation: str,
    *,
    evidence: Mapping[str, Any],
    steps: tuple[str, ...],
    confidence: Confidence = Confidence.HIGH,
) -> Finding:
    """A cross-key leak (one of :data:`LEAK_TITLES`): critical, CWE-863 when served
    before authorization, else CWE-524."""
    return finding(
        ctx,
        check_id,
        Severity.CRITICAL,
        LEAK_TITLES[check_id],
        remediation,
        cwe=863 if check_id == AUTH_AFTER_CACHE else 524,
        evidence=evidence,
        steps=steps,
        confidence=confidence,
    )


def poisoning(
    ctx: ProbeContext, check_id: str, title: str, remediation: str, evidence: dict[str, Any]
) -> Finding:
    """A confirmed poisoning (an input the cache key leaves out changed what it serves):
    high severity, CWE-349, the proof's steps taken out of ``evidence``."""
    steps = tuple(evidence.pop("steps"))
    return finding(
        ctx, check_id, Severity.HIGH, title, remediation, cwe=349, evidence=evidence, steps=steps
    )
