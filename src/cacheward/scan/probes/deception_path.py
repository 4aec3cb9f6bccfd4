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

A variant that returns the authenticated body is read, on the same busted URL, with no
key and with every other key; a reader served the victim's body is the finding.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ...core.finding import Finding, Severity
from ..compare import carries, identical, markers, same, volatile
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
    marks = markers(base_a, anon)
    path = urlsplit(ctx.endpoint.url).path or "/"

    def private(r: ProbeResponse) -> bool:
        return r.ok and (same(r, base_a) or carries(r, marks))

    tries: list[tuple[str, str, ProbeRequest, ProbeResponse]] = []
    honoured: list[str] = []
    for d in ORIGIN_DELIMITERS:
        req = ProbeRequest(_at(ctx.url(), f"{path}{d}{token()}.css"), a)
        got = yield req
        if private(got):
            honoured.append(d)
            tries.append((f"delimiter {d}", d, req, got))
    for label, variant in confusions(path, token()):
        req = ProbeRequest(_at(ctx.url(), variant), a)
        got = yield req
        if private(got):
            tries.append((label, variant, req, got))

    cache_cuts: list[str] = []
    if tries and volatile(base_a):  # only where a finding can follow: it is evidence
        u = ctx.url()
        warm = yield ProbeRequest(u, a)
        for d in CACHE_DELIMITERS:
            got = yield ProbeRequest(_at(u, f"{path}{d}{token()}"), a)
            if identical(got, warm):
                cache_cuts.append(d)

    readers: list[Credential | None] = [None, *[c for c in ctx.creds if c is not a]]
    for label, what, req, got in tries[:LEAK_CHECKS]:
        for reader in readers:
            own = ctx.baseline(reader)
            if same(own, base_a):
                continue
            rreq = ProbeRequest(req.url, reader)
            leaked = yield rreq
            if leaked.ok and (same(leaked, got) or carries(leaked, markers(base_a, own))):
                out: list[Finding] = [
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
                            "path": what,
                            "victim": str(a),
                            "served_to": str(reader) if reader else "no key",
                            "origin_delimiters": honoured,
                            "cache_delimiters": cache_cuts,
                        },
                        steps=(step(req, got), step(rreq, leaked, " (victim's body)")),
                    )
                ]
                return out
    return []
