"""The scan-wide identity oracle: every response of the scan, checked for whose it is.

The sender hands every response to :meth:`Oracle.observe`, in every probe and every
baseline. Once the scan is over, :meth:`Oracle.learn` derives each principal's identity
markers from all of them (:mod:`cacheward.scan.identity`), and :meth:`Oracle.findings`
checks every 2xx response that another principal, a ``--low-key`` or no key received.
Such a response is a leak when

* it carries markers of an owner ``A`` and none of the reader's own,
* it is the same as a response ``A`` received on that resource *earlier* (so it is
  ``A``'s copy, not a page that merely names ``A``), and
* the reader's own fresh response to the endpoint (where a buster was shown to bust)
  does not carry those markers (else the data is the reader's to see).

Markers never appear in clear in a finding (:func:`~.probes.base.redact_marker`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..core.finding import Confidence, Finding, Severity
from .buster import PARAM
from .compare import fingerprint
from .context import BusterState, ProbeContext
from .credential import Credential
from .detect import cache_headers
from .exchange import ProbeRequest, ProbeResponse
from .identity import Identities, Sample, instance_of, learn
from .probes.base import finding, leak, leak_id, redacted, step, who

_FIX = (
    "Put the principal in the cache key (or Vary on {header}), authenticate and authorize"
    " before any cache lookup, and mark per-principal responses Cache-Control: private."
)
_MAX_BODY = 64 * 1024
_MAX_KEPT = 64 * 1024 * 1024


def resource(req: ProbeRequest) -> tuple[str, str]:
    """``req``'s method, URL without the buster parameter, and the buster value."""
    parts = urlsplit(req.url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    buster = next((v for k, v in pairs if k == PARAM), "")
    query = urlencode([(k, v) for k, v in pairs if k != PARAM])
    path = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return f"{req.method} {path}", buster


@dataclass(frozen=True)
class _Seen:
    ctx: ProbeContext
    req: ProbeRequest
    resp: ProbeResponse
    n: int
    resource: str
    buster: str
    plain: bool
    epoch: int
    key: str
    #: ``id()`` of the response as received (the baseline it may be), before truncation
    orig: int


class Oracle:
    """Records every exchange of a scan; learns identities; finds leaks across keys.

    :param creds: the scan's principals.
    :param stated: values the user knows each principal's responses carry
        (``--identity``), by principal name.
    """

    def __init__(
        self, creds: Sequence[Credential], stated: Mapping[str, Iterable[str]] | None = None
    ) -> None:
        self._creds = {c.name: c for c in creds}
        self._stated: dict[str, set[str]] = {k: set(v) for k, v in (stated or {}).items()}
        self._seen: list[_Seen] = []
        self._kept = 0
        #: the oracle stopped recording (64 MiB of bodies): later responses go unjudged
        self.full = False

    def state(self, extra: Mapping[str, Iterable[str]]) -> None:
        """Add identity values (e.g. what ``--whoami`` returned for one principal only)."""
        for name, vals in extra.items():
            self._stated.setdefault(name, set()).update(vals)

    def stated(self, name: str) -> frozenset[str]:
        """What the user (``--identity``) or ``--whoami`` said ``name``'s responses carry."""
        return frozenset(self._stated.get(name, ()))

    def who(self, req: ProbeRequest) -> str | None:
        """The principal a request was sent as (``None``: no key, or a key nobody holds)."""
        if req.cred is None or req.cred.name not in self._creds:
            return None
        return req.cred.name if self._creds[req.cred.name] is req.cred else None

    def observe(self, ctx: ProbeContext, req: ProbeRequest, resp: ProbeResponse) -> None:
        """Record one 2xx exchange of ``ctx``'s endpoint (only a 2xx can carry anyone's
        data; bodies kept up to 64 KiB, 64 MiB in all, then a note says it stopped)."""
        if not resp.ok or self.full:
            return
        orig = id(resp)
        if len(resp.body) > _MAX_BODY:
            resp = ProbeResponse(resp.status, resp.headers, resp.body[:_MAX_BODY])
        self._kept += len(resp.body)
        if self._kept > _MAX_KEPT:
            self.full = True
            return
        res, buster = resource(req)
        plain = _plain(ctx, req, buster)
        n = len(self._seen)
        key = fingerprint(resp)
        self._seen.append(_Seen(ctx, req, resp, n, res, buster, plain, ctx.epoch, key, orig))

    def learn(self) -> Identities:
        """Identity markers from every plain read of the scan, plus the stated ones."""
        samples = [
            Sample(
                self.who(s.req),
                s.resource,
                instance_of(s.resp, s.buster, s.ctx.buster is BusterState.WORKS, s.epoch),
                s.n,
                s.resp,
                s.key,
            )
            for s in self._seen
            if s.plain
        ]
        return learn(samples, list(self._creds), self._stated)

    def findings(
        self, ids: Identities, reported: Iterable[tuple[str | None, str]] = ()
    ) -> list[tuple[ProbeContext, Finding]]:
        """A leak finding per endpoint and id not already ``reported`` (url, id)."""
        done = set(reported)
        out: list[tuple[ProbeContext, Finding]] = []
        for s in self._seen:
            if not s.resp.ok:
                continue
            hit = self._leak(s, ids)
            if hit is None:
                continue
            f = self._finding(s, *hit)
            if (f.url, f.id) not in done:
                done.add((f.url, f.id))
                out.append((s.ctx, f))
        return out

    def _leak(self, s: _Seen, ids: Identities) -> tuple[_Seen, frozenset[str]] | None:
        reader = self.who(s.req)
        text = s.resp.text
        for owner in self._creds:
            if owner == reader:
                continue
            marks = ids.markers(owner, reader) if reader is not None else ids.owned(owner)
            hits = frozenset(m for m in marks if m in text)
            if not hits:
                continue
            if reader is not None and any(m in text for m in ids.markers(reader, owner)):
                continue  # it carries the reader's own data too: a page both may see
            if _fresh_own_carries(s, reader, hits):
                continue
            src = [
                t
                for t in self._seen
                if t.n < s.n
                and t.resource == s.resource
                and self.who(t.req) == owner
                and t.key == s.key
            ]
            if not src:
                continue
            if _is_fresh_baseline(s, reader):
                # Shown made for the reader's own request (freshness evidence), so the
                # reader's own: a page both may see (an owner field).
                self._note(s, owner, reader)
                continue
            return src[-1], hits
        return None

    def _note(self, s: _Seen, owner: str, reader: str | None) -> None:
        label = reader or "no key"
        why = s.ctx.fresh.get(reader, "")
        note = (
            f"{s.ctx.endpoint}: {label}'s fresh response ({why}) is the same as {owner}'s"
            f" and carries {owner}'s identity: a page both may see, so not reported"
        )
        if note not in s.ctx.notes:
            s.ctx.notes.append(note)

    def _finding(self, s: _Seen, src: _Seen, hits: frozenset[str]) -> Finding:
        reader = s.req.cred if self.who(s.req) is not None else None
        name = reader.name if reader else None
        base = s.ctx.baselines.get(name)
        # a --low-key whose own response is unknown, or may be the owner's stored copy
        # (nothing showed it fresh), counts as denied: it must be
        denied = (base is not None and not base.ok) or (
            reader is not None and reader.low and (base is None or s.ctx.unproven(name))
        )
        cid = leak_id(reader, denied)
        owner = src.req.cred
        header = (owner.credential_header if owner else None) or "the credential"
        evidence = {
            "oracle": "identity markers",
            "owner": who(owner),
            "served_to": who(s.req),
            "markers": redacted(hits),
            "served_status": s.resp.status,
            "cache_headers": cache_headers(s.resp),
        }
        steps = (
            step(src.req, src.resp, f" ({who(owner)}'s data)"),
            step(s.req, s.resp, f" (carries {who(owner)}'s identity)"),
        )
        # Where the reader's own response was shown fresh, it shows the values are not its
        # to see; where not (no buster busts, or nothing showed the origin answered the
        # reader anew), a page it may legitimately share with the owner cannot be told
        # apart: medium.
        sure = (s.ctx.buster is BusterState.WORKS and name in s.ctx.fresh) or denied
        confidence = Confidence.HIGH if sure else Confidence.MEDIUM
        if urlsplit(s.req.url).path != urlsplit(s.ctx.endpoint.url).path:
            # on a path variant of the endpoint (a deception probe's): deception it is
            return finding(
                s.ctx,
                "cache-deception",
                Severity.HIGH,
                "A path variant of the endpoint served another key's data from the cache",
                _FIX.format(header=header),
                cwe=524,
                confidence=confidence,
                evidence=evidence,
                steps=steps,
            )
        return leak(
            s.ctx,
            cid,
            _FIX.format(header=header),
            evidence=evidence,
            steps=steps,
            confidence=confidence,
        )


def _plain(ctx: ProbeContext, req: ProbeRequest, buster: str) -> bool:
    """A plain read of the endpoint: its method, path and query, no body, no input of a
    probe's own (only the buster, wherever it travels)."""
    if req.content or req.placement is not None or req.method != ctx.endpoint.method:
        return False
    if urlsplit(req.url).path != urlsplit(ctx.endpoint.url).path:
        return False
    return all(buster and buster in v for _, v in req.headers)


def _is_fresh_baseline(s: _Seen, reader: str | None) -> bool:
    """Whether ``s`` is the reader's own baseline on a buster shown to bust, shown made
    for its request (a front's miss alone is not enough: a cache may sit behind it)."""
    own = s.ctx.baselines.get(reader)
    busts = s.ctx.buster is BusterState.WORKS and reader in s.ctx.fresh
    return busts and own is not None and id(own) == s.orig


def _fresh_own_carries(s: _Seen, reader: str | None, hits: frozenset[str]) -> bool:
    """Whether the reader's own fresh response to this endpoint (another one than
    ``s``) carries ``hits`` too: then they are the reader's to see."""
    if s.ctx.buster is not BusterState.WORKS or reader not in s.ctx.fresh:
        return False
    own = s.ctx.baselines.get(reader)
    return own is not None and id(own) != s.orig and any(m in own.text for m in hits)
