"""``cacheward.testing`` used the way a team would: one suite, two apps.

The same test file passes against the API guarded by cacheward and fails, with a clear,
redacted message, against the API built with Flask-Caching in its documented order.
"""

from __future__ import annotations

import pytest

# Here, not in a conftest: pytest refuses ``pytest_plugins`` in a conftest below the
# rootdir once collection has begun, and the root conftest should not load pytester
# for every test.
pytest_plugins = ["pytester"]

SUITE = """
from cacheward.testing import assert_no_cross_key_leak


def test_report_never_leaks(client, keys, denied):
    assert_no_cross_key_leak(client, "/report", keys, denied=denied)


def test_report_never_leaks_valid_keys_first(client, keys, denied):
    assert_no_cross_key_leak(client, "/report", keys, denied=denied, refused_first=False)
"""

CACHEWARD_CONFTEST = """
import pytest
from flask import Flask, jsonify

from cacheward import Cacheward, current_principal
from cacheward.keys import MemoryKeyStore


@pytest.fixture
def app():
    app = Flask("guarded")
    app.config.update(TESTING=True, CACHEWARD_SECRET="s" * 32)
    ward = Cacheward(app, keys=MemoryKeyStore())

    @app.get("/report")
    @ward.protected("reports:read")
    @ward.cached(ttl=60)
    def report():
        return jsonify(owner=current_principal.id, balance=f"balance of {current_principal.id}")

    return app


@pytest.fixture(autouse=True)
def _strict(cacheward_strict):
    pass


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def keys(cacheward_keys):
    return {name: cacheward_keys(name, ["reports:read"]) for name in ("alice", "bob")}


@pytest.fixture
def denied(cacheward_keys):
    return [cacheward_keys("intern", []), "cw_not_a_real_key"]
"""

FLASK_CACHING_CONFTEST = """
import pathlib

import pytest
from flask import Flask, jsonify
from flask_caching import Cache
from flask_httpauth import HTTPTokenAuth

from cacheward.keys.format import generate
from cacheward.testing import RedactedKey

ALICE = RedactedKey(generate("aliceaaaaaaa")[0])
BOB = RedactedKey(generate("bobbbbbbbbbb")[0])
NOBODY = RedactedKey(generate("nobodyyyyyyy")[0])
# So that the outer test can check that no plaintext reached the output.
pathlib.Path("plaintexts.txt").write_text("\\n".join([ALICE, BOB, NOBODY]))


@pytest.fixture
def app():
    app = Flask("seed")
    app.config["TESTING"] = True
    cache = Cache(app, config={"CACHE_TYPE": "SimpleCache"})
    auth = HTTPTokenAuth(header="X-API-Key")
    tokens = {ALICE: "alice", BOB: "bob"}
    auth.verify_token(lambda token: tokens.get(token))

    # Flask-Caching's documented order: the cache outside the auth decorator.
    @app.route("/report")
    @cache.cached(timeout=60)
    @auth.login_required
    def report():
        user = auth.current_user()
        return jsonify(owner=user, balance=f"balance of {user}")

    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def keys():
    return {"alice": ALICE, "bob": BOB}


@pytest.fixture
def denied():
    return [NOBODY]
"""


def _run(pytester: pytest.Pytester, conftest: str) -> pytest.RunResult:
    pytester.makeconftest(conftest)
    pytester.makepyfile(test_api=SUITE)
    return pytester.runpytest("-p", "no:cacheprovider", "-q")


def test_suite_passes_on_cacheward_guarded_app(pytester: pytest.Pytester):
    result = _run(pytester, CACHEWARD_CONFTEST)
    result.assert_outcomes(passed=2)


def test_suite_fails_on_flask_caching_app_with_redacted_message(pytester: pytest.Pytester):
    result = _run(pytester, FLASK_CACHING_CONFTEST)
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    # Once per failing test; the short summary may repeat it, depending on terminal width.
    assert out.count("cacheward: GET /report leaks across keys") >= 2
    # Refused callers first: their cached 401 is served to every valid key after them.
    assert "alice (cw_aliceaaaaaaa_…) answered 401, expected its own 2xx" in out
    # Alice first: her response is served to Bob, to no key and to a denied key.
    assert (
        "by bob (cw_bobbbbbbbbbb_…) after alice (cw_aliceaaaaaaa_…) was served"
        " alice (cw_aliceaaaaaaa_…)'s response" in out
    )
    assert "by an anonymous caller (no key) right after alice" in out
    assert "by a denied key (cw_nobodyyyyyyy_…) right after alice" in out
    assert "cw_aliceaaaaaaa_…" in out
    plaintexts = (pytester.path / "plaintexts.txt").read_text().split("\n")
    assert len(plaintexts) == 3
    for plaintext in plaintexts:
        assert plaintext not in out


def test_strict_fixture_turns_unkeyed_reads_into_errors(pytester: pytest.Pytester):
    pytester.makeconftest(CACHEWARD_CONFTEST)
    pytester.makepyfile(
        test_unkeyed="""
from flask import jsonify, request

from cacheward import current_principal


def test_unkeyed_header_raises(app, client, keys):
    ward = app.extensions["cacheward"]
    from cacheward import Cacheward

    guard = Cacheward()
    guard.keys = ward.keys

    @app.get("/greeting")
    @guard.protected()
    @guard.cached(ttl=60)
    def greeting():
        return jsonify(lang=request.headers.get("Accept-Language"), who=current_principal.id)

    client.get("/greeting", headers={"X-API-Key": keys["alice"]})
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*UnkeyedInputError*Accept-Language*"])


def test_fixtures_explain_a_missing_cacheward(pytester: pytest.Pytester):
    pytester.makeconftest(FLASK_CACHING_CONFTEST)
    pytester.makepyfile(
        test_misuse="""
def test_strict(cacheward_strict):
    pass
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-q")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*cacheward_strict*has no Cacheward*init_app*"])


def test_keys_fixture_never_writes_into_the_apps_store(pytester: pytest.Pytester):
    """Issue 14: ``cacheward_keys`` issued its keys in the app's real store (an SQLite
    file in the instance folder); it now swaps in a store of its own and puts the real
    one back."""
    pytester.makeconftest(
        """
import pytest
from flask import Flask, jsonify

from cacheward import Cacheward, current_principal
from cacheward.keys import SQLiteKeyStore

REAL = {}


@pytest.fixture
def app(tmp_path):
    app = Flask("guarded", instance_path=str(tmp_path / "instance"))
    app.config.update(TESTING=True, CACHEWARD_SECRET="s" * 32)
    REAL["store"] = store = SQLiteKeyStore("keys.db", app=app)
    ward = Cacheward(app, keys=store)

    @app.get("/me")
    @ward.protected()
    def me():
        return jsonify(id=current_principal.id)

    yield app
    assert app.extensions["cacheward"].keys is store, "real store not put back"
    assert store.list() == [], "the fixture wrote into the app's store"
"""
    )
    pytester.makepyfile(
        """
def test_key_works(app, cacheward_keys):
    key = cacheward_keys("alice")
    r = app.test_client().get("/me", headers={"X-API-Key": key})
    assert r.get_json() == {"id": "alice"}
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)
