"""``fat-get``: parameters in the body of a GET change a response keyed without them.

Caches key a GET on its URL; an application that reads ``request.values`` or a JSON
body on GET lets one request store a response every clean GET then receives.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from ...core.finding import Finding
from ..context import ProbeContext
from ..exchange import Probe, ProbeRequest
from ..influence import influential
from ..poison import Candidate, bisect, candidates, confirmed
from .base import poisoning

Encoder = Callable[[Sequence[Candidate]], str]


def _form(group: Sequence[Candidate]) -> str:
    return urlencode([(c.name, c.value) for c in group])


def _json(group: Sequence[Candidate]) -> str:
    return json.dumps({c.name: c.value for c in group})


_FORMS: tuple[tuple[str, Encoder], ...] = (
    ("application/x-www-form-urlencoded", _form),
    ("application/json", _json),
)


def probe(ctx: ProbeContext) -> Probe:
    """Send candidates in a GET body (form, then JSON); confirm with a bodiless GET."""
    if not ctx.authenticated:
        return []
    a = ctx.primary
    for ctype, encode in _FORMS:
        cands = candidates(influential(ctx.endpoint.url), lambda n, c: c)

        def apply(
            group: Sequence[Candidate], url: str, ctype: str = ctype, encode: Encoder = encode
        ) -> ProbeRequest:
            body = encode(group).encode()
            return ProbeRequest(url, a, headers=(("Content-Type", ctype),), content=body)

        def report(cand: Candidate, ev: dict[str, Any], ctype: str = ctype) -> Finding:
            return poisoning(
                ctx,
                "fat-get",
                f"A GET body parameter ({cand.name}, {ctype}) poisons the cached response",
                "Ignore request bodies on GET and HEAD (read request.args, not"
                " request.values or get_json()), or refuse GETs that carry a body.",
                {**ev, "content_type": ctype},
            )

        found = yield from bisect(ctx, cands, apply, reflect_only=True)
        out = yield from confirmed(ctx, found, apply, report, limit=2, first=True)
        if out:
            return out
    return []
