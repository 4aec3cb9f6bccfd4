"""``cpdos``: one request makes the origin fail, and the cache serves that error to everyone.

Cache-Poisoned Denial of Service (Nguyen et al., "Your Cache Has Fallen", CCS 2019, and
WCVS 2.0's CPDoS checks). The cache forwards a request it finds harmless; the origin
refuses it; the cache stores the refusal under the URL's key. Variants, each sent alone
on a fresh buster as the primary key:

* **HHO**, HTTP header oversize: one header of 4, 8 and 16 KB (origins refuse far
  smaller headers than caches: gunicorn 8 KB per field, a public lab 1,500 bytes).
* **HMC**, HTTP meta characters: header values carrying ``\\n``, ``\\r``, ``\\a``, ``\\0``,
  ``\\b``, ``\\e``, ``\\v``, ``\\f`` as the origin sees them (the raw control bytes
  themselves never leave the client: h11 refuses to send them, as RFC 9110 requires).
* **Origin errors** from fields a GET may carry: an unsatisfiable ``Range``, an
  ``Upgrade`` the origin does not speak, a ``Content-Type`` it refuses, an unknown
  ``TE`` and ``Max-Forwards: 0``.

(Method override, the third CPDoS class of the paper, is the ``method-override`` check.)
A variant whose response is an error (status >= 400 where the baseline is a 2xx) is
confirmed like every poisoning here: a clean GET on the same buster must return that
stored error (byte for byte when it carries a request id or timestamp, else the same
status and body), and a clean GET on a fresh buster must not.
"""

from __future__ import annotations

from dataclasses import replace

from ...core.finding import Finding
from ..compare import identical, same, volatile
from ..context import ProbeContext
from ..exchange import Probe, ProbeRequest, ProbeResponse
from .base import poisoning, step

Variant = tuple[str, tuple[tuple[str, str], ...]]

HHO: tuple[Variant, ...] = tuple(
    (f"HHO {kb} KB header", (("X-Oversized-Header", "x" * (kb * 1024)),)) for kb in (4, 8, 16)
)
#: The backslash sequences CPDoS scanners send, as two characters each.
META = ("\\n", "\\r", "\\a", "\\0", "\\b", "\\e", "\\v", "\\f", "\\u0000")
HMC: tuple[Variant, ...] = (
    ("HMC meta characters", tuple((f"X-Metachar-{i}", m) for i, m in enumerate(META))),
)
ERRORS: tuple[Variant, ...] = (
    ("Range unsatisfiable", (("Range", "bytes=99999999-99999999"),)),
    ("Range malformed", (("Range", "bytes=cw-invalid"),)),
    ("Upgrade", (("Upgrade", "cw-unknown/1.0"),)),
    ("Content-Type", (("Content-Type", "cw/invalid; charset=cw"),)),
    ("TE", (("TE", "cw-unknown"),)),
    ("Max-Forwards", (("Max-Forwards", "0"),)),
)
VARIANTS = HHO + HMC + ERRORS


def _stored(got: ProbeResponse, poisoned: ProbeResponse) -> bool:
    if volatile(poisoned):
        return identical(got, poisoned)
    return same(got, poisoned)


def _shown(req: ProbeRequest) -> ProbeRequest:
    """``req`` as a report shows it: a header over 64 bytes becomes its length."""
    headers = tuple((k, v if len(v) <= 64 else f"<{len(v)} bytes>") for k, v in req.headers)
    return replace(req, headers=headers)


def probe(ctx: ProbeContext) -> Probe:
    """One request per variant; an error is confirmed with two clean GETs."""
    if not ctx.authenticated:
        return []
    a = ctx.primary
    base = ctx.baseline(a)
    out: list[Finding] = []
    for label, headers in VARIANTS:
        u = ctx.url()
        preq = ProbeRequest(u, a, headers=headers)
        rp = yield preq
        if rp.status < 400:
            continue
        creq = ProbeRequest(u, a)
        rc = yield creq
        if not _stored(rc, rp):
            continue
        freq = ProbeRequest(ctx.url(), a)
        rf = yield freq
        if rf.status >= 400:
            continue  # the endpoint fails on its own now: not this variant's doing
        sent = ", ".join(f"{k} ({len(v)} bytes)" for k, v in headers)
        out.append(
            poisoning(
                ctx,
                "cpdos",
                f"CPDoS ({label}): a {rp.status} caused by one request is cached for everyone",
                "Never store error responses (send Cache-Control: no-store on 4xx/5xx, and set"
                " the cache's error TTL to zero), and make the cache refuse what the origin"
                " refuses (the same header size limits, no forwarding of meta characters,"
                " Range, Upgrade or Content-Type on GET).",
                {
                    "variant": label,
                    "sent": sent,
                    "poisoned_status": rp.status,
                    "clean_status": rc.status,
                    "baseline_status": base.status,
                    "steps": (
                        step(_shown(preq), rp),
                        step(creq, rc, " (stored error served to a clean request)"),
                        step(freq, rf),
                    ),
                },
            )
        )
        break
    return out
