"""``cache-deception-path``: the delimiters and path confusions of the papers.

``cache-deception`` tries the classic suffixes; this check adds what "Cached and
Confused" (Mirheidari et al., USENIX Security 2020), "Web Cache Deception Escalates!"
(2022) and "Gotta cache 'em all" (Doyhenard, Black Hat USA 2024) found behind the
encoded variants:

1. **Origin delimiters**, discovered one character at a time: ``/p<d>cwN.css`` for each
   candidate ``d`` (``%3F``, ``%00``, ``%0A``, ``%0D``, ``%09``, ``%20``, ``%5C``, ``!``,
   ``$``, ``'``, ``(``, ``)``, ``*``, ``+``, ``,``, ``:``, ``=``, ``@``, ``~``, ``|``,
   double-encoded ``%252F`` and ``%253F``). A ``d`` after which the origin still returns the
   authenticated body is one it honours (or ignores what follows).
2. **Cache delimiters**, where a variant returned the private body and the body carries
   a request id: after a warm read of the busted URL, ``/p<d>cwN`` on the same buster is
   a hit when the cache cuts the path at ``d``. Both lists are the finding's evidence.
3. **Path confusion**: the double-encoded traversal ``/p/%252e%252e/static/x.css`` a PyPI
   peer found, its single-encoded forms, static-directory prefixes the origin resolves
   away (``/static/..%2fp``) and static files reached by traversal
   (``/p/..%2f..%2frobots.txt``).

A variant that returns the victim's values (those its baseline repeats and no key gets:
never a random number, a clock, or a page everyone is served alike) is read, on the same
busted URL, with no key and with every other key, then each reader's own twin of it (the
same shape, a fresh name and buster): a reader served the victim's values that its own
twin does not carry is the finding.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ...core.finding import Severity
from ..compare import identical, same, values, volatile
from ..context import ProbeContext, token
from ..credential import Credential
from ..exchange import Probe, ProbeRequest, ProbeResponse
from .base import finding, step

ORIGIN_DELIMITERS = (
    "%3F", "%00", "%0A", "%0D", "%09", "%20", "%5C", "!", "$", "'", "(", ")", "*", "+",
    ",", ":", "=", "@", "~", "|", "%252F", "%253F",
)  # fmt: skip
CACHE_DELIMITERS = (";", "%3B", "%23", "%3F", "%00", "%0A", "%20", "!", "$", "@", "~")
LEAK_CHECKS = 4


def confusions(path: str, n: str) -> list[tuple[str, str]]:
    """``(label, path)`` of the path-confusion variants for ``path``."""
    rel = path.lstrip("/")
    depth = len([s for s in path.split("/") if s]) + 1
    return [
        ("double-encoded traversal", f"{path}/%252e%252e/static/{n}.css"),
        ("encoded traversal", f"{path}/%2e%2e/static/{n}.css"),
        ("encoded-slash traversal", f"{path}/..%2fstatic%2f{n}.css"),
        ("static directory", f"/static/..%2f{rel}"),
        ("static directory, encoded dots", f"/static/%2e%2e/{rel}"),
        ("assets directory", f"/assets/..%2f{rel}"),
        ("static file", f"{path}/{'..%2f' * depth}robots.txt"),
    ]


def _at(url: str, path: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, path, p.query, ""))


def probe(ctx: ProbeContext) -> Probe:
    """Discover delimiters, try the confusions, read what returns the private body."""
    a = ctx.primary
    base_a, anon = ctx.baseline(a), ctx.baseline(None)
    if not base_a.ok or same(anon, base_a):
        return []
    path = urlsplit(ctx.endpoint.url).path or "/"
    own = values(base_a)

    def private(r: ProbeResponse) -> frozenset[str]:
        """A's values on ``r``: what it repeats of A's baseline and no key gets (never a
        random number, a clock or a page everyone is served alike)."""
        if not r.ok:
            return frozenset()
        return frozenset(v for v in own & values(r) if v in r.text and v not in anon.text)

    tries: list[tuple[str, str, ProbeRequest, ProbeResponse, frozenset[str]]] = []
    honoured: list[str] = []
    for d in ORIGIN_DELIMITERS:
        req = ProbeRequest(_at(ctx.url(), f"{path}{d}{token()}.css"), a)
        got = yield req
        if shown := private(got):
            honoured.append(d)
            tries.append((f"delimiter {d}", f"{path}{d}{{n}}.css", req, got, shown))
    for i, (label, variant) in enumerate(confusions(path, "{n}")):
        req = ProbeRequest(_at(ctx.url(), confusions(path, token())[i][1]), a)
        got = yield req
        if shown := private(got):
            tries.append((label, variant, req, got, shown))

    cache_cuts: list[str] = []
    if tries and volatile(base_a):  # only where a finding can follow: it is evidence
        u = ctx.url()
        warm = yield ProbeRequest(u, a)
        for d in CACHE_DELIMITERS:
            got = yield ProbeRequest(_at(u, f"{path}{d}{token()}"), a)
            if identical(got, warm):
                cache_cuts.append(d)

    readers: list[Credential | None] = [None, *[c for c in ctx.creds if c is not a]]
    for label, shape, req, got, shown in tries[:LEAK_CHECKS]:
        for reader in readers:
            rreq = ProbeRequest(req.url, reader)
            leaked = yield rreq
            if not leaked.ok or not any(v in leaked.text for v in shown):
                continue
            # The reader's own twin (same shape, fresh name and buster): what it gets
            # without A's entry. Values it carries too are not A's to leak.
            twin_req = ProbeRequest(_at(ctx.url(), shape.replace("{n}", token())), reader)
            twin = yield twin_req
            secret = sorted(v for v in shown if v in leaked.text and v not in twin.text)
            if not secret:
                continue
            return [
                finding(
                    ctx,
                    "cache-deception-path",
                    Severity.HIGH,
                    f"Path confusion ({label}) returns the authenticated body and the"
                    " cache serves it to others",
                    "Route strictly (404 for anything after the path, no decoding of %2F"
                    " or dot segments the cache does not do the same way), and send"
                    " Cache-Control: private or no-store on every authenticated response"
                    " so static-file rules cannot store it.",
                    cwe=524,
                    evidence={
                        "variant": label,
                        "path": urlsplit(req.url).path,
                        "victim": str(a),
                        "served_to": str(reader) if reader else "no key",
                        "values_leaked": len(secret),
                        "origin_delimiters": honoured,
                        "cache_delimiters": cache_cuts,
                    },
                    steps=(
                        step(req, got),
                        step(rreq, leaked, " (victim's values)"),
                        step(twin_req, twin, " (the reader's own)"),
                    ),
                )
            ]
    return []
