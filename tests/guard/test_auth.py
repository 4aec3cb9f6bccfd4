"""Invariant 1: authenticate and authorize before any lookup; and the credential rules."""

from __future__ import annotations

import pytest


def get(client, path, key=None, bearer=None, **headers):
    if key is not None:
        headers["X-API-Key"] = key
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    return client.get(path, headers=headers)


def test_missing_key_is_401_json_no_store(guarded):
    app, _, _ = guarded
    r = get(app.test_client(), "/me")
    assert r.status_code == 401
    assert r.get_json()["error"] == "missing_credentials"
    assert r.headers["Cache-Control"] == "no-store"
    assert "Bearer" in r.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "bad",
    ["nope", "cw_", "cw_aaaaaaaaaaaa_" + "A" * 38, "x" * 5000, "cw_ds3tinhvslrl_\x00"],
)
def test_malformed_keys_are_4xx_and_never_echoed(guarded, bad):
    app, _, _ = guarded
    r = app.test_client().get("/me", headers={"X-API-Key": bad})
    assert 400 <= r.status_code < 500
    assert bad not in r.get_data(as_text=True)


def test_typo_in_a_real_key_is_refused(guarded):
    app, _, keys = guarded
    typo = keys.alice[:-1] + ("A" if keys.alice[-1] != "A" else "B")
    assert get(app.test_client(), "/me", key=typo).status_code == 401


def test_bearer_and_header_both_work_and_must_agree(guarded):
    app, _, keys = guarded
    c = app.test_client()
    assert get(c, "/me", bearer=keys.alice).get_json()["principal"] == "alice"
    assert get(c, "/me", key=keys.bob).get_json()["principal"] == "bob"
    r = get(c, "/me", key=keys.alice, bearer=keys.bob)
    assert r.status_code == 400
    assert keys.alice not in r.get_data(as_text=True)


def test_key_in_query_is_refused_and_never_echoed(guarded):
    app, _, keys = guarded
    c = app.test_client()
    for q in (f"api_key={keys.alice}", f"whatever={keys.alice}", f"access_token={keys.alice}"):
        r = c.get(f"/me?{q}")
        assert r.status_code == 400, q
        assert r.get_json()["error"] == "credential_in_query"
        assert keys.alice not in r.get_data(as_text=True)


def test_key_in_query_allowed_by_config_is_stripped_from_the_key():
    from tests.guardapp import make_app

    app, ward, store = make_app(CACHEWARD_ALLOW_QUERY_KEY=True)
    alice = store.create("alice").plaintext
    runs = []

    @app.get("/q")
    @ward.protected()
    @ward.cached()
    def q():
        runs.append(1)
        return "ok"

    c = app.test_client()
    assert c.get(f"/q?api_key={alice}").status_code == 200
    assert c.get("/q", headers={"X-API-Key": alice}).status_code == 200
    assert len(runs) == 1  # same entry: the credential is not part of the key


def test_authorization_runs_before_every_lookup(guarded):
    """Warm with admin; low-privilege, other principal, anonymous and revoked get nothing."""
    app, ward, keys = guarded
    c = app.test_client()
    warm = get(c, "/accounts/alice", key=keys.admin)
    assert warm.status_code == 200 and warm.headers["Cache-Status"].endswith("stored")
    assert get(c, "/accounts/alice", key=keys.low).status_code == 403
    assert get(c, "/accounts/alice", key=keys.bob).status_code == 403
    assert get(c, "/accounts/alice").status_code == 401
    # Alice reads her own account: her own entry, never the admin's.
    r = get(c, "/accounts/alice", key=keys.alice)
    assert r.status_code == 200 and r.headers["Cache-Status"].endswith("stored")


def test_revocation_takes_effect_on_the_next_request(guarded):
    app, ward, keys = guarded
    c = app.test_client()
    assert get(c, "/me", key=keys.alice).status_code == 200
    assert get(c, "/me", key=keys.alice).headers["Cache-Status"] == "cacheward; hit"
    store = app.extensions["cacheward"].keys
    (record,) = [r for r in store.list("alice") if keys.alice.startswith(f"cw_{r.id}_")]
    assert store.revoke(record.id)
    assert get(c, "/me", key=keys.alice).status_code == 401
    # Rotation: Alice's other key still works, and shares her entries.
    r = get(c, "/me", key=keys.alice2)
    assert r.status_code == 200 and r.headers["Cache-Status"] == "cacheward; hit"


def test_expired_key_is_refused(guarded):
    import time

    app, _, _ = guarded
    store = app.extensions["cacheward"].keys
    old = store.create("eve", ["accounts:read"], expires=time.time() - 1).plaintext
    assert get(app.test_client(), "/me", key=old).status_code == 401


def test_key_store_failure_fails_closed():
    from tests.guardapp import make_app

    from cacheward.errors import KeyStoreError
    from cacheward.keys import MemoryKeyStore

    class Broken(MemoryKeyStore):
        def _get(self, key_id):
            raise KeyStoreError("disk on fire")

    app, ward, _ = make_app()
    store = Broken()
    key = store.create("alice").plaintext
    app.extensions["cacheward"].keys = store

    @app.get("/x")
    @ward.protected()
    @ward.cached()
    def x():
        return "secret data"

    r = app.test_client().get("/x", headers={"X-API-Key": key})
    assert r.status_code == 503
    assert b"secret data" not in r.data


def test_authorize_receives_view_args(guarded):
    app, _, keys = guarded
    c = app.test_client()
    assert get(c, "/accounts/alice", key=keys.alice).status_code == 200
    assert get(c, "/accounts/bob", key=keys.alice).status_code == 403


# A real HS256 JWT shape: header.payload.signature, longer than any cacheward key.
_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    + "eyJzdWIiOiJhbGljZSIsImZyZXNoIjpmYWxzZSwiaWF0IjoxNzAwMDAwMDAwLCJqdGkiOiJ4In0" * 4
    + ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


@pytest.mark.parametrize("token", [_JWT, "eyJhbGciOiJub25lIn0.e30.", "opaque-session-token"])
def test_a_foreign_bearer_token_is_an_invalid_key_401(guarded, token):
    """A JWT sent to a protected route is not a malformed request but a key we do not
    know: 401 ``invalid_key`` (issue 14), never 400, never echoed."""
    app, _, _ = guarded
    r = get(app.test_client(), "/me", bearer=token)
    assert r.status_code == 401
    assert r.get_json()["error"] == "invalid_key"
    assert r.headers["Cache-Control"] == "no-store"
    assert token not in r.get_data(as_text=True)


def test_two_different_credentials_stay_400(guarded):
    app, _, keys = guarded
    r = get(app.test_client(), "/me", key=keys.alice, bearer=keys.bob)
    assert r.status_code == 400 and r.get_json()["error"] == "malformed_header"
