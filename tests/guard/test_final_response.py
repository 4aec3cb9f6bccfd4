"""Attacks on the guard's invariants through channels its first suite never tried
(issue 13): each test fails on a guard that tracks by allowlist or decides before the
final response."""

from __future__ import annotations

import math

import pytest
from flask import (
    Flask,
    after_this_request,
    copy_current_request_context,
    g,
    request,
    send_file,
    session,
)
from flask.views import MethodView

from cacheward import Cacheward, current_principal
from cacheward.errors import ConfigurationError
from cacheward.keys import MemoryKeyStore

SECRET = "s" * 32


def make(**config):
    app = Flask(__name__)
    app.config.update(CACHEWARD_SECRET=SECRET, CACHEWARD_STRICT=False, SECRET_KEY="k" * 16)
    app.config.update(config)
    store = MemoryKeyStore()
    ward = Cacheward(app, keys=store)
    return app, ward, store


def status(response):
    return response.headers.get("Cache-Status", "")


def test_str_of_headers_in_a_shared_view_is_never_stored():
    app, ward, store = make()
    alice = store.create("alice").plaintext
    bob = store.create("bob").plaintext

    @app.get("/h")
    @ward.protected()
    @ward.cached(scope="shared")
    def h():
        return f"{request.headers}"

    c = app.test_client()
    first = c.get("/h", headers={"X-API-Key": alice})
    assert "unkeyed-input" in status(first)
    second = c.get("/h", headers={"X-API-Key": bob})
    assert alice not in second.text


@pytest.mark.parametrize(
    "expr",
    [
        lambda: f"{current_principal}",
        lambda: repr(current_principal),
        lambda: str(hash(current_principal)),
        lambda: str(current_principal == current_principal),
        lambda: str(current_principal.scopes),
        lambda: str(current_principal.key_id),
        lambda: str(dict(request.environ)),
        lambda: str(request.environ["werkzeug.request"].headers),
        lambda: request.environ.get("RAW_URI", "") + request.environ.get("REQUEST_URI", ""),
        lambda: str(request.remote_user),
        lambda: str(request.__dict__.keys()),
        lambda: ",".join(request.headers.keys()),
        lambda: str(list(request.cookies.items())),
    ],
)
def test_unlisted_channels_fail_closed(expr):
    app, ward, store = make()
    key = store.create("alice").plaintext

    @app.get("/x")
    @ward.protected()
    @ward.cached(scope="shared")
    def x():
        return expr()

    c = app.test_client()
    assert "unkeyed-input" in status(c.get("/x", headers={"X-API-Key": key}))
    assert "hit" not in status(c.get("/x", headers={"X-API-Key": key}))


def test_method_and_fields_in_the_key_are_still_stored():
    app, ward, store = make()
    key = store.create("alice", tenant="t1").plaintext

    @app.get("/ok")
    @ward.protected()
    @ward.cached()
    def ok():
        return f"{request.method} {request.path} {current_principal.id} {current_principal.tenant}"

    c = app.test_client()
    assert status(c.get("/ok", headers={"X-API-Key": key})).endswith("stored")
    assert status(c.get("/ok", headers={"X-API-Key": key})) == "cacheward; hit"


def test_two_keys_of_one_principal_with_different_grants_never_share():
    app, ward, store = make()
    admin = store.create("alice", scopes=["admin"]).plaintext
    plain = store.create("alice").plaintext

    @app.get("/r")
    @ward.protected()
    @ward.cached(vary=[":scopes"])
    def r():
        return "admin view" if current_principal.has_scopes({"admin"}) else "plain view"

    @app.get("/r2")
    @ward.protected()
    @ward.cached()
    def r2():
        return "admin" if "admin" in current_principal.scopes else "plain"

    c = app.test_client()
    assert c.get("/r", headers={"X-API-Key": admin}).text == "admin view"
    assert c.get("/r", headers={"X-API-Key": plain}).text == "plain view"
    assert "unkeyed-input" in status(c.get("/r2", headers={"X-API-Key": admin}))
    assert c.get("/r2", headers={"X-API-Key": plain}).text == "plain"


def test_two_keys_of_one_principal_in_different_tenants_never_share():
    app, ward, store = make()
    k1 = store.create("alice", tenant="t1").plaintext
    k2 = store.create("alice", tenant="t2").plaintext

    @app.get("/t")
    @ward.protected()
    @ward.cached()
    def t():
        return f"tenant {current_principal.tenant}"

    c = app.test_client()
    assert c.get("/t", headers={"X-API-Key": k1}).text == "tenant t1"
    assert c.get("/t", headers={"X-API-Key": k2}).text == "tenant t2"


def test_two_apps_on_one_backend_never_share_entries():
    from cacheward.backends.memory import MemoryBackend

    backend = MemoryBackend()
    store = MemoryKeyStore()
    key = store.create("alice").plaintext
    ward = Cacheward(keys=store, backend=backend)
    apps = []
    for name in ("one", "two"):
        app = Flask(name)
        app.config.update(CACHEWARD_SECRET=SECRET, CACHEWARD_STRICT=False)
        ward.init_app(app)

        @app.get("/data", endpoint="data")
        @ward.protected()
        @ward.cached(scope="shared")
        def data(name=name):
            return f"app {name}"

        apps.append(app)
    assert apps[0].test_client().get("/data", headers={"X-API-Key": key}).text == "app one"
    assert apps[1].test_client().get("/data", headers={"X-API-Key": key}).text == "app two"


def test_after_request_set_cookie_and_session_change_are_seen():
    app, ward, store = make()
    key = store.create("alice").plaintext

    @app.after_request
    def late_cookie(response):
        if request.path == "/late-cookie":
            response.set_cookie("track", "1")
        return response

    @app.get("/late-cookie")
    @ward.protected()
    @ward.cached()
    def late():
        return "x"

    @app.get("/this-request")
    @ward.protected()
    @ward.cached()
    def this_request():
        @after_this_request
        def add(response):
            response.headers["Cache-Control"] = "public, max-age=600"
            response.headers.add("Vary", "Accept")
            response.headers.add("Vary", "*")
            return response

        return "y"

    @app.get("/session")
    @ward.protected()
    @ward.cached()
    def sess():
        session["seen"] = True
        return "z"

    c = app.test_client()
    r = c.get("/late-cookie", headers={"X-API-Key": key})
    assert "stored" not in status(r) and r.headers["Cache-Control"] == "no-store"
    r = c.get("/this-request", headers={"X-API-Key": key})
    assert "stored" not in status(r) and "public" not in r.headers["Cache-Control"]
    r = c.get("/session", headers={"X-API-Key": key})
    assert "stored" not in status(r) and r.headers["Cache-Control"] == "no-store"


def test_a_hook_registered_before_the_guard_cannot_make_a_miss_public():
    app = Flask(__name__)
    app.config.update(CACHEWARD_SECRET=SECRET, CACHEWARD_STRICT=False)

    @app.after_request
    def public(response):
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    store = MemoryKeyStore()
    ward = Cacheward(app, keys=store)
    key = store.create("alice").plaintext

    @app.get("/p")
    @ward.protected()
    @ward.cached()
    def p():
        return "p"

    c = app.test_client()
    for _ in range(2):
        r = c.get("/p", headers={"X-API-Key": key})
        assert "public" not in r.headers["Cache-Control"]


def test_unknown_length_bodies_are_measured_and_hop_by_hop_never_replayed():
    app, ward, store = make(CACHEWARD_MAX_ENTRY_BYTES=100)
    key = store.create("alice").plaintext

    @app.get("/big")
    @ward.protected()
    @ward.cached()
    def big():
        return app.response_class([b"x" * 80, b"y" * 80])

    @app.get("/hop")
    @ward.protected()
    @ward.cached()
    def hop():
        return "h", 200, {"Keep-Alive": "timeout=5", "Upgrade": "h2c", "Trailer": "X", "X-K": "1"}

    c = app.test_client()
    assert "stored" not in status(c.get("/big", headers={"X-API-Key": key}))
    c.get("/hop", headers={"X-API-Key": key})
    hit = c.get("/hop", headers={"X-API-Key": key})
    assert status(hit) == "cacheward; hit" and hit.headers["X-K"] == "1"
    for name in ("Keep-Alive", "Upgrade", "Trailer"):
        assert name not in hit.headers


def test_url_value_preprocessor_and_request_started_reads_count():
    from flask.signals import request_started

    app, ward, store = make()
    key = store.create("alice").plaintext
    seen = {}

    @app.url_value_preprocessor
    def pull(endpoint, values):
        g.host_header = request.headers.get("X-Forwarded-Host", "")

    def started(sender, **extra):
        seen["ua"] = request.headers.get("User-Agent", "")

    request_started.connect(started, app)

    @app.get("/u")
    @ward.protected()
    @ward.cached(scope="shared")
    def u():
        return f"link to {g.host_header} for {seen['ua']}"

    c = app.test_client()
    first = c.get("/u", headers={"X-API-Key": key, "X-Forwarded-Host": "evil.example"})
    assert "unkeyed-input" in status(first)
    clean = c.get("/u", headers={"X-API-Key": key})
    assert "evil.example" not in clean.text
    request_started.disconnect(started, app)


def test_method_view_methods_are_recorded_from_the_first_hook():
    app, ward, store = make()
    key = store.create("alice").plaintext

    @app.before_request
    def lang():
        g.lang = request.headers.get("Accept-Language", "en")

    class Items(MethodView):
        @ward.protected()
        @ward.cached(scope="shared")
        def get(self):
            return f"items in {g.lang}"

    app.add_url_rule("/items", view_func=Items.as_view("items"))
    c = app.test_client()
    assert "unkeyed-input" in status(
        c.get("/items", headers={"X-API-Key": key, "Accept-Language": "fr"})
    )
    assert c.get("/items", headers={"X-API-Key": key}).text == "items in en"


def test_head_miss_never_fills_the_get_entry():
    app, ward, store = make()
    key = store.create("alice").plaintext

    @app.route("/m", methods=["GET", "HEAD"])
    @ward.protected()
    @ward.cached()
    def m():
        if request.method == "HEAD":
            return "", 200, {"X-Was": "head"}
        return "full body", 200, {"X-Was": "get"}

    c = app.test_client()
    c.head("/m", headers={"X-API-Key": key})
    r = c.get("/m", headers={"X-API-Key": key})
    assert r.text == "full body" and r.headers["X-Was"] == "get"
    assert c.head("/m", headers={"X-API-Key": key}).headers["X-Was"] == "get"


def test_the_host_the_view_reads_is_the_keyed_one():
    app, ward, store = make()
    key = store.create("alice").plaintext

    @app.get("/where")
    @ward.protected()
    @ward.cached(scope="shared")
    def where():
        return f"https://{request.host}/x"

    c = app.test_client()
    c.get("/where", headers={"X-API-Key": key, "Host": "EVIL.example"})
    assert "EVIL" not in c.get("/where", headers={"X-API-Key": key, "Host": "evil.example"}).text


def test_host_routing_with_a_fixed_key_host_is_not_stored():
    app, ward, store = make(CACHEWARD_HOST="api.example", SERVER_NAME="api.example")
    app.subdomain_matching = True
    key = store.create("alice").plaintext

    @app.get("/s", subdomain="<tenant>")
    @ward.protected()
    @ward.cached(scope="shared")
    def s(tenant):
        return f"tenant {tenant}"

    c = app.test_client()
    r = c.get("/s", headers={"X-API-Key": key}, base_url="http://acme.api.example")
    assert "stored" not in status(r)


def test_a_script_name_split_never_shares_an_entry():
    app, ward, store = make()
    key = store.create("alice").plaintext

    @app.get("/<path:p>")
    @ward.protected()
    @ward.cached(scope="shared")
    def any_path(p):
        return f"root={request.script_root} p={p}"

    c = app.test_client()
    a = c.get("/b/c", headers={"X-API-Key": key}, environ_overrides={"SCRIPT_NAME": "/a"})
    b = c.get("/c", headers={"X-API-Key": key}, environ_overrides={"SCRIPT_NAME": "/a/b"})
    assert a.text != b.text


def test_send_file_and_copied_context_work_in_a_cached_view(tmp_path):
    app, ward, store = make()
    key = store.create("alice").plaintext
    path = tmp_path / "f.txt"
    path.write_text("file body")

    @app.get("/file")
    @ward.protected()
    @ward.cached()
    def file():
        return send_file(path)

    @app.get("/copy")
    @ward.protected()
    @ward.cached()
    def copy():
        @copy_current_request_context
        def inner():
            return request.path

        return inner()

    c = app.test_client()
    with c.get("/file", headers={"X-API-Key": key}) as r:
        assert r.status_code == 200 and r.get_data() == b"file body"
    assert c.get("/copy", headers={"X-API-Key": key}).text == "/copy"


@pytest.mark.parametrize("value", ["", 42, "\udcff", object()])
def test_principal_source_garbage_is_no_principal(value):
    app, ward, store = make(CACHEWARD_STRICT=True)

    @app.get("/g")
    @ward.cached(principal=lambda: value)
    def g_():
        return "ok"

    r = app.test_client().get("/g")
    assert r.status_code == 200 and "bypass" in status(r)


@pytest.mark.parametrize("ttl", [math.inf, math.nan, 0, -1, "10"])
def test_bad_ttl_is_a_configuration_error(ttl):
    app, ward, store = make()
    with pytest.raises(ConfigurationError):
        ward.cached(ttl=ttl)
    with pytest.raises(ConfigurationError):
        make(CACHEWARD_DEFAULT_TTL=ttl if ttl != "10" else "nan")


def test_async_views_are_cached_with_the_same_rules():
    pytest.importorskip("asgiref")
    app, ward, store = make()
    key = store.create("alice").plaintext

    @app.get("/a")
    @ward.protected()
    @ward.cached()
    async def a():
        return f"async {current_principal.id}"

    @app.get("/leaky")
    @ward.protected()
    @ward.cached(scope="shared")
    async def leaky():
        return request.headers.get("X-Forwarded-Host", "")

    c = app.test_client()
    assert c.get("/a", headers={"X-API-Key": key}).text == "async alice"
    assert status(c.get("/a", headers={"X-API-Key": key})) == "cacheward; hit"
    r = c.get("/leaky", headers={"X-API-Key": key, "X-Forwarded-Host": "evil"})
    assert "unkeyed-input" in status(r)


def test_per_key_mode_refuses_a_principal_route_without_its_credential_header():
    from flask_httpauth import HTTPTokenAuth

    app, ward, store = make(CACHEWARD_DOWNSTREAM="per-key")
    auth = HTTPTokenAuth(header="X-Token")
    with pytest.raises(ConfigurationError, match="credential_headers"):

        @ward.cached(principal=auth.current_user)
        def view():
            return "x"

    @app.get("/tok")
    @auth.login_required
    @ward.cached(principal=lambda: auth.current_user(), credential_headers=["X-Token"])
    def tok():
        return "ok"

    @auth.verify_token
    def verify(token):
        return {"t1": "alice", "t2": "bob"}.get(token)

    r = app.test_client().get("/tok", headers={"X-Token": "t1"})
    assert "X-Token" in r.headers.get("Vary", "")


def test_g_values_the_auth_layer_set_count_as_the_principal():
    from flask_httpauth import HTTPTokenAuth

    app, ward, store = make()
    auth = HTTPTokenAuth(scheme="Bearer")

    @auth.verify_token
    def verify(token):
        return {"t1": "alice", "t2": "bob"}.get(token)

    @app.get("/me")
    @auth.login_required
    @ward.cached(scope="shared", principal=lambda: auth.current_user())
    def me():
        return {"me": auth.current_user()}

    c = app.test_client()
    assert c.get("/me", headers={"Authorization": "Bearer t1"}).json == {"me": "alice"}
    assert c.get("/me", headers={"Authorization": "Bearer t2"}).json == {"me": "bob"}
    assert c.get("/me").status_code == 401


def test_an_abort_after_an_unkeyed_read_stays_the_error_in_strict_mode():
    from flask import abort

    app, ward, store = make(CACHEWARD_STRICT=True)
    key = store.create("alice").plaintext

    @app.get("/gone")
    @ward.protected()
    @ward.cached()
    def gone():
        if request.headers.get("X-Forwarded-Host"):
            abort(404)
        return "here"

    r = app.test_client().get("/gone", headers={"X-API-Key": key, "X-Forwarded-Host": "e"})
    assert r.status_code == 404 and r.headers["Cache-Control"] == "no-store"


def test_environ_values_a_hook_wrote_from_the_credential_count_as_the_principal():
    app, ward, store = make()
    alice = store.create("alice").plaintext
    bob = store.create("bob").plaintext

    @app.before_request
    def who():
        request.environ["app.user"] = request.headers.get("X-API-Key", "")[:12]

    @app.get("/env-user")
    @ward.protected()
    @ward.cached(scope="shared")
    def env_user():
        return request.environ["app.user"]

    c = app.test_client()
    first = c.get("/env-user", headers={"X-API-Key": alice})
    assert "unkeyed-input" in status(first)
    assert c.get("/env-user", headers={"X-API-Key": bob}).text == bob[:12]


def test_a_dispatch_the_window_cannot_see_through_fails_closed():
    from flask.signals import request_started

    app, ward, store = make()
    key = store.create("alice").plaintext
    seen = {}

    @ward.protected()
    @ward.cached(scope="shared")
    def inner():
        return f"made for {seen['host']}"

    # A view that calls the cached one without functools.wraps: the window cannot tell
    # that the endpoint is cached, so request_started reads go unrecorded.
    app.add_url_rule("/opaque", "opaque", lambda: inner())

    def started(sender, **extra):
        seen["host"] = request.headers.get("X-Forwarded-Host", "")

    request_started.connect(started, app)
    try:
        c = app.test_client()
        first = c.get("/opaque", headers={"X-API-Key": key, "X-Forwarded-Host": "evil"})
        assert "unkeyed-input" in status(first)
        assert "evil" not in c.get("/opaque", headers={"X-API-Key": key}).text
    finally:
        request_started.disconnect(started, app)
