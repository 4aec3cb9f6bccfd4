"""The guard's own refusals (401, 403) tell caches in front the same thing from the
Flask guard and the ASGI guard: ``no-store`` and, in per-key mode, ``Vary`` on the
credential headers, so that a cache keyed by the credential keeps a refusal apart from
every key's own copy."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Security
from fastapi.testclient import TestClient
from flask import Flask

from cacheward import Cacheward as FlaskCacheward
from cacheward.fastapi import Cacheward, Principal
from cacheward.keys import MemoryKeyStore

from .asgiapp import SECRET, h

CASES = {
    "no key": lambda keys: h(None),
    "unknown key": lambda keys: h("cw_nope_0000000000000000000000000000"),
    "missing scope": lambda keys: h(keys["weak"]),
    "other account": lambda keys: h(keys["bob"]),
    "two credentials": lambda keys: h(keys["bob"], Authorization="Bearer cw_other_0000"),
}


def _keys(store: MemoryKeyStore) -> dict[str, str]:
    return {
        "weak": store.create("alice", []).plaintext,
        "bob": store.create("bob", ["read"]).plaintext,
    }


def _flask(downstream: str):
    store = MemoryKeyStore()
    keys = _keys(store)
    app = Flask(__name__)
    app.config.update(CACHEWARD_SECRET=SECRET, CACHEWARD_DOWNSTREAM=downstream)
    ward = FlaskCacheward(app, keys=store)

    @app.get("/accounts/<account_id>")
    @ward.protected("read", authorize=lambda p, account_id: p.id == account_id)
    @ward.cached(ttl=60)
    def account(account_id):
        return {"account": account_id}

    return app.test_client(), keys


def _fastapi(downstream: str):
    store = MemoryKeyStore()
    keys = _keys(store)
    app = FastAPI()
    ward = Cacheward(app, keys=store, secret=SECRET, downstream=downstream)

    @app.get("/accounts/{account_id}")
    @ward.cached(ttl=60)
    async def account(
        account_id: str,
        p: Principal = Security(  # noqa: B008
            ward.protected("read", authorize=lambda p, account_id: p.id == account_id)
        ),
    ):
        return {"account": account_id}

    return TestClient(app), keys


def _told(headers) -> tuple[str | None, frozenset[str]]:
    """``Cache-Control`` and the names ``Vary`` lists (httpx or Werkzeug headers)."""
    lines = headers.get_list("vary") if hasattr(headers, "get_list") else headers.getlist("vary")
    vary = frozenset(n.strip().lower() for line in lines for n in line.split(","))
    return headers.get("cache-control"), vary - {""}


@pytest.mark.parametrize("downstream", ["per-key", "private"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_both_guards_tell_caches_in_front_the_same_about_a_refusal(case, downstream):
    flask_client, flask_keys = _flask(downstream)
    asgi_client, asgi_keys = _fastapi(downstream)
    with asgi_client:
        asgi = asgi_client.get("/accounts/alice", headers=CASES[case](asgi_keys))
    flask = flask_client.get("/accounts/alice", headers=CASES[case](flask_keys))
    assert asgi.status_code == flask.status_code >= 400
    assert _told(asgi.headers) == _told(flask.headers)
    cache_control, vary = _told(asgi.headers)
    assert cache_control == "no-store"
    if downstream == "per-key" and asgi.status_code != 400:
        assert {"x-api-key", "authorization"} <= vary, "a per-key refusal without Vary"
