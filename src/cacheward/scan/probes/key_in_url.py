"""``key-in-url``: the API accepts its key in the query string.

A key in a URL is written to access logs, proxy logs and browser history, leaks in
``Referer``, and becomes part of cache keys. The probe sends the primary key in common
query parameter names, with no header, on a fresh buster.
"""

from __future__ import annotations

from ...core.finding import Severity
from ..compare import carries, markers, same
from ..context import ProbeContext
from ..credential import Placement
from ..exchange import Probe, ProbeRequest
from .base import finding, step

NAMES = ("api_key", "apikey", "key", "access_token", "token", "api-key", "auth")


def probe(ctx: ProbeContext) -> Probe:
    """Stop at the first parameter name that authenticates."""
    a = ctx.primary
    base_a, anon = ctx.baseline(a), ctx.baseline(None)
    if not base_a.ok or anon.ok:
        return []
    marks = markers(base_a, anon)
    for name in dict.fromkeys((a.query, *NAMES)):
        req = ProbeRequest(ctx.url(), a, placement=Placement.QUERY, query_name=name)
        got = yield req
        if got.ok and (same(got, base_a) or carries(got, marks)):
            return [
                finding(
                    ctx,
                    "key-in-url",
                    Severity.MEDIUM,
                    f"The API accepts its key in the query string (?{name}=)",
                    "Accept keys only in a header (X-API-Key or Authorization: Bearer);"
                    " refuse query-string keys with 400 and strip them from logs and cache keys.",
                    cwe=598,
                    evidence={"parameter": name, "principal": str(a), "status": got.status},
                    steps=(step(req, got),),
                )
            ]
    return []
