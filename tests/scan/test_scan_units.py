"""Cache detection, comparison, credentials and targets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cacheward.scan import Credential, Placement, Redactor, mask
from cacheward.scan.cachestatus import parse, served_from_store
from cacheward.scan.compare import carries, markers, normalized, same
from cacheward.scan.context import BusterState
from cacheward.scan.credential import CredentialError, build, from_env, parse_pairs
from cacheward.scan.detect import Signal, cache_headers, signal, verdict
from cacheward.scan.exchange import ProbeResponse
from cacheward.scan.target import TargetError, endpoints, from_openapi, load_spec


def r(status: int = 200, body: object = None, **headers: str) -> ProbeResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
    return ProbeResponse(status, {k.replace("_", "-").lower(): v for k, v in headers.items()}, raw)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x_cache": "HIT from edge"}, Signal.HIT),
        ({"x_cache": "MISS"}, Signal.MISS),
        ({"cf_cache_status": "DYNAMIC"}, Signal.MISS),
        ({"cf_cache_status": "HIT"}, Signal.HIT),
        ({"x_cache_status": "STALE"}, Signal.HIT),
        ({"age": "12"}, Signal.HIT),
        ({"age": "0"}, Signal.NONE),
        ({"x_varnish": "32770 3"}, Signal.HIT),
        ({"x_varnish": "32770"}, Signal.MISS),  # fetched from the backend
        ({"x_cached": "HIT"}, Signal.HIT),  # Mastodon's nginx.conf
        ({"x_cached": "MISS"}, Signal.MISS),
        ({"x_fastcgi_cache": "BYPASS"}, Signal.MISS),
        ({"x_cache_lookup": "HIT from squid:3128"}, Signal.NONE),  # a lookup, not served
        ({"server_timing": "cdn-cache; desc=HIT, edge; dur=1"}, Signal.HIT),
        ({"via": "1.1 varnish"}, Signal.NONE),
    ],
)
def test_signal(headers: dict[str, str], expected: Signal) -> None:
    assert signal(r(**headers)) is expected


def test_verdict_from_body_identity() -> None:
    a1, a2 = r(body={"id": 1}), r(body={"id": 2})
    assert verdict(a1, a1, a2) == (BusterState.WORKS, True)  # cached, fresh buster busts
    assert verdict(a1, a2, r(body={"id": 3}))[0] is BusterState.WORKS  # no cache at all
    assert verdict(a1, a1, a1)[0] is BusterState.UNVERIFIED  # static: cannot tell
    hit = r(body={"id": 1}, x_cache="HIT")
    assert verdict(a1, hit, hit)[0] is BusterState.BROKEN


def test_same_ignores_request_ids_and_timestamps() -> None:
    one = r(body={"user": "a", "request_id": "x1", "generated_at": "2026-01-01T00:00:00Z"})
    two = r(body={"user": "a", "request_id": "x2", "generated_at": "2026-01-02T10:00:00Z"})
    assert same(one, two)
    assert not same(one, r(body={"user": "b"}))
    assert not same(one, r(403, body={"user": "a"}))
    text = r(body=b"<p>hi 3f2a0c1e-1111-4222-8333-444455556666 at 1767225600</p>")
    assert normalized(text) == "<p>hi ~ at ~</p>"


def test_markers_tell_principals_apart() -> None:
    a = r(body={"who": "alice", "email": "alice@example.test", "plan": "pro"})
    b = r(body={"who": "bob", "email": "bob@example.test", "plan": "pro"})
    marks = markers(a, b)
    assert marks == {"alice", "alice@example.test"}
    assert carries(r(body={"wrapped": [a.text]}), marks)
    assert not carries(b, marks)


KEY = "cw_abcdefghijkl_0123456789ABCDEFGHIJabcdefghij123f"


def test_mask_shows_at_most_two_characters() -> None:
    assert mask(KEY) == "cw_…3f"
    assert mask("short") == "…"
    assert mask("sk-live-1234567890ab") == "…ab"
    cred = Credential("alice", KEY)
    assert str(cred) == repr(cred).removeprefix("Credential(").removesuffix(")") == "alice=cw_…3f"


def test_redactor_scrubs_plain_and_encoded_keys() -> None:
    odd = "a+b/c=d&e0123456789"
    redact = Redactor([Credential("alice", KEY), Credential("bob", odd)])
    text = f"x {KEY} y a%2Bb%2Fc%3Dd%26e0123456789 z {odd}"
    out = redact(text)
    assert KEY not in out and odd not in out and "a%2Bb" not in out
    assert out.count("alice=cw_…3f") == 1 and out.count("bob=…89") == 2


def test_key_pairs_from_options_and_env() -> None:
    assert parse_pairs(["a=k1", " b = k=2 "]) == [("a", "k1"), ("b", "k=2")]
    assert from_env({"CACHEWARD_SCAN_KEYS": "a=k1,b=k2"}) == [("a", "k1"), ("b", "k2")]
    with pytest.raises(CredentialError) as exc:
        parse_pairs(["a=secret-one", "nokey-secret"])
    assert "secret" not in str(exc.value)
    with pytest.raises(CredentialError):
        parse_pairs(["a=1", "a=2"])
    creds = build([("a", "1"), ("b", "2")], placement=Placement.BEARER, low=["b"])
    assert [c.low for c in creds] == [False, True]
    assert creds[0].credential_header == "Authorization"
    with pytest.raises(CredentialError):
        build([("a", "1")], low=["zed"])


SPEC = {
    "openapi": "3.0.3",
    "paths": {
        "/accounts/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True, "example": "acc 1"}],
            "get": {},
            "head": {},
            "delete": {},
        },
        "/items/{sku}": {
            "get": {
                "parameters": [
                    {"name": "sku", "in": "path", "schema": {"type": "string", "default": "x1"}},
                    {"name": "page", "in": "query", "required": True, "schema": {"enum": [1]}},
                ]
            }
        },
        "/orphans/{nope}": {"get": {}},
        "/health": {"head": {}},
    },
}


def test_openapi_endpoints(tmp_path: Path) -> None:
    eps, notes = from_openapi(SPEC, "http://127.0.0.1:5000/api/")
    assert [str(e) for e in eps] == [
        "GET http://127.0.0.1:5000/api/accounts/acc%201",
        "GET http://127.0.0.1:5000/api/items/x1?page=1",
        "HEAD http://127.0.0.1:5000/api/health",
    ]
    assert len(notes) == 1 and "/orphans/{nope}" in notes[0]
    yml = tmp_path / "spec.yaml"
    yml.write_text("paths:\n  /a:\n    get: {}\n", encoding="utf-8")
    assert [e.url for e in endpoints(["http://127.0.0.1:1"], str(yml))[0]] == [
        "http://127.0.0.1:1/a"
    ]
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(TargetError):
        load_spec(bad)
    with pytest.raises(TargetError):
        endpoints(["ftp://x"], None)


def test_redactor_scrubs_json_escaped_keys() -> None:
    odd = 'we"ird\\key-0123456789'
    redact = Redactor([Credential("w", odd)])
    rendered = json.dumps({"evidence": f"sent {odd}"})
    assert 'we\\"ird' not in redact(rendered)
    assert "w=…89" in redact(rendered)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("cacheward; hit", Signal.HIT),
        ("ExampleCache; hit", Signal.HIT),
        ('"Example Cache"; hit; ttl=30', Signal.HIT),
        ("fwd=miss; stored", Signal.MISS),
        ("OriginCache; fwd=uri-miss; stored, CDN; hit", Signal.HIT),
        ("OriginCache; hit, CDN; fwd=stale; fwd-status=304", Signal.HIT),
        ("CDN; fwd=stale; fwd-status=304", Signal.MISS),
        ("CDN; fwd=bypass", Signal.MISS),
        ("CDN; hit=?0; fwd=miss", Signal.MISS),
        ("hit", Signal.HIT),
        ('"miss, hit"; detail="a;b"', Signal.NONE),  # the name is not a parameter
        ("  ,  ; ,", Signal.NONE),
        ('"unbalanced; hit', Signal.NONE),
        ('CDN; key="/a\\"b"; collapsed', Signal.NONE),
    ],
)
def test_cache_status_rfc9211(value: str, expected: Signal) -> None:
    assert signal(r(cache_status=value)) is expected


def test_cache_status_wins_and_is_evidence() -> None:
    resp = r(cache_status="CDN; fwd=miss", age="10")
    assert signal(resp) is Signal.MISS  # the explicit status beats an inherited Age
    assert "cache-status" in cache_headers(resp)


@given(st.text(max_size=80))
def test_cache_status_never_raises(value: str) -> None:
    parse(value)
    served_from_store(value)
