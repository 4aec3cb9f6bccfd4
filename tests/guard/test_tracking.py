"""Invariant 3: a response that read an input outside its key is never stored."""

from __future__ import annotations

import pytest
from flask import render_template_string, request, url_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.guardapp import make_app
from werkzeug.middleware.proxy_fix import ProxyFix

from cacheward import UnkeyedInputError, current_principal
from cacheward.core.inputs import KeyCoverage, Kind, is_keyed, unkeyed_reads
from cacheward.core.policy import KeyPolicy, Scope

CHANNELS = {
    # name: (view, request headers, query, cached kwargs that key the input, extra)
    "header": (
        lambda: request.headers.get("X-Forwarded-Host", "-"),
        {"X-Forwarded-Host": "evil.example"},
        "",
        {"vary": ["X-Forwarded-Host"]},
        {},
    ),
    "environ header": (
        lambda: request.environ.get("HTTP_X_ORIGINAL_URL", "-"),
        {"X-Original-URL": "/admin"},
        "",
        {"vary": ["X-Original-URL"]},
        {},
    ),
    "cookie": (
        lambda: request.cookies.get("lang", "-"),
        {"Cookie": "lang=fr"},
        "",
        {"vary": ["Cookie"]},
        {},
    ),
    "dropped query parameter": (
        lambda: request.args.get("utm_source", "-"),
        {},
        "?utm_source=evil",
        {"ignore_params": ()},
        {},
    ),
    "whole query": (
        lambda: request.full_path,
        {},
        "?utm_source=evil",
        {"ignore_params": ()},
        {},
    ),
    "host": (
        lambda: request.host,
        {"Host": "evil.example"},
        "",
        {"vary": ["Host"]},
        {"CACHEWARD_HOST": "api.example"},
    ),
    "remote address": (
        lambda: request.remote_addr or "-",
        {},
        "",
        {"vary": [":remote-addr"]},
        {},
    ),
    "principal in a shared response": (
        lambda: current_principal.id,
        {},
        "",
        {"scope": "principal"},
        {"scope": "shared"},
    ),
    "credential in a principal-scoped response": (
        lambda: str(len(request.headers["X-API-Key"])),
        {},
        "",
        {"vary": [":key-id"]},
        {},
    ),
    "url_for external behind ProxyFix": (
        lambda: url_for("other", _external=True),
        {"X-Forwarded-Host": "evil.example"},
        "",
        {"vary": ["X-Forwarded-Host"]},
        {"proxy_fix": True},
    ),
    "template reading request": (
        lambda: render_template_string("{{ request.headers['X-Forwarded-Host'] }}"),
        {"X-Forwarded-Host": "evil.example"},
        "",
        {"vary": ["X-Forwarded-Host"]},
        {},
    ),
}


@pytest.mark.parametrize("name", list(CHANNELS))
def test_unkeyed_read_is_refused_and_keyed_read_is_stored(name):
    view, headers, query, keyed, extra = CHANNELS[name]
    extra = dict(extra)
    proxy_fix = extra.pop("proxy_fix", False)
    host = extra.pop("CACHEWARD_HOST", None)
    unkeyed_kwargs = dict(extra)

    def build(strict, cached):
        app, ward, store = make_app(CACHEWARD_STRICT=strict, CACHEWARD_HOST=host)
        key = store.create("alice", tenant="acme").plaintext
        app.add_url_rule("/v", "v", ward.protected()(ward.cached(**cached)(view)))
        app.add_url_rule("/other", "other", lambda: "o")
        if proxy_fix:
            app.wsgi_app = ProxyFix(app.wsgi_app, x_host=1)  # type: ignore[method-assign]
        c = app.test_client()
        hdrs = {"X-API-Key": key, **headers}
        return c, hdrs

    # Strict (testing) mode: raises, naming the input and the fix.
    c, hdrs = build(True, unkeyed_kwargs)
    with pytest.raises(UnkeyedInputError) as info:
        c.get("/v" + query, headers=hdrs)
    assert info.value.fix and info.value.input
    # Production mode: served, never stored.
    c, hdrs = build(False, unkeyed_kwargs)
    for _ in range(2):
        r = c.get("/v" + query, headers=hdrs)
        assert r.status_code == 200
        assert r.headers["Cache-Status"] == "cacheward; fwd=miss; detail=unkeyed-input"
    # Keyed: stored, and the second request is a hit.
    c, hdrs = build(True, {**unkeyed_kwargs, **keyed})
    first = c.get("/v" + query, headers=hdrs)
    second = c.get("/v" + query, headers=hdrs)
    assert first.headers["Cache-Status"].endswith("stored"), first.headers
    assert second.headers["Cache-Status"] == "cacheward; hit"


def test_two_keys_of_one_principal_never_share_what_the_credential_decided():
    """A principal may hold several keys (rotation, one per service): a view that reads
    the raw credential answers for that key alone, so the next key never gets it."""
    app, ward, store = make_app(CACHEWARD_STRICT=False)
    first = store.create("alice").plaintext
    second = store.create("alice").plaintext

    @app.get("/tail")
    @ward.protected()
    @ward.cached(ttl=60)
    def tail():  # type: ignore[no-untyped-def]
        return request.headers["X-API-Key"][-4:]

    c = app.test_client()
    assert c.get("/tail", headers={"X-API-Key": first}).get_data(as_text=True) == first[-4:]
    r = c.get("/tail", headers={"X-API-Key": second})
    assert r.get_data(as_text=True) == second[-4:], "one key's credential reached another"


def test_body_read_on_get_is_never_stored():
    from cacheward.core.inputs import Kind

    policy = KeyPolicy()
    assert not is_keyed((Kind.BODY, ""), policy, KeyCoverage())


def test_poisoned_forwarded_host_never_reaches_the_next_caller():
    app, ward, store = make_app(CACHEWARD_STRICT=False)
    key = store.create("alice").plaintext

    @app.get("/links")
    @ward.protected()
    @ward.cached(ttl=60)
    def links():
        return url_for("links", _external=True)

    app.wsgi_app = ProxyFix(app.wsgi_app, x_host=1)  # type: ignore[method-assign]
    c = app.test_client()
    evil = c.get("/links", headers={"X-API-Key": key, "X-Forwarded-Host": "evil.example"})
    assert "evil.example" in evil.text
    clean = c.get("/links", headers={"X-API-Key": key})
    assert "evil.example" not in clean.text
    assert c.get("/links", headers={"X-API-Key": key}).headers["Cache-Status"].endswith("hit")


def test_before_request_reads_are_not_confused_with_view_reads():
    app, ward, store = make_app(CACHEWARD_STRICT=True)
    key = store.create("alice").plaintext

    @app.get("/t")
    @ward.protected()
    @ward.cached()
    def t():
        return "t"

    c = app.test_client()
    c.get("/t", headers={"X-API-Key": key})
    assert c.get("/t", headers={"X-API-Key": key}).headers["Cache-Status"].endswith("hit")


def test_tracking_is_off_on_hits_and_outside_views(guarded):
    from cacheward.flask.recorder import current_recorder

    app, _, keys = guarded
    c = app.test_client()
    c.get("/me", headers={"X-API-Key": keys.alice})
    assert current_recorder.get() is None


READS = st.sets(
    st.one_of(
        st.tuples(st.just(Kind.HEADER), st.sampled_from(["accept-language", "x-a", "x-b", "*"])),
        st.tuples(st.just(Kind.QUERY), st.sampled_from(["page", "utm_source", "q"])),
        st.tuples(st.just(Kind.COOKIE), st.sampled_from(["lang", "*"])),
        st.tuples(
            st.sampled_from([Kind.PRINCIPAL, Kind.TENANT, Kind.CREDENTIAL, Kind.BODY]),
            st.just(""),
        ),
    ),
    max_size=6,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    reads=READS,
    vary=st.sets(
        st.sampled_from(["Accept-Language", "X-A", "X-B", "Cookie", ":key-id"]), max_size=5
    ),
    scope=st.sampled_from(list(Scope)),
    dropped=st.sets(st.sampled_from(["utm_source", "q"]), max_size=2),
)
def test_stored_exactly_when_reads_are_within_the_key(reads, vary, scope, dropped):
    """An independent statement of the rule, checked against the implementation."""
    policy = KeyPolicy(scope=scope, vary=tuple(vary))
    coverage = KeyCoverage(dropped_params=frozenset(dropped))
    lowered = {v.lower() for v in vary}

    def expected(read):
        kind, name = read
        if kind is Kind.HEADER:
            return name in lowered
        if kind is Kind.COOKIE:
            return "cookie" in lowered
        if kind is Kind.QUERY:
            return name not in dropped
        if kind is Kind.PRINCIPAL:
            return scope is Scope.PRINCIPAL
        if kind is Kind.CREDENTIAL:  # each key of a principal has its own credential
            return scope is Scope.PRINCIPAL and ":key-id" in vary
        if kind is Kind.TENANT:
            return scope is not Scope.SHARED
        return False

    stored = not unkeyed_reads(reads, policy, coverage)
    assert stored == all(expected(r) for r in reads)


@pytest.mark.parametrize("keyed", [False, True])
def test_before_request_reads_count(keyed):
    from flask import g

    app, ward, store = make_app(CACHEWARD_STRICT=True)
    key = store.create("alice").plaintext
    seen_types = []

    @app.before_request
    def pick_language():
        g.lang = request.headers.get("Accept-Language", "en")

    @app.after_request
    def check_request_recorded(response):
        seen_types.append(type(request._get_current_object()).__name__)
        return response

    @app.teardown_request
    def check_request_restored(exc):
        seen_types.append(type(request._get_current_object()).__name__)

    @app.get("/hello")
    @ward.protected()
    @ward.cached(vary=["Accept-Language"] if keyed else [])
    def hello():
        return f"hello in {g.lang}"

    c = app.test_client()
    hdrs = {"X-API-Key": key, "Accept-Language": "fr"}
    if not keyed:
        with pytest.raises(UnkeyedInputError, match="Accept-Language"):
            c.get("/hello", headers=hdrs)
        return
    assert c.get("/hello", headers=hdrs).headers["Cache-Status"].endswith("stored")
    hit = c.get("/hello", headers=hdrs)
    assert hit.headers["Cache-Status"] == "cacheward; hit" and hit.text == "hello in fr"
    assert c.get("/hello", headers={"X-API-Key": key}).text == "hello in en"
    # A miss records its after_request hooks too; a hit stops recording; the real
    # request is back before the request ends.
    miss, hit_, end = "TrackedRequest", "Request", "Request"
    assert seen_types == [miss, end, hit_, end, miss, end]


@pytest.mark.parametrize("keyed", [False, True])
def test_session_reads_count_as_cookie_reads(keyed):
    """Found by the benchmark work: the session is opened before the view, so the proxies
    never saw it, and one client's session-dependent body was served to another."""
    from flask import session

    app, ward, store = make_app(CACHEWARD_STRICT=False, SECRET_KEY="flask-session-secret")
    key = store.create("alice").plaintext

    @app.get("/login/<name>")
    def login(name):
        session["user"] = name
        return "ok"

    @app.get("/whoami")
    @ward.protected()
    @ward.cached(vary=["Cookie"] if keyed else [])
    def whoami():
        return session.get("user", "nobody")

    admin, other = app.test_client(), app.test_client()
    admin.get("/login/alice-as-admin")
    assert admin.get("/whoami", headers={"X-API-Key": key}).text == "alice-as-admin"
    assert other.get("/whoami", headers={"X-API-Key": key}).text == "nobody"
    if keyed:
        again = admin.get("/whoami", headers={"X-API-Key": key})
        assert again.headers["Cache-Status"] == "cacheward; hit"


def test_a_view_that_changes_the_session_is_never_stored():
    from flask import session

    app, ward, store = make_app(CACHEWARD_STRICT=False, SECRET_KEY="flask-session-secret")
    key = store.create("alice").plaintext

    @app.get("/visit")
    @ward.protected()
    @ward.cached(vary=["Cookie"])
    def visit():
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    c = app.test_client()
    assert [c.get("/visit", headers={"X-API-Key": key}).text for _ in range(3)] == ["1", "2", "3"]
