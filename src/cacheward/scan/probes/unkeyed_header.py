"""``unkeyed-header``: a request header changes the response but not the cache key.

The wordlist holds the headers most often left out of cache keys, after Param Miner and
Hackmanit's Web-Cache-Vulnerability-Scanner; method-override headers are the
``method-override`` probe's, and the credential header is never touched. Cookies are
inputs too (caches rarely key on them): the ones the endpoint sets itself and a few
common ones, all in the one ``Cookie`` header, never one that may hold a session.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ...core.finding import Finding
from ..context import ProbeContext
from ..exchange import Probe, ProbeRequest
from ..poison import Candidate, candidates, found_and_confirmed
from .base import poisoning

#: Header → value template (``{c}`` is the canary).
WORDLIST: dict[str, str] = {
    "X-Forwarded-Host": "{c}.example",
    "X-Host": "{c}.example",
    "X-Forwarded-Server": "{c}.example",
    "X-Original-Host": "{c}.example",
    "X-HTTP-Host-Override": "{c}.example",
    "Forwarded": "host={c}.example;proto=http",
    "X-Forwarded-Scheme": "http",
    "X-Forwarded-Proto": "http",
    "X-Forwarded-Port": "1337",
    "X-Forwarded-SSL": "off",
    "Front-End-Https": "off",
    "X-Url-Scheme": "http",
    "X-Forwarded-Prefix": "/{c}",
    "X-Forwarded-Path": "/{c}",
    "X-Original-URL": "/{c}",
    "X-Rewrite-URL": "/{c}",
    "X-Forwarded-For": "{c}.example",
    "X-Real-IP": "127.0.0.2",
    "X-Client-IP": "127.0.0.2",
    "True-Client-IP": "127.0.0.2",
    "X-Originating-IP": "127.0.0.2",
    "X-Remote-Addr": "127.0.0.2",
    "Origin": "https://{c}.example",
    "X-Api-Version": "{c}",
    "Accept-Version": "{c}",
    "X-Device": "{c}",
    "X-Country-Code": "{c}",
    "X-Locale": "{c}",
    "X-Wap-Profile": "https://{c}.example/x.xml",
    "X-Timezone": "{c}",
    "X-Tenant": "{c}",
    "X-Debug": "1",
}


#: Cookies tried as unkeyed inputs besides those the endpoint sets itself.
COOKIES = ("lang", "language", "locale", "currency", "theme", "country", "region")
#: Cookie names never touched: they may carry the session or the credential.
_PRIVATE_COOKIE = re.compile(r"sess|auth|token|csrf|xsrf|sid|key|login|jwt", re.IGNORECASE)
_COOKIE = "Cookie:"


def cookie_names(ctx: ProbeContext) -> list[str]:
    """The endpoint's own ``Set-Cookie`` names (from any baseline), then :data:`COOKIES`;
    never one that may carry the session or the credential."""
    own = [
        part.split("=", 1)[0].strip()
        for resp in ctx.baselines.values()
        for part in resp.header("set-cookie").split(",")
        if "=" in part.split(";", 1)[0]
    ]
    names = dict.fromkeys([*own, *COOKIES])
    return [n for n in names if n and n.isascii() and not _PRIVATE_COOKIE.search(n)]


def _apply(group: Sequence[Candidate], url: str, ctx: ProbeContext) -> ProbeRequest:
    """The group's headers; cookie candidates joined into the one ``Cookie`` header."""
    headers = [(c.name, c.value) for c in group if not c.name.startswith(_COOKIE)]
    cookies = [f"{c.name[len(_COOKIE) :]}={c.value}" for c in group if c.name.startswith(_COOKIE)]
    if cookies:
        headers.append(("Cookie", "; ".join(cookies)))
    return ProbeRequest(url, ctx.primary, headers=tuple(headers))


def probe(ctx: ProbeContext) -> Probe:
    """Batch, bisect, confirm: the header wordlist, then cookies the endpoint may read."""
    if not ctx.authenticated:
        return []
    skip = {(c.credential_header or "").lower() for c in ctx.creds}
    names = [h for h in WORDLIST if h.lower() not in skip]
    cands = candidates(names, lambda n, c: WORDLIST[n].format(c=c))
    if "cookie" not in skip:
        cands += candidates([_COOKIE + n for n in cookie_names(ctx)], lambda n, c: c)

    def apply(group: Sequence[Candidate], url: str) -> ProbeRequest:
        return _apply(group, url, ctx)

    def report(cand: Candidate, ev: dict[str, Any]) -> Finding:
        if cand.name.startswith(_COOKIE):
            cookie = cand.name[len(_COOKIE) :]
            return poisoning(
                ctx,
                "unkeyed-header",
                f"Unkeyed cookie {cookie} poisons the cached response",
                f"Key the cache on the {cookie} cookie (or stop the application reading"
                " it), or never cache responses that depend on cookies.",
                {**ev, "cookie": cookie},
            )
        return poisoning(
            ctx,
            "unkeyed-header",
            f"Unkeyed header {cand.name} poisons the cached response",
            f"Add {cand.name} to the cache key (Vary: {cand.name}) or stop the application"
            " reading it; trust X-Forwarded-* only from a configured proxy.",
            ev,
        )

    return (yield from found_and_confirmed(ctx, cands, apply, report))
