"""Invariants 2, 4, 5 and 7: what is stored, under which key, and what leaves the app."""

from __future__ import annotations

from flask import Response, jsonify, make_response, request, stream_with_context
from tests.guardapp import make_app

from cacheward import current_principal
from cacheward.backends.base import Backend


def h(key, **extra):
    return {"X-API-Key": key, **extra}


def test_each_principal_gets_its_own_entry(guarded):
    app, _, keys = guarded
    c = app.test_client()
    a = c.get("/me", headers=h(keys.alice)).get_json()
    b = c.get("/me", headers=h(keys.bob)).get_json()
    assert a["principal"] == "alice" and b["principal"] == "bob"
    assert c.get("/me", headers=h(keys.bob)).get_json() == b
    assert c.get("/me", headers=h(keys.alice)).get_json() == a


def test_tenant_scope_shares_within_a_tenant_only(guarded):
    app, _, keys = guarded
    c = app.test_client()
    first = c.get("/tenant", headers=h(keys.acme1)).get_json()
    assert c.get("/tenant", headers=h(keys.acme2)).get_json() == first
    other = c.get("/tenant", headers=h(keys.alice)).get_json()
    assert other["tenant"] is None and other["run"] != first["run"]


def test_shared_scope_is_shared_but_keyed_by_vary(guarded):
    app, _, keys = guarded
    c = app.test_client()
    fr = c.get("/catalog", headers=h(keys.alice, **{"Accept-Language": "fr"})).get_json()
    assert c.get("/catalog", headers=h(keys.bob, **{"Accept-Language": "fr"})).get_json() == fr
    de = c.get("/catalog", headers=h(keys.bob, **{"Accept-Language": "de"})).get_json()
    assert de["lang"] == "de"
    # A shared entry still needs authentication first.
    assert c.get("/catalog", headers={"Accept-Language": "fr"}).status_code == 401


def test_no_raw_credential_in_keys_or_entries(guarded):
    app, _, keys = guarded
    c = app.test_client()
    for k in (keys.alice, keys.bob):
        c.get("/me", headers=h(k))
        c.get("/me", headers={"Authorization": f"Bearer {k}"})
    backend = app.extensions["cacheward"].backend
    dump = repr(backend._entries) + repr(backend._generations)
    scopes = " ".join(e.scope for e, _ in backend._entries.values())
    for k in (keys.alice, keys.bob):
        assert k not in dump
        assert k.split("_")[2][:10] not in dump  # not even part of the secret
    assert "alice" not in scopes and "bob" not in scopes  # keyed hashes, not ids
    assert all(s.startswith("principal:") for s in scopes.split())


def make_route(app, ward, view, **cached):
    app.add_url_rule("/v", "v", ward.protected()(ward.cached(**cached)(view)))


def storing_app(view, **cached):
    app, ward, store = make_app()
    key = store.create("alice").plaintext
    make_route(app, ward, view, **cached)
    return app, key


def status_of(app, key, n=2):
    c = app.test_client()
    return [c.get("/v", headers=h(key)) for _ in range(n)]


def test_unsafe_responses_are_never_stored():
    cases = {
        "401": lambda: ("no", 401),
        "403": lambda: ("no", 403),
        "404": lambda: ("no", 404),
        "500": lambda: ("no", 500),
        "503": lambda: ("no", 503),
        "set-cookie": lambda: _with(lambda r: r.set_cookie("s", "1")),
        "private": lambda: _with(lambda r: r.headers.__setitem__("Cache-Control", "private")),
        "no-store": lambda: _with(lambda r: r.headers.__setitem__("Cache-Control", "no-store")),
        "vary-star": lambda: _with(lambda r: r.headers.__setitem__("Vary", "*")),
        "vary-unkeyed": lambda: _with(lambda r: r.headers.__setitem__("Vary", "Accept")),
        "stream": lambda: Response(stream_with_context(iter([b"a", b"b"]))),
    }
    for name, view in cases.items():
        runs = []

        def counted(view=view, runs=runs):
            runs.append(1)
            return view()

        app, key = storing_app(counted)
        app.extensions["cacheward"].strict = False
        responses = status_of(app, key)
        assert len(runs) == 2, name
        assert all("hit" not in r.headers.get("Cache-Status", "") for r in responses), name


def _with(mutate):
    r = make_response("body")
    mutate(r)
    return r


def test_hits_never_replay_set_cookie_and_every_response_has_cache_control(guarded):
    app, _, keys = guarded
    c = app.test_client()
    for _ in range(2):
        r = c.get("/me", headers=h(keys.alice))
        assert "Set-Cookie" not in r.headers
        assert r.headers["Cache-Control"] == "private, no-cache"


def test_view_cannot_make_an_authenticated_response_public():
    def view():
        r = make_response("data")
        r.headers["Cache-Control"] = "public, max-age=600, s-maxage=600"
        return r

    app, key = storing_app(view)
    for r in status_of(app, key):
        assert r.headers["Cache-Control"] == "private, no-cache"


def test_uncached_protected_routes_are_no_store(guarded):
    app, ward, keys = guarded

    @app.get("/plain")
    @ward.protected()
    def plain():
        return "x"

    assert (
        app.test_client().get("/plain", headers=h(keys.alice)).headers["Cache-Control"]
        == "no-store"
    )


def test_per_key_downstream_mode_is_public_with_vary_on_credentials():
    app, ward, store = make_app(CACHEWARD_DOWNSTREAM="per-key")
    key = store.create("alice").plaintext
    make_route(app, ward, lambda: "x", ttl=30)
    r = app.test_client().get("/v", headers=h(key))
    assert r.headers["Cache-Control"] == "public, max-age=30"
    vary = {v.strip().lower() for v in r.headers["Vary"].split(",")}
    assert {"x-api-key", "authorization"} <= vary
    assert app.test_client().get("/v").headers["Cache-Control"] == "no-store"


def test_etag_304_head_and_age(guarded):
    app, _, keys = guarded
    c = app.test_client()
    first = c.get("/me", headers=h(keys.alice))
    etag = first.headers["ETag"]
    hit = c.get("/me", headers=h(keys.alice))
    assert hit.headers["ETag"] == etag and "Age" in hit.headers
    not_modified = c.get("/me", headers=h(keys.alice, **{"If-None-Match": etag}))
    assert not_modified.status_code == 304 and not_modified.data == b""
    # Another principal with Alice's ETag gets its own full response, not a 304.
    other = c.get("/me", headers=h(keys.bob, **{"If-None-Match": etag}))
    assert other.status_code == 200 and other.get_json()["principal"] == "bob"
    head = c.head("/me", headers=h(keys.alice))
    assert head.status_code == 200 and head.headers["Cache-Status"] == "cacheward; hit"
    assert head.data == b""
    assert app.config["RUNS"] == 2


def test_purge_by_principal_tag_and_all(guarded):
    app, ward, keys = guarded
    c = app.test_client()

    def runs_after(path, key):
        return c.get(path, headers=h(key)).get_json()["run"]

    a, b = runs_after("/me", keys.alice), runs_after("/me", keys.bob)
    acct = runs_after("/accounts/alice", keys.alice)
    ward.purge(principal="alice", app=app)
    assert runs_after("/me", keys.alice) != a
    assert runs_after("/me", keys.bob) == b
    assert runs_after("/accounts/alice", keys.alice) != acct  # purged with the principal
    acct = runs_after("/accounts/alice", keys.alice)
    me = runs_after("/me", keys.alice)
    ward.purge(tag="accounts", app=app)
    assert runs_after("/accounts/alice", keys.alice) != acct
    assert runs_after("/me", keys.alice) == me
    ward.purge(app=app)
    assert runs_after("/me", keys.bob) != b


class DeadBackend(Backend):
    name = "dead"

    def lookup(self, key, tags=()):
        raise ConnectionError("down")

    def store(self, key, entry):
        raise ConnectionError("down")

    def purge(self, *, scope=None, tag=None):
        raise ConnectionError("down")


def test_backend_failure_degrades_to_no_cache_never_to_no_auth():
    from flask import Flask

    from cacheward import Cacheward
    from cacheward.keys import MemoryKeyStore

    app = Flask("dead")
    app.config.update(CACHEWARD_SECRET="s" * 32)
    store = MemoryKeyStore()
    ward = Cacheward(app, keys=store, backend=DeadBackend())
    key = store.create("alice").plaintext

    @app.get("/d")
    @ward.protected()
    @ward.cached()
    def d():
        return jsonify(who=current_principal.id)

    c = app.test_client()
    assert c.get("/d").status_code == 401
    r = c.get("/d", headers=h(key))
    assert r.status_code == 200 and r.get_json() == {"who": "alice"}
    assert "bypass" in r.headers["Cache-Status"]
    assert ward.stats(app)["backend_errors"] >= 1


def test_bad_input_is_4xx_and_stores_nothing(guarded):
    app, _, keys = guarded
    c = app.test_client()
    backend = app.extensions["cacheward"].backend
    bad = [
        "/me?a=%FF",  # invalid UTF-8
        "/me?a=1&a=2",  # duplicate parameter
        "/me?" + "&".join(f"p{i}=1" for i in range(300)),  # too many
        "/me?" + "x=" + "a" * 9000,  # too long
    ]
    for url in bad:
        r = c.get(url, headers=h(keys.alice))
        assert 400 <= r.status_code < 500, url
        assert r.headers["Cache-Control"] == "no-store"
    assert len(backend) == 0
    assert app.config["RUNS"] == 0
    r = c.get("/me", headers={"X-API-Key": "k" * 10000})
    assert 400 <= r.status_code < 500


def test_fat_get_is_never_cached():
    runs = []

    def view():
        runs.append(1)
        return "x"

    app, key = storing_app(view)
    c = app.test_client()
    for _ in range(2):
        r = c.get("/v", headers=h(key), data="evil=1")
        assert "bypass" in r.headers["Cache-Status"]
    assert len(runs) == 2


def test_single_flight_runs_the_view_once_under_concurrent_misses():
    import threading
    import time

    runs = []

    def slow():
        runs.append(1)
        time.sleep(0.2)
        return "x"

    app, key = storing_app(slow)
    barrier = threading.Barrier(8)
    statuses = []

    def worker():
        c = app.test_client()
        barrier.wait()
        statuses.append(c.get("/v", headers=h(key)).status_code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 8
    assert len(runs) == 1


def test_request_is_not_touched_for_unmanaged_routes_without_credentials(guarded):
    app, _, _ = guarded

    @app.get("/public")
    def public():
        r = make_response("hello")
        r.headers["Cache-Control"] = "public, max-age=60"
        return r

    assert app.test_client().get("/public").headers["Cache-Control"] == "public, max-age=60"
    _ = request  # keep the import meaningful for readers


def test_duplicate_parameters_can_be_allowed_and_then_keep_their_order():
    app, ward, store = make_app(CACHEWARD_REJECT_DUPLICATE_PARAMS=False)
    key = store.create("alice").plaintext

    @app.get("/tags")
    @ward.protected()
    @ward.cached()
    def tags():
        return ",".join(request.args.getlist("t"))

    c = app.test_client()
    assert c.get("/tags?t=a&t=b", headers=h(key)).text == "a,b"
    assert c.get("/tags?t=b&t=a", headers=h(key)).text == "b,a"  # not the a,b entry
    assert c.get("/tags?t=a&t=b", headers=h(key)).headers["Cache-Status"] == "cacheward; hit"


def test_concurrent_misses_on_a_non_storable_route_are_not_serialized():
    import threading
    import time

    active = []
    peak = []

    def unstorable():
        active.append(1)
        peak.append(len(active))
        time.sleep(0.2)
        active.pop()
        return make_response("x", 500)

    app, key = storing_app(unstorable)
    barrier = threading.Barrier(6)

    def worker():
        c = app.test_client()
        barrier.wait()
        c.get("/v", headers=h(key))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # One leader, then the five followers together: serialized, the peak would be 1.
    assert max(peak) >= 2


def test_oversized_vary_header_is_4xx_and_stores_nothing(guarded):
    app, _, keys = guarded
    c = app.test_client()
    r = c.get("/catalog", headers=h(keys.alice, **{"Accept-Language": "x" * 10_000}))
    assert r.status_code == 400 and r.get_json()["error"] == "malformed_header"
    assert len(app.extensions["cacheward"].backend) == 0


def test_a_global_after_request_cannot_make_a_hit_public(guarded):
    app, _, keys = guarded

    @app.after_request
    def make_everything_public(response):
        response.headers["Cache-Control"] = "public, max-age=600"
        return response

    c = app.test_client()
    first = c.get("/me", headers=h(keys.alice))
    hit = c.get("/me", headers=h(keys.alice))
    assert hit.headers["Cache-Status"] == "cacheward; hit"
    assert first.headers["Cache-Control"] == hit.headers["Cache-Control"] == "private, no-cache"
