"""``key-in-url``: the API accepts its key in the query string.

A key in a URL is written to access logs, proxy logs and browser history, leaks in
``Referer``, and becomes part of cache keys. Testing this necessarily puts a key in the
target's logs, so the probe uses the least-privileged key it has (a ``--low-key`` if
given), sends it under every common parameter name in *one* request, and only splits
the names up when that request authenticates.

Oracle: with the key in the query and no header, the response has that principal's own
status where it differs from the anonymous one (a 403 for a low key, not a 401), or
else repeats a value of its own baseline that the anonymous response lacks (never a
random number, a clock or the key echoed back: a public page that prints one accepts
nothing).
"""

from __future__ import annotations

from ...core.finding import Severity
from ..compare import same, values
from ..context import ProbeContext
from ..credential import Placement
from ..exchange import Probe, ProbeRequest, ProbeResponse
from .base import finding, step

NAMES = ("api_key", "apikey", "key", "access_token", "token", "api-key", "auth")


def probe(ctx: ProbeContext) -> Probe:
    """One request with every name; then one per name to say which."""
    low = [c for c in ctx.creds if c.low]
    cred = (low or [ctx.primary])[0]
    own, anon = ctx.baseline(cred), ctx.baseline(None)
    if same(own, anon):
        return []  # the endpoint cannot tell this key from no key
    names = tuple(dict.fromkeys((cred.query, *NAMES)))

    # Never the key itself: a page that echoes its request repeats it from the query too.
    mine = frozenset(v for v in values(own) if v not in anon.text and cred.key not in v)

    def accepted(resp: ProbeResponse) -> bool:
        if resp.status != own.status or same(resp, anon):
            return False
        if own.status != anon.status:
            return True
        return any(v in resp.text for v in mine & values(resp))

    def request(group: tuple[str, ...]) -> ProbeRequest:
        return ProbeRequest(ctx.url(), cred, placement=Placement.QUERY, query_names=group)

    batch = yield request(names)
    if not accepted(batch):
        return []
    for name in names:
        req = request((name,))
        got = yield req
        if accepted(got):
            return [
                finding(
                    ctx,
                    "key-in-url",
                    Severity.MEDIUM,
                    f"The API accepts its key in the query string (?{name}=)",
                    "Accept keys only in a header (X-API-Key or Authorization: Bearer);"
                    " refuse query-string keys with 400 and strip them from logs and cache keys.",
                    cwe=598,
                    evidence={"parameter": name, "principal": str(cred), "status": got.status},
                    steps=(step(req, got),),
                )
            ]
    return []
