"""Probes against tiny caches simulated with httpx.MockTransport."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import httpx

from cacheward.core.finding import Finding
from cacheward.scan import Credential, Endpoint
from cacheward.scan.context import BusterState, ProbeContext
from cacheward.scan.detect import setup
from cacheward.scan.exchange import Probe, drive_sync
from cacheward.scan.probes import crosskey, error_cached, unkeyed_header, unkeyed_param

A_KEY = "key-of-alice-0123456789abcdef"
B_KEY = "key-of-bob-fedcba9876543210xyz"
_ids = itertools.count()

Handler = Callable[[httpx.Request], httpx.Response]


def body(who: str, **extra: str) -> dict[str, object]:
    return {"who": who, "email": f"{who}@example.test", "request_id": next(_ids), **extra}


def caching(
    key: Callable[[httpx.Request], str], origin: Handler, store: Callable[[int], bool]
) -> tuple[Handler, list[httpx.Request]]:
    """A shared cache in front of ``origin``, keyed by ``key``; also records requests."""
    entries: dict[str, httpx.Response] = {}
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        k = key(request)
        if k in entries:
            hit = entries[k]
            return httpx.Response(hit.status_code, headers=hit.headers, content=hit.content)
        resp = origin(request)
        resp.read()
        if store(resp.status_code):
            entries[k] = resp
        return resp

    return handler, seen


def api(request: httpx.Request) -> httpx.Response:
    key = request.headers.get("X-API-Key")
    who = {A_KEY: "alice", B_KEY: "bob"}.get(key or "")
    if who is None:
        return httpx.Response(401, json={"error": "no", "request_id": next(_ids)})
    host = request.headers.get("X-Forwarded-Host", "api.test")
    if request.headers.get("X-Forwarded-Proto") == "http":
        return httpx.Response(301, headers={"Location": "https://api.test/"})
    cb = request.url.params.get("utm_source", "none")
    return httpx.Response(200, json=body(who, link=f"https://{host}/next", src=cb))


def run(
    handler: Handler, probe: Callable[[ProbeContext], Probe]
) -> tuple[ProbeContext, list[Finding]]:
    ctx = ProbeContext(
        Endpoint("http://api.test/me"),
        [Credential("alice", A_KEY), Credential("bob", B_KEY)],
    )
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        notes = drive_sync(setup(ctx), client)
        assert all(isinstance(n, str) for n in notes)
        if ctx.buster is not BusterState.WORKS:
            return ctx, []
        return ctx, drive_sync(probe(ctx), client)


def by_url(request: httpx.Request) -> str:
    return str(request.url)


def test_cross_key_leak_and_anonymous_leak_when_keyed_by_url_only() -> None:
    handler, _ = caching(by_url, api, lambda s: s == 200)
    _, found = run(handler, crosskey.probe)
    assert {f.id for f in found} == {"cross-key-leak", "anonymous-cache-leak"}
    leak = next(f for f in found if f.id == "cross-key-leak")
    assert leak.evidence["served_to"].startswith("bob=")
    assert "al…st (18 chars)" in leak.evidence["markers"]  # redacted: never in clear


def test_no_cross_key_finding_when_keyed_per_key() -> None:
    handler, _ = caching(lambda r: f"{r.url}#{r.headers.get('X-API-Key')}", api, lambda s: True)
    assert run(handler, crosskey.probe)[1] == []


def test_error_cached_when_cache_stores_401() -> None:
    handler, _ = caching(by_url, api, lambda s: True)
    _, found = run(handler, error_cached.probe)
    assert [f.id for f in found] == ["error-cached"]
    assert found[0].evidence["error_status"] == 401


def test_unkeyed_header_found_by_reflection_and_confirmed() -> None:
    handler, seen = caching(
        lambda r: f"{r.url}#{r.headers.get('X-API-Key')}", api, lambda s: s < 400
    )
    _, found = run(handler, unkeyed_header.probe)
    inputs = {f.evidence["input"] for f in found}
    assert inputs == {"X-Forwarded-Host", "X-Forwarded-Proto"}
    assert all(f.id == "unkeyed-header" for f in found)
    assert len(seen) < 40  # batches and halves, not one request per header


def test_unkeyed_header_clean_when_header_is_keyed() -> None:
    def key(r: httpx.Request) -> str:
        return f"{r.url}#{r.headers.get('X-API-Key')}#{sorted(r.headers.items())}"

    handler, _ = caching(key, api, lambda s: s < 400)
    assert run(handler, unkeyed_header.probe)[1] == []


def test_unkeyed_param_when_utm_dropped_from_key() -> None:
    def key(r: httpx.Request) -> str:
        kept = [(k, v) for k, v in r.url.params.multi_items() if not k.startswith("utm_")]
        return f"{r.url.path}?{kept}#{r.headers.get('X-API-Key')}"

    handler, _ = caching(key, api, lambda s: s == 200)
    _, found = run(handler, unkeyed_param.probe)
    assert [(f.id, f.evidence["input"]) for f in found] == [("unkeyed-param", "utm_source")]


def test_broken_buster_skips_active_checks() -> None:
    def key(r: httpx.Request) -> str:
        return r.url.path

    handler, _ = caching(key, api, lambda s: s == 200)
    ctx, found = run(handler, crosskey.probe)
    assert ctx.buster is not BusterState.WORKS
    assert found == []
