"""The leak oracle: every response is checked against the caller it was sent for.

A caller holds one key of one principal (several callers may share a principal after a
rotation, or a tenant). Every 200 body names whom it was made for; the oracle counts
leaks (a body made for someone else), 200s for bad keys, 200s for revoked keys on
requests *started* after the revocation committed, and 5xx.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from tests.reliability.loadapp import PATHS

from cacheward.keys.store import KeyStore

#: (status, headers, body) of one response.
Answer = tuple[int, dict[str, str], bytes]
Send = Callable[[str, str], Answer]


@dataclass
class Caller:
    principal: str
    tenant: str | None
    key: str
    key_id: str | None
    bad: bool = False
    #: ``time.monotonic()`` after the revocation of this key returned.
    revoked_at: float | None = None


@dataclass
class Figures:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    hits: int = 0
    leaks: int = 0
    bad_200: int = 0
    revoked_200: int = 0
    #: Requests sent with a key after its revocation committed (each must not be 200).
    after_revocation: int = 0
    transport_errors: int = 0
    samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def five_xx(self) -> int:
        return sum(n for s, n in self.statuses.items() if s >= 500)

    @property
    def hit_rate(self) -> float:
        return self.hits / max(1, self.statuses[200])

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "statuses": dict(sorted(self.statuses.items())),
            "hit_rate": round(self.hit_rate, 3),
            "leaks": self.leaks,
            "bad_key_200": self.bad_200,
            "revoked_200": self.revoked_200,
            "after_revocation": self.after_revocation,
            "5xx": self.five_xx,
            "transport_errors": self.transport_errors,
        }

    def _flag(self, what: str) -> None:
        if len(self.samples) < 20:
            self.samples.append(what)

    def check(self, caller: Caller, path: str, started: float, answer: Answer) -> None:
        status, headers, body = answer
        with self.lock:
            self.requests += 1
            self.statuses[status] += 1
            if caller.revoked_at is not None and started > caller.revoked_at:
                self.after_revocation += 1
            if status != 200:
                return
            if "hit" in headers.get("Cache-Status", headers.get("cache-status", "")):
                self.hits += 1
            if caller.bad:
                self.bad_200 += 1
                self._flag(f"bad key got 200 on {path}")
            if caller.revoked_at is not None and started > caller.revoked_at:
                self.revoked_200 += 1
                self._flag(f"revoked key of {caller.principal} got 200 on {path}")
            try:
                made_for = json.loads(body)
            except ValueError:
                self.leaks += 1
                self._flag(f"unreadable 200 body on {path}: {body[:80]!r}")
                return
            if not _meant_for(made_for, caller, path):
                self.leaks += 1
                self._flag(f"{caller.principal} on {path} got {made_for}")


def _meant_for(body: dict[str, Any], caller: Caller, path: str) -> bool:
    if path == "/shared":
        return body.get("shared") is True and body.get("principal") is None
    if path == "/tenant":
        if caller.tenant is not None:
            return body.get("tenant") == caller.tenant and body.get("principal") is None
        return body.get("tenant") is None and body.get("principal") == caller.principal
    if path.startswith("/items/"):
        item, _, query = path[len("/items/") :].partition("?q=")
        return (
            body.get("principal") == caller.principal
            and body.get("item") == item
            and body.get("q") == (query or None)
        )
    return body.get("principal") == caller.principal and body.get("path") == path


def population(
    store: KeyStore, n: int, *, tenants: int = 10, shared_tenant_every: int = 3
) -> list[Caller]:
    """``n`` principals; every ``shared_tenant_every``-th shares one of ``tenants`` tenants."""
    callers = []
    for i in range(n):
        tenant = f"t{i % tenants}" if i % shared_tenant_every == 0 else None
        issued = store.create(f"p{i:03d}", ["read"], tenant=tenant)
        callers.append(Caller(issued.principal_id, tenant, issued.plaintext, issued.id))
    return callers


def bad_callers(good: list[Caller], n: int = 5) -> list[Caller]:
    """Callers with broken keys: a changed checksum, a truncation, garbage."""
    out = []
    for i, c in enumerate(good[:n]):
        key = c.key[:-1] + ("A" if c.key[-1] != "A" else "B") if i % 2 == 0 else c.key[:-3]
        out.append(Caller(f"bad{i}", None, key, None, bad=True))
    out.append(Caller("garbage", None, "cw_" + "x" * 53, None, bad=True))
    return out


def pick_path(rng: random.Random) -> str:
    path = rng.choice(PATHS)
    if path.startswith("/items/") and rng.random() < 0.3:
        path += f"?q={rng.randrange(3)}"
    return path


def drive(
    send: Send,
    callers: list[Caller],
    figures: Figures,
    *,
    requests: int,
    threads: int,
    seconds: float,
    seed: int = 0,
) -> None:
    """Send about ``requests`` requests from ``threads`` threads, at most ``seconds``."""
    deadline = time.monotonic() + seconds
    per_thread = max(1, -(-requests // threads))  # rounded up: at least `requests`

    def worker(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        for _ in range(per_thread):
            if time.monotonic() > deadline:
                return
            caller = rng.choice(callers)
            path = pick_path(rng)
            started = time.monotonic()
            try:
                answer = send(caller.key, path)
            except Exception as e:  # noqa: BLE001 - counted, and shown in the samples
                with figures.lock:
                    figures.transport_errors += 1
                    figures._flag(f"transport: {type(e).__name__}: {e}")
                continue
            figures.check(caller, path, started, answer)

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=seconds + 60)


class HttpSender:
    """``send`` over HTTP: one keep-alive ``httpx.Client`` per thread, closed by
    :meth:`close`."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()

    def __call__(self, key: str, path: str) -> Answer:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(base_url=self.base, timeout=30.0)
            with self._lock:
                self._clients.append(client)
        r = client.get(path, headers={"X-API-Key": key})
        return r.status_code, dict(r.headers), r.content

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()


def revoke(store: KeyStore, caller: Caller) -> None:
    assert caller.key_id is not None
    store.revoke(caller.key_id)
    caller.revoked_at = time.monotonic()
