"""``path-normalization``: the cache normalizes a path the origin does not.

A cache that folds ``/A`` into ``/a``, drops a trailing ``/``, collapses ``//``, or
decodes ``%61``, ``%2F`` or ``%2e`` before it builds the key, in front of an origin that
routes those paths differently (a 404, a redirect, another page), stores the origin's
answer to the variant under the canonical path's key: one request replaces the page
for everyone (Param Miner's "normalization" checks; Doyhenard, "Gotta cache 'em all",
Black Hat USA 2024). Each variant goes out on a fresh buster; one the origin answers
differently from the baseline is confirmed when a clean request for the canonical path
on the same buster returns that stored response (byte for byte when it carries a
request id or timestamp, else the same status and body), and a fresh buster does not.
A variant the origin answers like the canonical path is harmless and skipped.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ...core.finding import Finding
from ..compare import identical, same, volatile
from ..context import ProbeContext
from ..exchange import Probe, ProbeRequest, ProbeResponse
from .base import poisoning, step


def variants(path: str) -> list[tuple[str, str]]:
    """``(label, variant path)`` pairs for ``path`` (those that differ from it)."""
    head, _, last = path.rstrip("/").rpartition("/")
    out: list[tuple[str, str]] = []
    if any(c.isalpha() for c in last):
        out.append(("letter case", f"{head}/{last.swapcase()}"))
    out.append(
        ("trailing slash", path[:-1] if path.endswith("/") and len(path) > 1 else path + "/")
    )
    out.append(("double slash", "/" + path))
    if last and last[-1].isalnum():
        c = ord(last[-1])
        out.append(("percent-encoded character", f"{head}/{last[:-1]}%{c:02X}"))
        if f"{c:02X}" != f"{c:02x}":
            out.append(("lower-case percent-encoding", f"{head}/{last[:-1]}%{c:02x}"))
    if head:
        out.append(("encoded slash", f"{head}%2F{last}"))
        out.append(("encoded dot segment", f"{head}/%2e/{last}"))
    return [(label, v) for label, v in out if v != path]


def _at(url: str, path: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, path, p.query, ""))


def _stored(got: ProbeResponse, poisoned: ProbeResponse) -> bool:
    return identical(got, poisoned) if volatile(poisoned) else same(got, poisoned)


def probe(ctx: ProbeContext) -> Probe:
    """Each variant; one the origin answers differently is checked against the key."""
    if not ctx.authenticated:
        return []
    a = ctx.primary
    base = ctx.baseline(a)
    path = urlsplit(ctx.endpoint.url).path or "/"
    for label, variant in variants(path):
        u = ctx.url()
        vreq = ProbeRequest(_at(u, variant), a)
        rv = yield vreq
        if same(rv, base):
            continue  # the origin normalizes too: nothing to poison
        creq = ProbeRequest(u, a)
        rc = yield creq
        if same(rc, base) or not _stored(rc, rv):
            continue
        freq = ProbeRequest(ctx.url(), a)
        rf = yield freq
        if not same(rf, base):
            continue
        out: list[Finding] = [
            poisoning(
                ctx,
                "path-normalization",
                f"The cache keys the {label} variant {variant!r} as {path!r}; its"
                f" {rv.status} response replaces the page",
                "Key the cache on the path exactly as the origin routes it (no case folding,"
                " slash or percent-decoding the origin does not do), or make the origin"
                " normalize the same way (redirect variants to the canonical path with a"
                " response the cache does not store).",
                {
                    "variant": label,
                    "variant_path": variant,
                    "poisoned_status": rv.status,
                    "clean_status": rc.status,
                    "baseline_status": base.status,
                    "steps": (
                        step(vreq, rv),
                        step(creq, rc, " (variant's response served for the canonical path)"),
                        step(freq, rf),
                    ),
                },
            )
        ]
        return out
    return []
