"""Freshness evidence: what shows that a response was made for the request that got it.

A front cache that reports a miss on a fresh buster shows the request passed *that*
cache, not that the origin answered anew: an application cache keyed on the path alone
(Flask-Caching's default key, a ``functools.lru_cache``'d renderer, a CDN rule that drops
the query) may sit behind it and serve one principal's stored body to everyone. So a
baseline counts as fresh only on evidence from the response itself, judged against the
earlier responses to the same resource:

* ``new body``: its body is byte-different from every earlier one (a request id, a
  timestamp or the principal's own data: something answered anew, or it is not a copy
  of anything this scan has seen);
* ``buster echoed``: the request's buster value comes back in the body or in a header
  the origin writes about the URL (``Link``, ``Content-Location``, ``Location``): a
  self link, a canonical URL, pagination;
* ``headers changed``: a header a store keeps with the body (``ETag``,
  ``Last-Modified``, ``Expires``, ``Set-Cookie``) differs from the identical earlier
  response's (a new session cookie, a new validator);
* ``timing``: the ``hidden-cache`` probe timed a fresh buster as a miss and the same URL
  again as a hit (set by the engine from its verdict).

Evidence of the opposite, that a store answered although the front says miss
(:func:`stored_behind`): another cache on the path says hit (a second ``X-Cache``, an
``X-Rack-Cache``, a ``Cache-Status`` member), ``Age`` above zero, or the dates an
application cache stamps when it stores (``Expires`` minus ``max-age``, Django's cache
middleware) lie at least :data:`SKEW_S` seconds before ``Date``.

Headers a front cache adds per request (``X-Varnish`` ids, an nginx ``$request_id``)
are never evidence: the front writes them on a response it did not make.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.utils import parsedate_to_datetime

from .cachecontrol import directives
from .compare import identical
from .context import ProbeContext
from .exchange import ProbeResponse

#: Headers that name the URL the origin answered: an echoed buster here is the origin's.
_URL_HEADERS = ("link", "content-location", "location")
#: Headers a store keeps with the body: a change shows the origin made a new response.
_KEPT_HEADERS = ("etag", "last-modified", "expires", "set-cookie")
_HIT = re.compile(r"\bhit\b|\bfresh\b|\bstale\b", re.IGNORECASE)
#: Status headers an application cache (not the front) writes.
_LAYER_HEADERS = (
    "x-cache",
    "x-cache-status",
    "x-rack-cache",
    "x-symfony-cache",
    "x-drupal-cache",
    "x-django-cache",
    "x-proxy-cache",
)
#: How far before ``Date`` an application cache's stamp must lie to count (clock skew
#: between a front and an origin on one host is well under a second; ``Date`` has
#: one-second resolution).
SKEW_S = 2

NEW = "new body"
ECHO = "buster echoed"
HEADERS = "headers changed"
TIMING = "timing"


def echoed(resp: ProbeResponse, token: str) -> bool:
    """Whether ``token`` (a request's buster value) comes back from the origin."""
    if not token:
        return False
    return token in resp.text or any(token in resp.header(h) for h in _URL_HEADERS)


def evidence(resp: ProbeResponse, token: str, earlier: Iterable[ProbeResponse]) -> str | None:
    """Why ``resp`` (sent with buster ``token``) was made for its request, or ``None``
    when nothing shows it is not a copy of one of the ``earlier`` responses."""
    if echoed(resp, token):
        return ECHO
    copies = [e for e in earlier if identical(resp, e)]
    if not copies:
        return NEW
    if all(any(resp.header(h) != e.header(h) for h in _KEPT_HEADERS) for e in copies):
        return HEADERS
    return None


def _layer_hit(resp: ProbeResponse) -> bool:
    """Another cache on the path says it answered from its store."""
    for name in _LAYER_HEADERS:
        for part in resp.header(name).split(","):
            if _HIT.search(part):
                return True
    return False


def _stamped_earlier(resp: ProbeResponse) -> bool:
    """``Expires`` minus ``max-age`` (when an application cache stamped the response)
    lies :data:`SKEW_S` seconds or more before ``Date``."""
    age = directives(resp).get("max-age", "")
    if not age.isdigit() or not resp.header("expires") or not resp.header("date"):
        return False
    try:
        expires = parsedate_to_datetime(resp.header("expires")).timestamp()
        date = parsedate_to_datetime(resp.header("date")).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    if expires <= date:
        return False  # a sentinel in the past ("already expired"), not a stamp
    return expires - int(age) <= date - SKEW_S


def stored_behind(resp: ProbeResponse) -> bool:
    """Whether ``resp``, on a buster the front reports as a miss, was nevertheless
    served from a store behind it."""
    age = resp.header("age")
    return _layer_hit(resp) or (age.isdigit() and int(age) > 0) or _stamped_earlier(resp)


def unshown(ctx: ProbeContext) -> list[str]:
    """The other keys (``--low-key`` ones included) whose 2xx baseline is the primary's
    byte for byte with nothing showing it was made for them; empty unless that holds for
    every other key (then a page every key may see cannot be told from one principal's
    response that a cache behind the cache, out of the buster's reach, serves to all)."""
    a = ctx.primary
    base = ctx.baselines.get(a.name)
    others = [c.name for c in ctx.creds if c is not a and not c.keyless]
    if base is None or not base.ok or not others:
        return []
    for name in others:
        got = ctx.baselines.get(name)
        if got is None or not identical(got, base) or name in ctx.fresh:
            return []
    return others


def unshown_note(ctx: ProbeContext, readers: list[str]) -> str:
    """Why the endpoint is inconclusive, and what to pass."""
    return (
        f"{ctx.endpoint}: every key ({ctx.primary.name}, {', '.join(readers)}) got the same"
        " body byte for byte, and nothing shows it was made for the request (no value that"
        " changes per request, no buster echoed, no new validator or cookie): a page every"
        " key may see, or one principal's response that a cache behind the cache (keyed on"
        " the path, out of the buster's reach) serves to all; cross-key leakage"
        " inconclusive: say whose data it would be with --whoami URL or --identity"
        " NAME=VALUE, or let the scan wait the entry out with --wait-ttl SECONDS"
    )
