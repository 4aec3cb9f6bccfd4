"""Invariants 2, 4 and 5 on ASGI: who shares an entry, what is stored, what leaves."""

from __future__ import annotations

from .asgiapp import h


def test_each_principal_gets_its_own_entry(guarded, client):
    _, _, keys, runs = guarded
    a = client.get("/me", headers=h(keys.alice)).json()
    b = client.get("/me", headers=h(keys.bob)).json()
    assert a["principal"] == "alice" and b["principal"] == "bob"
    assert client.get("/me", headers=h(keys.bob)).json() == b
    assert client.get("/me", headers=h(keys.alice)).json() == a
    assert runs["me"] == 2


def test_tenant_scope_shares_within_a_tenant_only(guarded, client):
    _, _, keys, _ = guarded
    first = client.get("/tenant", headers=h(keys.acme1)).json()
    assert client.get("/tenant", headers=h(keys.acme2)).json() == first
    other = client.get("/tenant", headers=h(keys.alice)).json()
    assert other["tenant"] is None and other["run"] != first["run"]


def test_shared_scope_is_shared_but_keyed_by_vary(guarded, client):
    _, _, keys, _ = guarded
    fr = client.get("/catalog", headers=h(keys.alice, **{"Accept-Language": "fr"})).json()
    assert client.get("/catalog", headers=h(keys.bob, **{"Accept-Language": "fr"})).json() == fr
    de = client.get("/catalog", headers=h(keys.bob, **{"Accept-Language": "de"})).json()
    assert de["lang"] == "de"
    assert client.get("/catalog", headers={"Accept-Language": "fr"}).status_code == 401


def test_a_shared_route_that_reads_the_principal_is_not_stored(guarded, client):
    _, _, keys, _ = guarded
    a = client.get("/shared-who", headers=h(keys.alice))
    assert a.headers["cache-status"] == "cacheward; fwd=miss; detail=unkeyed-input"
    b = client.get("/shared-who", headers=h(keys.bob)).json()
    assert b["who"] == "bob"


def test_no_raw_credential_in_keys_or_entries(guarded, client):
    _, ward, keys, _ = guarded
    for k in (keys.alice, keys.bob):
        client.get("/me", headers=h(k))
        client.get("/me", headers={"Authorization": f"Bearer {k}"})
    sync = ward.state.backend.sync
    dump = repr(sync._entries) + repr(sync._generations) + repr(ward.state.keys_memo)
    for k in (keys.alice, keys.bob):
        assert k not in dump and k.split("_")[2][:10] not in dump
    scopes = [e.scope for e, _ in sync._entries.values()]
    assert scopes and all(s.startswith("principal:") for s in scopes)
    assert not any("alice" in s or "bob" in s for s in scopes)


def test_errors_are_never_stored(guarded, client):
    _, _, keys, runs = guarded
    for code in (404, 500, 401, 429):
        first = client.get(f"/status/{code}", headers=h(keys.alice))
        second = client.get(f"/status/{code}", headers=h(keys.alice))
        assert first.status_code == second.status_code == code
        assert first.text != second.text  # computed twice
        assert second.headers["cache-control"] == "no-store"
    ok = client.get("/status/200", headers=h(keys.alice))
    assert ok.headers["cache-status"] == "cacheward; fwd=miss; stored"
    assert runs["status"] == 9


def test_final_headers_decide(guarded, client):
    _, _, keys, _ = guarded
    for kind in ("cookie", "no-store", "vary-star", "vary-other"):
        first = client.get(f"/headers/{kind}", headers=h(keys.alice))
        second = client.get(f"/headers/{kind}", headers=h(keys.alice))
        assert first.text != second.text, kind
        assert "detail=not-storable" in second.headers["cache-status"], kind
    cookie = client.get("/headers/cookie", headers=h(keys.alice))
    assert cookie.headers["cache-control"] == "no-store"
    kept = client.get("/headers/no-store", headers=h(keys.alice))
    assert kept.headers["cache-control"] == "no-store"


def test_public_from_the_endpoint_is_replaced_by_private(guarded, client):
    _, _, keys, _ = guarded
    first = client.get("/headers/public", headers=h(keys.alice))
    assert first.headers["cache-control"] == "private, no-cache"
    hit = client.get("/headers/public", headers=h(keys.alice))
    assert hit.headers["cache-status"] == "cacheward; hit"
    assert hit.headers["cache-control"] == "private, no-cache"
    assert hit.text == first.text


def test_a_streamed_body_is_never_stored(guarded, client):
    _, _, keys, _ = guarded
    first = client.get("/stream", headers=h(keys.alice))
    second = client.get("/stream", headers=h(keys.alice))
    assert first.text != second.text
    assert "not-storable" in second.headers["cache-status"]


def test_etag_and_304(guarded, client):
    _, _, keys, _ = guarded
    first = client.get("/me", headers=h(keys.alice))
    etag = first.headers["etag"]
    r = client.get("/me", headers=h(keys.alice, **{"If-None-Match": etag}))
    assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    assert r.headers["cache-control"] == "private, no-cache"
    r = client.get("/me", headers=h(keys.alice, **{"If-None-Match": '"other"'}))
    assert r.status_code == 200 and r.json() == first.json()
    # Bob's If-None-Match with Alice's ETag gets Bob's own response, not a 304.
    r = client.get("/me", headers=h(keys.bob, **{"If-None-Match": etag}))
    assert r.status_code == 200 and r.json()["principal"] == "bob"


def test_head_is_answered_from_get_and_a_head_miss_stores_nothing(guarded, client):
    _, _, keys, runs = guarded
    r = client.head("/both", headers=h(keys.alice))
    assert r.status_code == 200 and "head-miss" in r.headers["cache-status"]
    r = client.head("/both", headers=h(keys.alice))
    assert "head-miss" in r.headers["cache-status"]  # still nothing stored
    get = client.get("/both", headers=h(keys.alice))
    assert get.headers["cache-status"] == "cacheward; fwd=miss; stored"
    r = client.head("/both", headers=h(keys.alice))
    assert r.headers["cache-status"] == "cacheward; hit" and r.content == b""
    assert runs["both"] == 3


def test_a_get_with_a_body_bypasses_the_cache(guarded, client):
    _, _, keys, runs = guarded
    client.get("/me", headers=h(keys.alice))
    r = client.request("GET", "/me", headers=h(keys.alice), content=b"x=1")
    assert "request-body" in r.headers["cache-status"]
    assert runs["me"] == 2


def test_purge_by_principal_tenant_and_all(guarded, client):
    import anyio

    _, ward, keys, runs = guarded
    client.get("/me", headers=h(keys.alice))
    client.get("/me", headers=h(keys.bob))
    anyio.run(lambda: ward.purge(principal="alice"))
    assert client.get("/me", headers=h(keys.alice)).headers["cache-status"].endswith("stored")
    assert client.get("/me", headers=h(keys.bob)).headers["cache-status"] == "cacheward; hit"
    client.get("/tenant", headers=h(keys.acme1))
    anyio.run(lambda: ward.purge(tenant="acme"))
    assert client.get("/tenant", headers=h(keys.acme2)).headers["cache-status"].endswith("stored")
    anyio.run(ward.purge)
    assert client.get("/me", headers=h(keys.bob)).headers["cache-status"].endswith("stored")
