"""What the auth layer and the after_request hooks read (issue 14).

The auth layer (the decorators between the hooks and ``@ward.cached``) reads to
authenticate: that is never an input of the response, with hooks or without. The
after_request hooks run again on every hit: what they read only matters to what is
stored, and when it would, the view's own response is stored instead. Each test fails
on the guard before issue 14.
"""

from __future__ import annotations

import functools

import pytest
from flask import Flask, g, request, session

from cacheward import Cacheward

SECRET = "s" * 32
USERS = {"t-alice": "alice", "t-bob": "bob"}


def make(hook: bool) -> tuple[Flask, Cacheward]:
    app = Flask(__name__)
    app.config.update(CACHEWARD_SECRET=SECRET, CACHEWARD_STRICT=False, SECRET_KEY="k" * 16)
    ward = Cacheward(app)
    if hook:

        @app.before_request
        def maintenance():  # answers nothing: the request goes on
            return None

    return app, ward


def token_auth(view):
    """An auth layer of the app's own: reads its own header, leaves the user on g."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        user = USERS.get(request.headers.get("X-Token", ""))
        if user is None:
            return {"error": "who are you"}, 401
        g.user = user
        return view(*args, **kwargs)

    return wrapper


def status(r) -> str:
    return r.headers.get("Cache-Status", "")


@pytest.mark.parametrize("hook", [False, True], ids=["no-hooks", "with-a-hook"])
def test_what_the_auth_layer_reads_does_not_decide_a_shared_routes_cacheability(hook):
    """Issue 14: a shared route was stored with no hooks and refused (unkeyed-input)
    once any before_request hook (Flask-Limiter's) was on."""
    app, ward = make(hook)
    runs = []

    @app.get("/catalog")
    @token_auth
    @ward.cached(scope="shared", principal=lambda: g.get("user"))
    def catalog():
        runs.append(1)
        return {"items": [1, 2]}

    c = app.test_client()
    assert "stored" in status(c.get("/catalog", headers={"X-Token": "t-alice"}))
    r = c.get("/catalog", headers={"X-Token": "t-bob"})
    assert status(r) == "cacheward; hit" and r.json == {"items": [1, 2]}
    assert runs == [1]
    assert c.get("/catalog").status_code == 401


@pytest.mark.parametrize("hook", [False, True], ids=["no-hooks", "with-a-hook"])
def test_a_shared_view_reading_what_the_auth_layer_produced_is_never_stored(hook):
    app, ward = make(hook)

    @app.get("/me")
    @token_auth
    @ward.cached(scope="shared", principal=lambda: g.get("user"))
    def me():
        return {"me": g.user}

    c = app.test_client()
    first = c.get("/me", headers={"X-Token": "t-alice"})
    assert "unkeyed-input" in status(first)
    assert c.get("/me", headers={"X-Token": "t-bob"}).json == {"me": "bob"}


def test_what_a_hook_reads_before_the_view_still_counts():
    """The auth layer's reads are set aside, a hook's are not: a hook may hand what it
    read to the view through any channel (here a closure)."""
    app, ward = make(hook=False)
    seen = {}

    @app.before_request
    def lang():
        seen["lang"] = request.headers.get("Accept-Language", "")

    @app.get("/hello")
    @token_auth
    @ward.cached(scope="shared", principal=lambda: g.get("user"))
    def hello():
        return {"lang": seen["lang"]}

    c = app.test_client()
    first = c.get("/hello", headers={"X-Token": "t-alice", "Accept-Language": "fr"})
    assert "unkeyed-input" in status(first)
    assert c.get("/hello", headers={"X-Token": "t-bob"}).json == {"lang": ""}


def test_an_after_request_hook_reading_an_input_gets_the_views_response_stored():
    """The hook runs again on the hit, for the hit's own request: its echo is never
    another request's."""
    app, ward = make(hook=False)

    @app.after_request
    def echo(response):
        response.headers["X-Echo"] = request.headers.get("X-Forwarded-Host", "-")
        return response

    @app.get("/e")
    @token_auth
    @ward.cached(scope="shared", principal=lambda: g.get("user"))
    def e():
        return "body"

    c = app.test_client()
    first = c.get("/e", headers={"X-Token": "t-alice", "X-Forwarded-Host": "evil.example"})
    assert "stored" in status(first) and first.headers["X-Echo"] == "evil.example"
    hit = c.get("/e", headers={"X-Token": "t-bob"})
    assert status(hit) == "cacheward; hit"
    assert hit.headers["X-Echo"] == "-"
    assert hit.headers.getlist("X-Echo") == ["-"]


def test_an_after_request_hook_changing_the_body_by_an_input_is_not_replayed():
    app, ward = make(hook=False)

    @app.after_request
    def stamp(response):
        response.set_data(response.get_data() + request.headers.get("X-Stamp", "").encode())
        return response

    @app.get("/s")
    @token_auth
    @ward.cached(scope="shared", principal=lambda: g.get("user"))
    def s():
        return "body:"

    c = app.test_client()
    assert c.get("/s", headers={"X-Token": "t-alice", "X-Stamp": "ALICE"}).text == "body:ALICE"
    hit = c.get("/s", headers={"X-Token": "t-bob", "X-Stamp": "bob"})
    assert status(hit) == "cacheward; hit" and hit.text == "body:bob"


def test_an_after_request_hook_using_what_the_view_left_keeps_its_work_on_hits():
    """When everything the hooks read is keyed, the final response is stored, so what a
    hook built from the view's own values (on g) is still there on a hit."""
    app, ward = make(hook=False)

    @app.after_request
    def total(response):
        if "total" in g:
            response.headers["X-Total"] = str(g.total)
        return response

    @app.get("/t")
    @token_auth
    @ward.cached(principal=lambda: g.get("user"))
    def t():
        g.total = 3
        return "t"

    c = app.test_client()
    assert "stored" in status(c.get("/t", headers={"X-Token": "t-alice"}))
    hit = c.get("/t", headers={"X-Token": "t-alice"})
    assert status(hit) == "cacheward; hit" and hit.headers["X-Total"] == "3"


def test_a_view_reading_the_session_is_not_stored_but_the_auth_layers_read_is_not_its():
    app, ward = make(hook=False)

    def session_auth(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            g.user = session.get("user")
            if g.user is None:
                return {"error": "log in"}, 401
            return view(*args, **kwargs)

        return wrapper

    @app.get("/login/<name>")
    def login(name):
        session["user"] = name
        session["cart"] = f"{name}'s cart"
        return "ok"

    @app.get("/cart")
    @session_auth
    @ward.cached(principal=lambda: g.get("user"))
    def cart():
        return {"cart": session.get("cart")}

    @app.get("/profile")
    @session_auth
    @ward.cached(principal=lambda: g.get("user"))
    def profile():
        return {"user": g.user}

    alice, alice2 = app.test_client(), app.test_client()
    alice.get("/login/alice")
    alice2.get("/login/alice")
    with alice2.session_transaction() as s:
        s["cart"] = "another cart"
    assert "unkeyed-input" in status(alice.get("/cart"))
    assert alice2.get("/cart").json == {"cart": "another cart"}
    assert "stored" in status(alice.get("/profile"))
    hit = alice2.get("/profile")
    assert status(hit) == "cacheward; hit" and hit.json == {"user": "alice"}
    assert "Cookie" in hit.headers.get("Vary", "")


def test_an_after_request_hook_reading_the_session_stores_the_views_response():
    app, ward = make(hook=False)

    @app.after_request
    def theme(response):
        response.headers["X-Theme"] = session.get("theme", "light")
        return response

    @app.get("/page")
    @token_auth
    @ward.cached(principal=lambda: g.get("user"))
    def page():
        return "page"

    dark, light = app.test_client(), app.test_client()
    with dark.session_transaction() as s:
        s["theme"] = "dark"
    assert "stored" in status(dark.get("/page", headers={"X-Token": "t-alice"}))
    hit = light.get("/page", headers={"X-Token": "t-alice"})
    assert status(hit) == "cacheward; hit" and hit.headers["X-Theme"] == "light"


def test_a_hook_acting_on_what_the_view_left_is_never_skipped_on_a_hit():
    """The view's own response is stored in place of the final one only when the hooks
    read nothing the view left them: here the view asks a hook to redact, and the hook
    also reads an unkeyed header, so nothing is stored (a hit would skip the redaction)."""
    app, ward = make(hook=False)

    @app.after_request
    def redact(response):
        if g.get("redact"):
            response.set_data(b"[redacted]" + request.headers.get("X-Note", "").encode())
        return response

    @app.get("/secret")
    @token_auth
    @ward.cached(principal=lambda: g.get("user"))
    def secret():
        g.redact = True
        return "the secret"

    c = app.test_client()
    first = c.get("/secret", headers={"X-Token": "t-alice", "X-Note": "n"})
    assert first.text == "[redacted]n" and "unkeyed-input" in status(first)
    assert c.get("/secret", headers={"X-Token": "t-alice"}).text == "[redacted]"


def test_an_after_request_hook_reading_an_unknown_channel_stores_nothing():
    app, ward = make(hook=False)

    @app.after_request
    def raw(response):
        response.headers["X-Raw"] = str(request.environ.get("RAW_URI", ""))
        return response

    @app.get("/raw")
    @token_auth
    @ward.cached(principal=lambda: g.get("user"))
    def raw_view():
        return "raw"

    c = app.test_client()
    assert "unkeyed-input" in status(c.get("/raw", headers={"X-Token": "t-alice"}))


def test_when_the_end_of_the_hooks_is_not_seen_the_auth_layers_reads_count():
    """The fallback: an app that replaced ``dispatch_request`` after the guard (so the
    guard cannot tell the hooks' reads from the auth layer's) gets the hooks' rule for
    both: nothing is left out."""
    app, ward = make(hook=True)
    app.dispatch_request = functools.partial(Flask.dispatch_request, app)

    @app.get("/catalog")
    @token_auth
    @ward.cached(scope="shared", principal=lambda: g.get("user"))
    def catalog():
        return {"items": [1, 2]}

    c = app.test_client()
    assert "unkeyed-input" in status(c.get("/catalog", headers={"X-Token": "t-alice"}))
