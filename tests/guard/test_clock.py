"""The guard times its entries by the backend's clock: a test advances it instead of
sleeping out a TTL, and ``Age`` and expiry follow it."""

from __future__ import annotations

from flask import Flask, jsonify
from tests.guardapp import SECRET
from tests.support import FakeClock

from cacheward import Cacheward
from cacheward.backends.memory import MemoryBackend
from cacheward.core import cachestatus
from cacheward.keys import MemoryKeyStore


def test_age_and_expiry_follow_the_backends_clock() -> None:
    clock = FakeClock()
    app = Flask("clocked")
    app.config.update(TESTING=True, CACHEWARD_SECRET=SECRET)
    store = MemoryKeyStore()
    ward = Cacheward(app, keys=store, backend=MemoryBackend(clock=clock))
    runs: list[int] = []

    @app.get("/me")
    @ward.protected()
    @ward.cached(ttl=60)
    def me():  # type: ignore[no-untyped-def]
        runs.append(1)
        return jsonify(run=len(runs))

    headers = {"X-API-Key": store.create("alice").plaintext}
    c = app.test_client()
    assert c.get("/me", headers=headers).headers["Cache-Status"] == cachestatus.STORED
    clock.advance(42)
    hit = c.get("/me", headers=headers)
    assert hit.headers["Cache-Status"] == cachestatus.HIT and hit.headers["Age"] == "42"
    clock.advance(18)  # 60 s after it was stored: stale
    again = c.get("/me", headers=headers)
    assert again.headers["Cache-Status"] == cachestatus.STORED
    assert again.json == {"run": 2} and len(runs) == 2


def test_a_failing_clock_is_a_backend_failure_served_uncached() -> None:
    def broken() -> float:
        raise OSError("clock unavailable")

    app = Flask("broken_clock")
    app.config.update(TESTING=True, CACHEWARD_SECRET=SECRET, CACHEWARD_STRICT=False)
    store = MemoryKeyStore()
    backend = MemoryBackend(clock=broken)
    ward = Cacheward(app, keys=store, backend=backend)

    @app.get("/me")
    @ward.protected()
    @ward.cached(ttl=60)
    def me():  # type: ignore[no-untyped-def]
        return jsonify(ok=True)

    headers = {"X-API-Key": store.create("alice").plaintext}
    r = app.test_client().get("/me", headers=headers)
    assert r.status_code == 200 and r.json == {"ok": True}
    assert "stored" not in r.headers.get("Cache-Status", "")
    assert len(backend) == 0 and ward.stats(app)["backend_errors"] == 1
