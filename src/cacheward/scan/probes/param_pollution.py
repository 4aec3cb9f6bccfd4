"""``param-pollution``: cache and origin read a repeated or encoded parameter differently.

A cache that normalizes the query for its key (keeps the first of repeated parameters,
decodes percent-escapes in names) in front of an origin that reads the *last*
occurrence (PHP, many routers, ``getlist()[-1]``) keys ``?lang=en&lang=CANARY`` as
``?lang=en``, while the origin answers in ``CANARY``. Three shapes (WCVS 2.0's
"parameter pollution" and "parameter encoding"), each with every influential
parameter at once:

* ``p=x&p=CANARY`` (cache keeps the first, origin reads the last);
* ``p=CANARY&p=x`` (the reverse);
* ``p=x&%70=CANARY`` (the cache decodes the name before deduplicating, the origin
  reads the encoded duplicate).

The clean request is ``p=x`` alone on the same buster; it must carry the canary back,
and a fresh buster must not. A parameter the cache leaves out of its key whatever its
shape (``p=CANARY`` alone poisons the bare URL) is ``unkeyed-param``'s, not reported here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import quote

from ...core.finding import Finding
from ..batch import Guess, confirm, guesses
from ..compare import reflects
from ..context import ProbeContext
from ..exchange import Probe, ProbeRequest
from ..influence import influential
from .base import poisoning


def _encoded(name: str) -> str:
    return "".join(f"%{ord(ch):02X}" for ch in name[:1]) + quote(name[1:])


Shape = Callable[[Guess], str]
SHAPES: tuple[tuple[str, Shape], ...] = (
    ("first kept, last read", lambda g: f"{quote(g.name)}=x&{quote(g.name)}={g.value}"),
    ("last kept, first read", lambda g: f"{quote(g.name)}={g.value}&{quote(g.name)}=x"),
    ("encoded duplicate", lambda g: f"{quote(g.name)}=x&{_encoded(g.name)}={g.value}"),
)


def probe(ctx: ProbeContext) -> Probe:
    """Each shape once with all parameters; confirm a reflected one alone."""
    if not ctx.authenticated:
        return []
    a = ctx.primary
    names = influential(ctx.endpoint.url)

    def plain(group: Sequence[Guess], url: str) -> ProbeRequest:
        return ProbeRequest(f"{url}&" + "&".join(f"{quote(g.name)}={g.value}" for g in group), a)
    for label, shape in SHAPES:

        def apply(group: Sequence[Guess], url: str, shape: Shape = shape) -> ProbeRequest:
            return ProbeRequest(f"{url}&" + "&".join(shape(g) for g in group), a)

        batch = guesses(names)
        resp = yield apply(batch, ctx.url())
        for g in [g for g in batch if reflects(resp, g.canary)][:2]:

            def clean(url: str, g: Guess = g) -> ProbeRequest:
                return ProbeRequest(f"{url}&{quote(g.name)}=x", a)

            ev = yield from confirm(ctx, g, apply, clean)
            if ev is None:
                continue
            alone = guesses([g.name])
            if (yield from confirm(ctx, alone[0], plain)) is not None:
                return []  # left out of the key whatever its shape: unkeyed-param's
            out: list[Finding] = [
                poisoning(
                    ctx,
                    "param-pollution",
                    f"Parameter {g.name} ({label}) poisons the entry of ?{g.name}=x",
                    "Key the cache on the raw query string, or make the origin refuse"
                    " repeated parameters (or read the same occurrence the cache keys on).",
                    {**ev, "shape": label},
                )
            ]
            return out
    return []
