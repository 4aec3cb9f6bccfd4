"""The oracle's parts: what becomes a marker, what a leak needs, freshness, noise."""

from __future__ import annotations

import asyncio
import json
import random

import httpx
import pytest

from cacheward.scan import Credential, Endpoint, Redactor
from cacheward.scan.context import BusterState, ProbeContext
from cacheward.scan.detect import behind, verdict
from cacheward.scan.exchange import ProbeRequest, ProbeResponse, drive_with
from cacheward.scan.identity import Sample, learn, whoami_values
from cacheward.scan.oracle import Oracle
from cacheward.scan.poison import bisect, candidates
from cacheward.scan.probes import unkeyed_header
from cacheward.scan.probes.base import redact_marker
from cacheward.scan.runner import Budget, Sender

ALICE, BOB = Credential("alice", "k-alice-0123456789"), Credential("bob", "k-bob-0123456789ab")


def r(doc: object, status: int = 200, **headers: str) -> ProbeResponse:
    return ProbeResponse(
        status, {k.replace("_", "-"): v for k, v in headers.items()}, json.dumps(doc).encode()
    )


def s(who: str | None, n: int, resp: ProbeResponse, inst: str = "", res: str = "GET /me") -> Sample:
    return Sample(who, res, inst or f"i{n}", n, resp)


def me(who: str) -> dict[str, object]:
    return {
        "email": f"{who}@example.test",
        "lucky": random.randint(1000, 99999),
        "at": "Thu, 03 Dec 2026 17:10:01 GMT",
    }


def test_markers_are_what_two_independent_responses_repeat() -> None:
    ids = learn(
        [
            s("alice", 0, r(me("alice"))),
            s("alice", 1, r(me("alice"))),
            s("bob", 2, r(me("bob"))),
            s("bob", 3, r(me("bob"))),
        ],
        ["alice", "bob"],
    )
    assert ids.markers("alice", "bob") == {"alice@example.test"}  # no random, no clock
    assert ids.markers("bob", "alice") == {"bob@example.test"}


def test_one_response_teaches_nothing_and_a_copy_is_the_owners() -> None:
    a = r(me("alice"))
    # bob's copy of alice's response (a leak) is alice's data, never bob's markers
    ids = learn([s("alice", 0, a), s("bob", 1, a), s("bob", 2, r(me("bob")))], ["alice", "bob"])
    assert ids.markers("alice", "bob") == frozenset()  # one independent sample only
    assert ids.markers("bob", "alice") == frozenset()


def test_shared_bodies_teach_nothing() -> None:
    pub = {"news": ["cache-safety"], "lucky": 4711}
    ids = learn(
        [s(w, n, r(pub)) for n, w in enumerate(["alice", "bob", "alice", "bob"])], ["alice", "bob"]
    )
    assert ids.of == {}


def test_stated_and_whoami_values_are_markers_at_once() -> None:
    ids = learn([], ["alice", "bob"], {"alice": ["alice@example.org"]})
    assert ids.markers("alice", "bob") == ids.markers("alice", None) == {"alice@example.org"}
    got = whoami_values(
        {
            "alice": r({"user": "alice-01", "ok": "yes"}),
            "bob": r({"user": "bob-0002", "ok": "yes"}),
            None: r({"error": "no key"}, 401),
        }
    )
    assert got == {"alice": {"alice-01"}, "bob": {"bob-0002"}}


def test_redacted_markers_show_four_characters() -> None:
    assert redact_marker("alice@example.org") == "al…rg (17 chars)"
    assert redact_marker("abc123") == "… (6 chars)"


def _ctx(buster: BusterState = BusterState.BROKEN) -> ProbeContext:
    ctx = ProbeContext(Endpoint("http://api.test/me"), [ALICE, BOB])
    ctx.buster = buster
    return ctx


def test_oracle_reports_a_copy_of_the_owners_response_only() -> None:
    ctx, o = _ctx(), Oracle([ALICE, BOB], {"alice": ["alice@example.test"]})
    a = r(me("alice"))
    o.observe(ctx, ProbeRequest("http://api.test/me?cwcb=cw1", ALICE), a)
    # a page that merely names alice, but is not her response: no finding
    o.observe(
        ctx, ProbeRequest("http://api.test/me?cwcb=cw2", BOB), r({"owner": "alice@example.test"})
    )
    assert o.findings(o.learn()) == []
    o.observe(ctx, ProbeRequest("http://api.test/me?cwcb=cw3", BOB), a)
    o.observe(ctx, ProbeRequest("http://api.test/me?cwcb=cw4", None), a)
    found = o.findings(o.learn())
    assert sorted(f.id for _, f in found) == ["anonymous-cache-leak", "cross-key-leak"]
    assert all("alice@example.test" not in repr(f) for _, f in found)
    # what the probes reported already is not reported twice
    done = {
        ("http://api.test/me", "cross-key-leak"),
        ("http://api.test/me", "anonymous-cache-leak"),
    }
    assert o.findings(o.learn(), done) == []


def test_sender_feeds_the_oracle_and_keeps_no_cookie_jar() -> None:
    seen: list[httpx.Request] = []

    def app(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": 1}, headers={"Set-Cookie": "sid=abc; Path=/"})

    async def go() -> Oracle:
        oracle = Oracle([ALICE])
        async with httpx.AsyncClient(transport=httpx.MockTransport(app)) as client:
            sender = Sender(client, redact=Redactor([ALICE]), rate=0, oracle=oracle)
            budget = Budget(5, ctx=_ctx())
            for _ in range(2):
                await sender.send(ProbeRequest("http://api.test/me?cwcb=cw1", ALICE), budget)
        return oracle

    oracle = asyncio.run(go())
    assert "cookie" not in seen[1].headers  # the Set-Cookie was never replayed
    assert len(oracle._seen) == 2


def test_cache_behind_the_cache() -> None:
    stored = r({"who": "alice", "request_id": "3f2a0c1e9b8d7c6f5a4b"}, x_cache="MISS")
    assert behind(stored, stored)
    assert verdict(stored, stored, stored)[0] is BusterState.BROKEN  # "miss", yet a copy
    static = r({"who": "alice"}, x_cache="MISS")
    assert not behind(static, static)
    assert verdict(static, static, static)[0] is BusterState.WORKS


def test_bisection_keeps_the_reflecting_header_on_a_noisy_page() -> None:
    """Random content in every response: only the reflecting header is found."""

    def send(req: ProbeRequest) -> ProbeResponse:
        host = dict(req.headers).get("X-Forwarded-Host", "api.test")
        return r({"next": f"https://{host}/p2", "lucky": random.random()})

    ctx = _ctx(BusterState.WORKS)
    ctx.baselines["alice"] = send(ProbeRequest("http://api.test/me?cwcb=cw0", ALICE))
    cands = candidates(
        list(unkeyed_header.WORDLIST), lambda n, c: unkeyed_header.WORDLIST[n].format(c=c)
    )

    def apply(group, url):  # type: ignore[no-untyped-def]
        return ProbeRequest(url, ALICE, headers=tuple((c.name, c.value) for c in group))

    found = drive_with(bisect(ctx, cands, apply), send)  # type: ignore[arg-type]
    assert [c.name for c in found] == ["X-Forwarded-Host"]


def test_oracle_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import cacheward.scan.oracle as mod

    monkeypatch.setattr(mod, "_MAX_KEPT", 100)
    o = Oracle([ALICE])
    for i in range(10):
        o.observe(
            _ctx(), ProbeRequest(f"http://api.test/me?cwcb=cw{i}", ALICE), r({"pad": "x" * 30})
        )
    o.observe(_ctx(), ProbeRequest("http://api.test/me?cwcb=cwe", ALICE), r({}, 401))
    assert o.full and len(o._seen) == 2  # errors are never kept; bodies up to the bound


def test_a_fresh_page_both_keys_see_is_a_note_not_a_leak() -> None:
    """/projects/1 names its owner alice to every member: bob's copy, shown made for his
    request (its ``Link: rel=self`` echoes his buster), is his own."""
    ctx, o = _ctx(BusterState.WORKS), Oracle([ALICE, BOB], {"alice": ["alice@example.test"]})
    page = {"project": "apollo", "owner": "alice@example.test"}
    for name, token in (("alice", "cw1"), ("bob", "cw2")):
        ctx.baselines[name] = r(page, link=f"</me?cwcb={token}>; rel=self")
        ctx.fresh[name] = "buster echoed"
        cred = ALICE if name == "alice" else BOB
        o.observe(ctx, ProbeRequest(f"http://api.test/me?cwcb={token}", cred), ctx.baselines[name])
    assert o.findings(o.learn()) == []
    assert any("bob's fresh response (buster echoed)" in n for n in ctx.notes)


def test_a_front_miss_alone_does_not_make_a_copy_fresh() -> None:
    """The same bodies with nothing showing bob's was made for him (the proxy said miss,
    an app cache keyed on the path may have answered): a leak, at medium confidence."""
    ctx, o = _ctx(BusterState.WORKS), Oracle([ALICE, BOB], {"alice": ["alice@example.test"]})
    page = {"project": "apollo", "owner": "alice@example.test"}
    ctx.baselines["alice"], ctx.baselines["bob"] = r(page), r(page)
    o.observe(ctx, ProbeRequest("http://api.test/me?cwcb=cw1", ALICE), ctx.baselines["alice"])
    o.observe(ctx, ProbeRequest("http://api.test/me?cwcb=cw2", BOB), ctx.baselines["bob"])
    [(_, f)] = o.findings(o.learn())
    assert f.id == "cross-key-leak" and f.confidence.value == "medium"
