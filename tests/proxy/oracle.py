"""A leak oracle: drive many callers through a proxy concurrently and check every
response against the caller that asked for it.

Each request is a (caller, path) pair; :func:`expected` says what that caller may get
for that path, :func:`violation` compares a response with it. ``X-Cache: HIT`` on an
authenticated path counts as a violation unless the caller allows proxy storage
(per-key mode), and a 401/403 must never be a hit.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
from tests.proxy.apps.guarded import STATIC_JS
from tests.proxy.callers import Caller
from tests.support.proxies import HTTP_TIMEOUT

#: Paths every caller requests; ``{own}``/``{other}`` become principal ids.
PATHS = (
    "/me",
    "/me?utm_source=newsletter",
    "/accounts/{own}",
    "/accounts/{other}",
    "/tenant",
    "/catalog",
    "/catalog?utm_campaign=spring",
    "/me/avatar.css",
    "/accounts/{own}.css",
    "/static/app.js",
)


@dataclass(frozen=True)
class Expect:
    status: int
    body: dict[str, object] | str | None = None
    authenticated: bool = True


def expected(caller: Caller, path: str, valid: bool) -> Expect:
    """What ``caller`` (whose key is live iff ``valid``) must receive for ``path``."""
    route = path.split("?", 1)[0]
    if route == "/static/app.js":
        return Expect(200, STATIC_JS, authenticated=False)
    if route == "/me/avatar.css":
        return Expect(404, authenticated=False)
    if not valid:
        return Expect(401)
    if route == "/me":
        return Expect(200, {"principal": caller.principal})
    if route == "/tenant":
        return Expect(200, {"tenant": caller.tenant})
    if route == "/catalog":
        return Expect(200, {"catalog": ["a", "b", "c"]})
    account = route.rsplit("/", 1)[1]
    if account == caller.principal:
        return Expect(200, {"account": account})
    return Expect(403)


def violation(expect: Expect, response: httpx.Response, proxy_may_store: bool) -> str | None:
    """Why ``response`` must not have been given to this caller, or ``None``."""
    if response.status_code != expect.status:
        return f"status {response.status_code}, expected {expect.status}: {response.text[:120]}"
    if isinstance(expect.body, str) and response.text != expect.body:
        return f"body {response.text[:120]!r}"
    if isinstance(expect.body, dict):
        try:
            body = json.loads(response.text)
        except ValueError:
            return f"not JSON: {response.text[:120]!r}"
        if body != expect.body:
            return f"body {body!r}, expected {expect.body!r}"
    hit = response.headers.get("X-Cache", "").upper() == "HIT"
    if hit and expect.authenticated and (expect.status != 200 or not proxy_may_store):
        return f"X-Cache: HIT on an authenticated {response.status_code}"
    return None


@dataclass
class Report:
    """What a run sent and saw."""

    sent: int = 0
    leaks: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    x_cache: Counter[str] = field(default_factory=Counter)
    authenticated_hits: int = 0

    def add(self, other: Report) -> None:
        self.sent += other.sent
        self.leaks += other.leaks
        self.statuses.update(other.statuses)
        self.x_cache.update(other.x_cache)
        self.authenticated_hits += other.authenticated_hits


def plan(
    callers: Sequence[Caller], principals: Sequence[str], requests: int, seed: int
) -> list[tuple[Caller, str]]:
    """``requests`` (caller, path) pairs, drawn deterministically from ``seed``."""
    rng = random.Random(seed)
    out = []
    for _ in range(requests):
        caller = rng.choice(callers)
        other = rng.choice([p for p in principals if p != caller.principal])
        template = rng.choice(PATHS)
        path = template.format(own=caller.principal or "p00", other=other)
        out.append((caller, path))
    return out


def hammer(
    base_url: str,
    work: Sequence[tuple[Caller, str]],
    valid: frozenset[str],
    proxy_may_store: bool = False,
    threads: int = 16,
) -> Report:
    """Send ``work`` concurrently; ``valid`` names the callers whose key is live."""
    local = threading.local()
    lock = threading.Lock()
    report = Report()
    clients: list[httpx.Client] = []

    def one(item: tuple[Caller, str]) -> None:
        caller, path = item
        client: httpx.Client | None = getattr(local, "client", None)
        if client is None:
            # No cookie jar: a caller must never send another caller's cookies.
            client = local.client = httpx.Client(base_url=base_url, timeout=HTTP_TIMEOUT)
            with lock:
                clients.append(client)
        client.cookies.clear()
        response = client.get(path, headers=caller.headers())
        expect = expected(caller, path, caller.name in valid)
        problem = violation(expect, response, proxy_may_store)
        with lock:
            report.sent += 1
            report.statuses[response.status_code] += 1
            report.x_cache[response.headers.get("X-Cache", "-")] += 1
            if expect.authenticated and response.headers.get("X-Cache", "").upper() == "HIT":
                report.authenticated_hits += 1
            if problem is not None:
                report.leaks.append(f"{caller.name} ({caller.via.value}) GET {path}: {problem}")

    try:
        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(one, work):
                pass
    finally:
        for client in clients:
            client.close()
    return report
