"""What probes share: their type, the finding factory and step descriptions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...core.finding import Confidence, Finding, Severity
from ..context import ProbeContext
from ..exchange import Probe, ProbeRequest, ProbeResponse


@dataclass(frozen=True)
class ProbeSpec:
    """A registered probe: ``active`` ones send attack inputs and need a working buster."""

    name: str
    run: Callable[[ProbeContext], Probe]
    active: bool = True


def who(req: ProbeRequest) -> str:
    return str(req.cred) if req.cred is not None else "no key"


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


def poisoning(
    ctx: ProbeContext, check_id: str, title: str, remediation: str, evidence: dict[str, Any]
) -> Finding:
    """A confirmed poisoning (an input the cache key leaves out changed what it serves):
    high severity, CWE-349, the proof's steps taken out of ``evidence``."""
    steps = tuple(evidence.pop("steps"))
    return finding(
        ctx, check_id, Severity.HIGH, title, remediation, cwe=349, evidence=evidence, steps=steps
    )
