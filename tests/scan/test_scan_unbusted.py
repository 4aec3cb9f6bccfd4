"""Endpoints the query buster cannot bust: other busters, then a read-only cross-key probe."""

from __future__ import annotations

import httpx
from tests.scan.test_scan_probes import A_KEY, B_KEY, api, caching

from cacheward.scan import Credential, Endpoint
from cacheward.scan.buster import Buster, Carrier, candidates, carried
from cacheward.scan.context import BusterState, ProbeContext
from cacheward.scan.detect import setup
from cacheward.scan.exchange import ProbeRequest, drive_sync
from cacheward.scan.identity import Identities
from cacheward.scan.probes import crosskey, crosskey_unbusted

IDS = Identities(
    {("alice", "bob"): frozenset({"alice@example.test"}), ("bob", "alice"): frozenset({"bob"})}
)


def _ctx() -> ProbeContext:
    creds = [Credential("alice", A_KEY), Credential("bob", B_KEY)]
    return ProbeContext(Endpoint("http://api.test/me"), creds)


def _path_only(r: httpx.Request) -> str:
    return r.url.path


def test_cookie_buster_used_when_cache_keys_on_cookie_not_query() -> None:
    handler, seen = caching(
        lambda r: f"{r.url.path}#{r.headers.get('Cookie')}", api, lambda s: s == 200
    )
    ctx = _ctx()
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        notes = drive_sync(setup(ctx), client)
        assert ctx.buster is BusterState.WORKS and ctx.carrier.carrier is Carrier.COOKIE
        assert any("cookie cwcb" in n for n in notes)
        found = drive_sync(carried(crosskey.probe(ctx), ctx.carrier), client)
    assert {f.id for f in found} == {"cross-key-leak", "anonymous-cache-leak"}
    probe_requests = seen[-3:]
    assert all("cwcb=" in r.headers["Cookie"] for r in probe_requests)


def test_vary_header_buster() -> None:
    def origin(request: httpx.Request) -> httpx.Response:
        resp = api(request)
        resp.headers["Vary"] = "Origin, X-API-Key, Accept-Encoding"
        return resp

    handler, _ = caching(
        lambda r: f"{r.url.path}#{r.headers.get('Origin')}", origin, lambda s: s == 200
    )
    ctx = _ctx()
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        drive_sync(setup(ctx), client)
    assert ctx.carrier == Buster(Carrier.HEADER, "Origin")
    assert candidates(["Origin", "X-API-Key", "Accept-Encoding", "*"], "X-API-Key") == [
        Buster(Carrier.HEADER, "Origin"),
        Buster(Carrier.COOKIE),
    ]
    req = ctx.carrier.apply(ProbeRequest("http://api.test/me?cwcb=cwabc"))
    assert req.headers == (("Origin", "https://cwabc.invalid"),)


def test_cookie_buster_merges_with_a_probe_cookie() -> None:
    req = Buster(Carrier.COOKIE).apply(
        ProbeRequest("http://t/x?cwcb=cw1", headers=(("Cookie", "lang=de"),))
    )
    assert req.headers == (("Cookie", "lang=de; cwcb=cw1"),)


def test_path_keyed_cache_leak_is_proved_read_only() -> None:
    handler, seen = caching(_path_only, api, lambda s: s == 200)
    ctx = _ctx()
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        drive_sync(setup(ctx), client)
        assert ctx.buster is not BusterState.WORKS
        # Setup read the shared entry as alice only: no reader's baseline was fetched.
        assert {r.headers.get("X-API-Key") for r in seen} == {A_KEY}
        found = drive_sync(crosskey_unbusted.probe(ctx, IDS), client)
    assert {f.id for f in found} == {"cross-key-leak", "anonymous-cache-leak"}
    assert all(f.evidence["buster"] == "none" for f in found)
    assert all("own legitimate response" in f.evidence["mode"] for f in found)
    leak = next(f for f in found if f.id == "cross-key-leak")
    assert leak.evidence["markers"] == ["al…st (18 chars)"]  # redacted: never in clear
    # Nothing but the credential (and no body) was ever sent: no attack input.
    plain = {"host", "accept", "accept-encoding", "connection", "user-agent", "x-api-key"}
    for r in seen:
        assert set(r.headers) - {"cookie"} <= plain
        assert r.headers.get("Cookie", "cwcb=").startswith("cwcb=")  # the cookie buster trial
        assert r.content == b""


def test_no_error_can_be_planted_when_a_s_response_is_not_stored() -> None:
    # A cache that stores only errors (a CPDoS waiting to happen): a 401 from no key (or
    # a denied key) would be planted in the shared entry, so only another allowed key,
    # whose own 200 is all it could leave there, may ask.
    handler, seen = caching(_path_only, api, lambda s: s >= 400)
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        assert drive_sync(crosskey_unbusted.probe(_ctx(), IDS), client) == []
    assert [r.headers.get("X-API-Key") for r in seen] == [A_KEY, A_KEY, B_KEY]


def test_no_finding_when_path_keyed_entry_is_genuinely_shared() -> None:
    def public(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"news": ["a", "b"], "request_id": id(request)})

    handler, _ = caching(_path_only, public, lambda s: s == 200)
    ctx = _ctx()
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        drive_sync(setup(ctx), client)
        assert drive_sync(crosskey_unbusted.probe(ctx, IDS), client) == []


def test_private_declaration_proves_a_leak_without_markers() -> None:
    def private(request: httpx.Request) -> httpx.Response:
        resp = api(request)
        resp.headers["Cache-Control"] = "private, max-age=60"
        return resp

    handler, _ = caching(_path_only, private, lambda s: s == 200)
    ctx = _ctx()
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        drive_sync(setup(ctx), client)
        found = drive_sync(crosskey_unbusted.probe(ctx, Identities()), client)
    assert {(f.id, f.confidence.value) for f in found} == {
        ("cross-key-leak", "medium"),
        ("anonymous-cache-leak", "medium"),
    }


def test_unproved_sharing_is_a_note_not_a_finding() -> None:
    handler, _ = caching(_path_only, api, lambda s: s == 200)  # no Cache-Control at all
    ctx = _ctx()
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        drive_sync(setup(ctx), client)
        assert drive_sync(crosskey_unbusted.probe(ctx, Identities()), client) == []
    assert len(ctx.notes) == 1
    assert "byte for byte" in ctx.notes[0] and "no key" in ctx.notes[0]
    assert A_KEY not in ctx.notes[0] and B_KEY not in ctx.notes[0]


def test_header_buster_overrides_a_probe_value_for_the_same_header() -> None:
    req = Buster(Carrier.HEADER, "Origin").apply(
        ProbeRequest("http://t/x?cwcb=cw1", headers=(("origin", "https://evil.test"),))
    )
    assert req.headers == (("Origin", "https://cw1.invalid"),)
    assert candidates(["Accept", "Content-Type"], None) == [Buster(Carrier.COOKIE)]
