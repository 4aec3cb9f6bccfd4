"""Safety: busters on every request, safe methods, budgets, key placement, progress."""

from __future__ import annotations

import asyncio
import collections
import io
import re

import httpx
import pytest
from tests.targets.harness import ALL_PATHS, AsyncWSGITransport, creds, endpoints

from cacheward.scan import Credential, Placement, Settings, scan_async
from cacheward.scan.context import BUSTER_PARAM
from cacheward.scan.exchange import ProbeRequest, build_request
from cacheward.scan.progress import Lines

BASE = "http://target.test"


class Recording(AsyncWSGITransport):
    """The in-process transport, remembering every request it forwarded."""

    def __init__(self, app: object) -> None:
        super().__init__(app)
        self.seen: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return await super().handle_async_request(request)


@pytest.mark.parametrize("aggressive", [False, True])
def test_every_request_is_busted_and_safe(vulnerable_app: object, aggressive: bool) -> None:
    transport = Recording(vulnerable_app)
    settings = Settings(rate=0, aggressive=aggressive)
    asyncio.run(scan_async(endpoints(BASE, ALL_PATHS), creds(), settings, transport=transport))
    assert transport.seen
    for req in transport.seen:
        assert f"{BUSTER_PARAM}=" in str(req.url), req.url  # never the shared entry
        assert req.method in ("GET", "HEAD")
        assert req.url.host == "target.test"
    overrides = {r.headers.get("X-HTTP-Method-Override") for r in transport.seen} - {None}
    assert ("POST" in overrides) is aggressive


def test_budget_stops_probes_with_a_note(vulnerable_app: object) -> None:
    transport = Recording(vulnerable_app)
    report = asyncio.run(
        scan_async(
            endpoints(BASE, ["/v/links"]),
            creds(),
            Settings(rate=0, budget=12),
            transport=transport,
        )
    )
    assert len(transport.seen) <= 12
    assert report.stats["requests"] <= 12
    assert any("budget" in n for n in report.notes)


def test_rate_limit_spaces_requests(vulnerable_app: object) -> None:
    report = asyncio.run(
        scan_async(
            endpoints(BASE, ["/v/cookie"]),
            creds()[:1],
            Settings(rate=200),
            transport=AsyncWSGITransport(vulnerable_app),
        )
    )
    assert report.stats["duration_s"] >= (report.stats["requests"] - 1) / 200 * 0.9


@pytest.mark.parametrize(
    ("placement", "where"),
    [
        (Placement.HEADER, ("X-Key", "s3cret-value-123")),
        (Placement.BEARER, ("Authorization", "Bearer s3cret-value-123")),
        (Placement.QUERY, ("url", "k=s3cret-value-123")),
    ],
)
def test_key_placement(placement: Placement, where: tuple[str, str]) -> None:
    cred = Credential("a", "s3cret-value-123", placement, header="X-Key", query="k")
    with httpx.Client() as client:
        req = build_request(client, ProbeRequest("http://127.0.0.1/x?cwcb=1", cred))
    name, value = where
    if name == "url":
        assert value in str(req.url)
    else:
        assert req.headers[name] == value
    assert repr(cred) == "Credential(a=…23)"


def test_plain_progress_lines() -> None:
    out = io.StringIO()
    progress = Lines(out)
    progress.start(2)
    progress.advance("GET http://127.0.0.1/a", 30)
    progress.close()
    assert out.getvalue() == "scan 1/2: GET http://127.0.0.1/a (30 requests)\n"


def test_rich_bar_runs_without_a_terminal() -> None:
    from cacheward.scan.progress import Bar, for_stream

    bar = Bar()
    bar.start(1)
    bar.advance("GET http://127.0.0.1/a", 3)
    bar.close()
    assert isinstance(for_stream(io.StringIO()), Lines)


def test_path_keyed_routes_get_no_attack_input(vulnerable_app: object) -> None:
    """Where no buster busts, only plain reads (credential, buster) reach the route, and
    the deception probe's paths, each with a fresh name nobody else requests."""
    from tests.targets.vulnerable import PATH_KEYED

    transport = Recording(vulnerable_app)
    paths = list(PATH_KEYED)
    asyncio.run(scan_async(endpoints(BASE, paths), creds(), Settings(rate=0), transport=transport))
    plain = {"host", "accept", "accept-encoding", "connection", "user-agent", "x-api-key"}
    suffixed = collections.Counter[str]()
    for req in transport.seen:
        path = req.url.raw_path.split(b"?")[0].decode()
        if path not in paths:
            # a fresh deceptive name (cw + 10 hex), asked by the primary key, then once
            # by each other caller; never a shared entry such as /v/legacy.json
            assert re.fullmatch(r"/v/[a-z-]+(/|;|%2F|%3B|%23|%3F)cw[0-9a-f]{10}\.css", path), path
            suffixed[path] += 1
        assert set(req.url.params) == {BUSTER_PARAM}, req.url
        assert set(req.headers) - {"cookie", "content-length"} <= plain, req.headers
        assert req.headers.get("Cookie", "cwcb=").startswith("cwcb=")
        assert req.content == b""
    assert max(suffixed.values(), default=0) <= len(creds()) + 1
