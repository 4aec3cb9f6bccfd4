"""Freshness is shown, not assumed (issue 15 B), and timing runs alone (issue 16).

Units: what counts as evidence that a response was made for its request, and what
shows a store behind the front answered. In process: the targets of ``targets.fresh``
(path-keyed application caches with static per-user bodies, public pages that show
their freshness, a page that cannot), the keyless scan's notes, and the quiet phase of
the ``hidden-cache`` timing, whose verdict turns an unverified buster into a working one.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable
from email.utils import formatdate

import httpx
from tests.targets import classes, fresh, vulnerable
from tests.targets.harness import AsyncWSGITransport, creds, endpoints

from cacheward.core.finding import Report
from cacheward.scan import Settings, scan_async
from cacheward.scan.context import BusterState
from cacheward.scan.detect import behind, verdict
from cacheward.scan.engine import NO_KEYS_NOTE
from cacheward.scan.exchange import ProbeResponse
from cacheward.scan.freshness import ECHO, HEADERS, NEW, evidence, stored_behind
from cacheward.scan.probes import hidden_cache

BASE = "http://target.test"
FAST = Settings(rate=0, concurrency=8)
NOW = 1_790_000_000.0


def r(doc: object = None, **headers: str) -> ProbeResponse:
    body = json.dumps(doc if doc is not None else {"name": "Alice"}).encode()
    return ProbeResponse(200, {k.replace("_", "-"): v for k, v in headers.items()}, body)


def _date(t: float) -> str:
    return formatdate(t, usegmt=True)


def test_evidence_that_a_response_was_made_for_its_request() -> None:
    first = r()
    assert evidence(r({"name": "Alice", "n": 2}), "cw2", [first]) == NEW
    assert evidence(r({"self": "/me?cwcb=cw2"}), "cw2", [first]) == ECHO
    assert evidence(r(link="</me?cwcb=cw2>; rel=self"), "cw2", [first]) == ECHO
    assert evidence(r(set_cookie="sid=b"), "cw2", [r(set_cookie="sid=a")]) == HEADERS
    assert evidence(r(etag='"v2"'), "cw2", [r(etag='"v1"')]) == HEADERS
    # a byte-for-byte copy: the proxy's own per-request headers prove nothing
    assert evidence(r(x_varnish="32770", x_request_id="b"), "cw2", [r(x_varnish="5")]) is None
    assert evidence(r(), "cw2", [first]) is None


def test_a_store_behind_the_front_shows_itself() -> None:
    assert stored_behind(r(x_cache="MISS", x_symfony_cache="GET /me: fresh"))
    assert stored_behind(r(x_cache="MISS", x_rack_cache="fresh"))
    assert stored_behind(r(x_cache="MISS", age="4"))
    # Django's cache middleware stamps Expires = stored + max-age: stored 30 s ago
    stamped = {"cache_control": "max-age=60", "date": _date(NOW), "expires": _date(NOW + 30)}
    assert stored_behind(r(**stamped))
    made_now = {**stamped, "expires": _date(NOW + 60)}
    assert not stored_behind(r(**made_now))
    sentinel = {**stamped, "expires": "Thu, 01 Jan 1970 00:00:00 GMT"}  # "already expired"
    assert not stored_behind(r(**sentinel))
    assert not stored_behind(r(x_cache="MISS", age="0", x_symfony_cache="GET /me: miss, store"))


def test_a_front_miss_with_a_stored_layer_behind_is_not_a_working_buster() -> None:
    copy = r(x_cache="MISS", age="7")
    assert verdict(copy, copy, copy)[0] is BusterState.BROKEN
    assert behind(copy, copy)
    static = r(x_cache="MISS")
    assert verdict(static, static, static)[0] is BusterState.WORKS  # the front busts
    assert not behind(static, static)
    echo = r(link="</p?cwcb=cw3>")
    assert verdict(echo, echo, echo, "cw3")[0] is BusterState.WORKS  # no header: echo shows


def _scan(app: object, paths: list[str], keys: bool = True) -> Report:
    return asyncio.run(
        scan_async(
            endpoints(BASE, paths),
            creds() if keys else [],
            FAST,
            transport=AsyncWSGITransport(app),
        )
    )


def _found(report: Report) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for f in report.findings:
        out[(f.url or "").removeprefix(BASE)].add(f.id)
    return out


def _gaps(report: Report, route: str) -> list[str]:
    return [g for g in report.inconclusive if f"{BASE}{route}:" in g]


def test_path_keyed_static_bodies_are_found_in_process() -> None:
    report = _scan(fresh.create_app(), fresh.ALL)
    found = _found(report)
    for route, (planted, *also) in fresh.ROUTES.items():
        assert planted in found[route], (route, found[route])
        assert found[route] <= {planted, *also}, (route, found[route])
    for page in (*fresh.PUBLIC, fresh.ME):
        assert found[page] == set() and _gaps(report, page) == [], page


def test_fixed_twin_yields_nothing_in_process() -> None:
    report = _scan(fresh.create_fixed_app(), fresh.ALL)
    assert report.findings == (), _found(report)
    for page in (*fresh.PUBLIC, fresh.ME):
        assert _gaps(report, page) == [], page


def test_a_keyless_scan_does_not_claim_a_read_only_cross_key_test() -> None:
    report = _scan(fresh.create_app(), [fresh.UNSHOWABLE], keys=False)
    assert NO_KEYS_NOTE in report.notes
    assert not any("cross-key leakage tested" in n for n in report.notes), report.notes
    assert any("could not show that any cache buster busts" in n for n in report.notes)


class _Counting(httpx.AsyncBaseTransport):
    """A real loopback transport that records how many requests were in flight (sent,
    their body not yet read) when each one started."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.busy = 0
        self.log: list[tuple[str, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.log.append((str(request.url), self.busy))
        self.busy += 1
        try:
            resp = await self._inner.handle_async_request(request)
        except BaseException:
            self.busy -= 1
            raise
        return httpx.Response(
            resp.status_code,
            headers=resp.headers,
            stream=_Done(resp, self),
            extensions=resp.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Done(httpx.AsyncByteStream):
    def __init__(self, resp: httpx.Response, counter: _Counting) -> None:
        self._resp, self._counter, self._open = resp, counter, True

    async def __aiter__(self):  # type: ignore[override]
        async for chunk in self._resp.aiter_raw():
            yield chunk

    async def aclose(self) -> None:
        if self._open:
            self._open = False
            self._counter.busy -= 1
            await self._resp.aclose()


def test_timing_runs_alone_and_shows_the_buster_busts(
    serve: Callable[[object], str],
) -> None:
    """``/c/hidden`` answers with identical bodies and no cache header, so the buster
    check alone cannot tell; the timing can, and it runs with nothing else in flight."""
    base = serve(vulnerable.create_app())
    busy = [classes.WORDLIST_ROUTE, "/c/cookie", "/c/split", "/c/trap/dynamic"]
    transport = _Counting()
    paths = ["/c/hidden", *busy]
    report = asyncio.run(scan_async(endpoints(base, paths), creds(), FAST, transport=transport))
    hidden = [f for f in report.findings if f.id == "hidden-cache"]
    assert [f.url for f in hidden] == [base + "/c/hidden"]
    counts: dict[str, int] = defaultdict(int)
    for url, _ in transport.log:
        counts[url] += 1
    # the URL the timing repeats: its warm request and 7 hits, more than any probe's
    timed = max((u for u in counts if "/c/hidden" in u), key=lambda u: counts[u])
    assert counts[timed] == 1 + hidden_cache.REPEATS
    assert [n for u, n in transport.log if u == timed] == [0] * counts[timed]
    # the timing's verdict fed the buster check: the active checks ran there
    assert any("timing showed" in n and "/c/hidden" in n for n in report.notes)
    assert not any("/c/hidden" in g for g in report.inconclusive), report.inconclusive
