"""``duplicate-host``: a second ``Host`` field, which the cache and the origin read apart.

RFC 9112 section 3.2 tells a server to answer a request with more than one ``Host`` with
400, and nginx, Varnish and gunicorn do. Where something in the chain does not, the two
sides may take different ones: a cache keys on the first ``Host`` (the one it routes by),
while the origin reads the last, or all of them joined (Werkzeug's development server and
older gunicorn join repeated fields with ``,``; ``request.headers["Host"]`` is then
``api.example.com,evil.example``). Links, redirects and CORS answers built from it are
then stored under the real site's key.

Tried, each on a fresh buster, confirmed by a clean request (one ``Host``) that must carry
the canary back and by a clean request on another buster that must not:

* ``Host: <the endpoint's host>`` then ``Host: <canary>.example``;
* the same with the second field spelt ``host``: a cache that compares field names
  case-sensitively sees one ``Host`` and an unknown ``host``, the origin two.

h11 refuses to send either, so these requests are ``raw``: :mod:`~cacheward.scan.raw`
writes them on a socket of its own, with the scan's budget, rate and timeout. Through an
in-process transport they cannot be sent: the probe does not run, and one note in the
report says so (it is not a gap: nothing an endpoint answered was left unjudged).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from ..batch import Guess, confirm, guesses
from ..context import ProbeContext
from ..exchange import Probe, ProbeRequest
from .base import poisoning

#: The second field's spelling, and what the evidence calls it.
VARIANTS = (("Host", "a second Host field"), ("host", "a second Host field spelt host"))
REMEDIATION = (
    "Refuse a request with more than one Host with 400 (RFC 9112 section 3.2), as nginx,"
    " Varnish and gunicorn do, at the first server that parses it; key the cache on the"
    " Host the origin reads, and build absolute URLs from a configured server name."
)


def probe(ctx: ProbeContext) -> Probe:
    """A second Host field (the canary), then the same spelt ``host``."""
    if not ctx.options.raw or not ctx.authenticated or ctx.carrier.name.lower() == "host":
        return []  # cannot be sent (a note says so); nothing to poison; or the buster is Host
    a = ctx.primary
    netloc = urlsplit(ctx.endpoint.url).netloc.rpartition("@")[2]
    for name, label in VARIANTS:
        guess: Guess = guesses([name], lambda c: f"{c}.example")[0]

        def twice(group: Sequence[Guess], url: str) -> ProbeRequest:
            second = tuple((g.name, g.value) for g in group)
            return ProbeRequest(url, a, headers=(("Host", netloc), *second), raw=True)

        ev = yield from confirm(ctx, guess, twice)
        if ev is not None:
            ev["variant"] = label
            title = "A second Host header poisons the cached response"
            return [poisoning(ctx, "duplicate-host", title, REMEDIATION, ev)]
    return []
