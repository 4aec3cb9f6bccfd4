"""What tells one principal's data from another's, learned across a whole scan.

On every endpoint whose buster works, each principal's baseline is its own fresh
response. Where two allowed principals both get a 2xx and the bodies differ, the values
only one of them carries (its id, e-mail, account number) are *identity markers*.
Markers that recur on several endpoints are kept (one endpoint alone is enough when it
is the only one): they are what proves, on an endpoint no buster can reach, that a
response served to B carries A's data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from .compare import markers, same
from .context import BusterState, ProbeContext

Pair = tuple[str, str]


@dataclass(frozen=True)
class Identities:
    """``of[(a, b)]``: values in ``a``'s responses that ``b``'s never carry."""

    of: dict[Pair, frozenset[str]] = field(default_factory=dict)
    #: principals seen with a 2xx somewhere (their keys are known to be valid)
    valid: frozenset[str] = frozenset()

    def markers(self, owner: str, other: str) -> frozenset[str]:
        return self.of.get((owner, other), frozenset())


def learn(contexts: Iterable[ProbeContext]) -> Identities:
    """Identity markers from the baselines of every endpoint whose buster works."""
    seen: dict[Pair, Counter[str]] = {}
    sources: Counter[Pair] = Counter()
    valid: set[str] = set()
    for ctx in contexts:
        if ctx.buster is not BusterState.WORKS:
            continue
        allowed = [c for c in ctx.victims if ctx.baseline(c).ok]
        valid.update(c.name for c in allowed)
        for a in allowed:
            for b in allowed:
                ra, rb = ctx.baseline(a), ctx.baseline(b)
                if a is b or same(ra, rb):
                    continue
                sources[(a.name, b.name)] += 1
                seen.setdefault((a.name, b.name), Counter()).update(markers(ra, rb))
    of: dict[Pair, frozenset[str]] = {}
    for pair, counts in seen.items():
        floor = 2 if sources[pair] > 1 else 1
        kept = frozenset(m for m, n in counts.items() if n >= floor)
        if kept:
            of[pair] = kept
    return Identities(of, frozenset(valid))
