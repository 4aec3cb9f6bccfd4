"""``method-override``: an override header turns a cached GET into another method.

Frameworks that honour ``X-HTTP-Method-Override`` and friends answer a GET as OPTIONS,
HEAD or POST, and a cache keyed on the GET stores that answer (an empty body, a 405)
for everyone: CPDoS. Only safe target methods are sent unless ``--aggressive``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...core.finding import Finding
from ..context import ProbeContext
from ..exchange import Probe, ProbeRequest
from ..poison import Candidate, confirmed
from .base import poisoning

HEADERS = ("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override")
SAFE_METHODS = ("OPTIONS", "HEAD")
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def probe(ctx: ProbeContext) -> Probe:
    """One header and method at a time (few candidates: no batching needed)."""
    if not ctx.authenticated:
        return []
    a = ctx.primary
    methods = SAFE_METHODS + (UNSAFE_METHODS if ctx.options.aggressive else ())

    def apply(group: Sequence[Candidate], url: str) -> ProbeRequest:
        return ProbeRequest(url, a, headers=tuple((c.name, c.value) for c in group))

    def report(cand: Candidate, ev: dict[str, Any]) -> Finding:
        return poisoning(
            ctx,
            "method-override",
            f"{cand.name}: {cand.value} changes a GET response that the cache then serves",
            f"Do not honour {cand.name} on GET/HEAD (or at all), or key the cache on it.",
            ev,
        )

    for header in HEADERS:
        for method in methods:
            cand = Candidate(header, method, f"\x00{method}")  # canary never reflected
            out = yield from confirmed(ctx, [cand], apply, report, limit=1)
            if out:
                return out
    return []
