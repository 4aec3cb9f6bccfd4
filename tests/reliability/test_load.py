"""Load with a leak oracle: gunicorn (3 workers x 4 threads) + the Redis backend, behind
nginx (``proxy_cache`` on, configured as people do), 200 principals (every third shares
one of 10 tenants), concurrent httpx clients. Midway, 20 keys are revoked and 20
principals rotate to a second key (the first then revoked). Keys live in one SQLite file
that every worker reads.

Every response is checked by the oracle (``oracle.py``): leaks, 200s for bad keys, 200s
for revoked keys on requests started after the revocation, 5xx, all must be 0. The CI
variant sends ~3,000 requests; ``-m slow`` sends 100,000.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.reliability.oracle import (
    Caller,
    Figures,
    HttpSender,
    bad_callers,
    drive,
    population,
    revoke,
)
from tests.support import proxies
from tests.support.redis import RedisServer

from cacheward.keys import SQLiteKeyStore

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reliability"
APP = "tests.reliability.loadapp:create_app()"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.cleanup()


@pytest.mark.parametrize(
    "requests, threads, seconds",
    [
        pytest.param(3_000, 8, 150, id="ci"),
        pytest.param(100_000, 24, 1500, id="long", marks=pytest.mark.slow),
    ],
)
def test_load_behind_nginx_leaks_nothing(
    tmp_path: Path, redis_url: str, requests: int, threads: int, seconds: float
) -> None:
    db = tmp_path / "keys.db"
    store = SQLiteKeyStore(db)
    callers = population(store, 200, tenants=10)
    everyone: list[Caller] = callers + bad_callers(callers)
    env = {"CW_KEYS_DB": str(db), "CACHEWARD_BACKEND": redis_url}
    app = proxies.start_gunicorn(APP, tmp_path / "gunicorn", env=env, workers=3, threads=4)
    try:
        nginx = proxies.start_proxy("nginx", tmp_path / "nginx", app.port)
        send = HttpSender(nginx.url)
        try:
            figures = Figures()
            started = time.monotonic()
            half = dict(requests=requests // 2, threads=threads, seconds=seconds / 2)
            drive(send, everyone, figures, seed=1, **half)  # type: ignore[arg-type]
            # Midway: revocations and rotations while traffic keeps flowing.
            during = threading.Thread(
                target=lambda: drive(send, everyone, figures, seed=2, **half),  # type: ignore[arg-type]
                daemon=True,
            )
            during.start()
            for caller in callers[10:30]:
                revoke(store, caller)
            for caller in callers[30:50]:
                issued = store.create(caller.principal, ["read"], tenant=caller.tenant)
                everyone.append(
                    Caller(issued.principal_id, issued.tenant, issued.plaintext, issued.id)
                )
            time.sleep(0.5)
            for caller in callers[30:50]:
                revoke(store, caller)
            during.join(timeout=seconds)
            elapsed = time.monotonic() - started
        finally:
            send.close()
            nginx.stop()
    finally:
        app.stop()
        store.close()
    summary = figures.summary()
    summary.update(seconds=round(elapsed, 1), rps=round(figures.requests / elapsed))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"load-{requests}.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\nload: " + json.dumps(summary))
    assert figures.leaks == 0, figures.samples
    assert figures.bad_200 == 0 and figures.revoked_200 == 0, figures.samples
    assert figures.after_revocation > 0, "no request tested a revoked key"
    assert figures.five_xx == 0 and figures.transport_errors == 0, figures.samples
    assert figures.requests >= requests, "the clients ran out of time"
    assert figures.hits > 0, "nothing was served from the Redis cache"
