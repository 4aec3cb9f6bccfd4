"""What tells one principal's data from another's, learned across a whole scan.

Every response of the scan is recorded (:class:`~cacheward.scan.oracle.Oracle` taps the
sender). Wherever two principals were answered 2xx on the same resource (the endpoint's
method, path and query, the buster left out) with bodies that differ, the values only
one of them carries (its id, e-mail, account number, a per-session CSRF token) are its
*identity markers* against the other. Three rules keep noise out:

* a response carries the data of whoever got the first response it is the same as on
  that resource (it may be that one's stored copy); only a principal's responses that
  carry its own data teach its markers;
* a value must come back in two of the principal's own responses that are independent:
  on two different busters where the buster was shown to bust, else in two
  byte-different bodies. A random number, a per-response nonce or a second-resolution
  date never does; whatever reads the clock is dropped outright;
* a value any of the other principal's own responses carries is never its marker.

Values the user states (``--identity alice=alice@example.org``) or that a ``--whoami``
URL returns for one principal only are markers from the start, no repetition needed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .compare import same, values
from .exchange import ProbeResponse

Pair = tuple[str, str | None]


@dataclass(frozen=True)
class Identities:
    """``of[(a, b)]``: values in ``a``'s responses that ``b``'s never carry (``b`` is
    ``None`` for a caller with no valid key)."""

    of: dict[Pair, frozenset[str]] = field(default_factory=dict)
    #: principals seen with a 2xx somewhere (their keys are known to be valid)
    valid: frozenset[str] = frozenset()

    def markers(self, owner: str, other: str | None) -> frozenset[str]:
        return self.of.get((owner, other), frozenset())

    def owned(self, owner: str) -> frozenset[str]:
        """Every marker ``owner`` has against anyone."""
        out: set[str] = set()
        for (a, _), marks in self.of.items():
            if a == owner:
                out |= marks
        return frozenset(out)


@dataclass(frozen=True)
class Sample:
    """One response as the oracle learns from it.

    :param who: the principal's name, ``None`` for no key (or a key no principal holds).
    :param resource: method, path and query of the request, the buster left out.
    :param instance: what makes two samples independent (the buster where it busts,
        else the body's digest).
    :param n: the order the response arrived in.
    """

    who: str | None
    resource: str
    instance: str
    n: int
    resp: ProbeResponse
    #: :func:`~cacheward.scan.compare.fingerprint` of ``resp`` (what ``same`` compares)
    key: str = ""

    def like(self, other: Sample) -> bool:
        """The same response as ``other`` (:func:`~cacheward.scan.compare.same`)."""
        if self.key and other.key:
            return self.key == other.key
        return same(self.resp, other.resp)


def instance_of(resp: ProbeResponse, buster: str, busts: bool, epoch: int = 0) -> str:
    """The independence token of a response: its buster if busters bust, else its body
    (and the epoch: a response after the TTL was waited out is a new one)."""
    if busts and buster:
        return f"b:{buster}"
    return f"d{epoch}:" + hashlib.sha256(resp.body).hexdigest()[:16]


def _origins(group: Sequence[Sample]) -> dict[int, str | None]:
    """Whose data each sample carries, in arrival order: that of the earliest sample it
    is the same as (a copy of it, or the same thing again), else its own principal's."""
    origin: dict[int, str | None] = {}
    first: dict[str, str | None] = {}
    done: list[Sample] = []
    for s in sorted(group, key=lambda s: s.n):
        if s.key:
            origin[s.n] = first.setdefault(s.key, s.who)
            continue
        prior = next((t for t in done if t.like(s)), None)
        origin[s.n] = origin[prior.n] if prior is not None else s.who
        done.append(s)
    return origin


def learn(
    samples: Iterable[Sample],
    principals: Sequence[str],
    stated: Mapping[str, Iterable[str]] | None = None,
) -> Identities:
    """The markers of every principal against every other (and against no key)."""
    by_resource: dict[str, list[Sample]] = {}
    for s in samples:
        if s.resp.ok:
            by_resource.setdefault(s.resource, []).append(s)
    seen: dict[Pair, dict[str, set[str]]] = {}
    own_texts: dict[str | None, list[str]] = {}
    valid: set[str] = set()
    for group in by_resource.values():
        origin = _origins(group)
        names = list(dict.fromkeys(s.who for s in group))
        valid.update(n for n in names if n is not None)
        for a in names:
            if a is None:
                continue
            for b in names:
                if b == a:
                    continue
                _compare(group, origin, a, b, seen, own_texts)
    of: dict[Pair, frozenset[str]] = {}
    for pair, insts in seen.items():
        texts = own_texts.get(pair[1], [])
        kept = frozenset(
            v for v, where in insts.items() if len(where) >= 2 and not any(v in t for t in texts)
        )
        if kept:
            of[pair] = kept
    for a, vals in (stated or {}).items():
        given = frozenset(v for v in vals if v)
        others = [p for p in principals if p != a]
        for b in [*others, None]:
            theirs = frozenset((stated or {}).get(b, ())) if b is not None else frozenset()
            if given - theirs:
                of[(a, b)] = of.get((a, b), frozenset()) | (given - theirs)
    return Identities(of, frozenset(valid))


def _compare(
    group: Sequence[Sample],
    origin: Mapping[int, str | None],
    a: str,
    b: str | None,
    seen: dict[Pair, dict[str, set[str]]],
    own_texts: dict[str | None, list[str]],
) -> None:
    mine_own = [s for s in group if s.who == a and origin[s.n] == a]
    theirs_own = [s for s in group if s.who == b and origin[s.n] == b]
    if not mine_own or not theirs_own:
        return
    if all(s.like(t) for s in mine_own for t in theirs_own):
        return  # they legitimately see the same thing here
    own_texts.setdefault(b, []).extend(t.resp.text for t in theirs_own)
    their_values = frozenset().union(*(values(t.resp) for t in theirs_own))
    insts = seen.setdefault((a, b), {})
    for s in mine_own:
        for v in values(s.resp) - their_values:
            if not any(v in t.resp.text for t in theirs_own):
                insts.setdefault(v, set()).add(s.instance)


def whoami_values(
    answers: Mapping[str | None, ProbeResponse],
) -> dict[str, frozenset[str]]:
    """What a "who am I" URL returned for each principal and for nobody else."""
    out: dict[str, frozenset[str]] = {}
    for a, resp in answers.items():
        if a is None or not resp.ok:
            continue
        others = [r for b, r in answers.items() if b != a]
        rest = frozenset().union(*(values(r) for r in others)) if others else frozenset()
        mine = frozenset(v for v in values(resp) - rest if not any(v in r.text for r in others))
        if mine:
            out[a] = mine
    return out
