"""The guard behind real nginx, Varnish, HAProxy, Traffic Server and CDN-like profiles,
under concurrent load.

Twenty principals (half sending ``X-API-Key``, half ``Authorization: Bearer``), anonymous
callers and keys revoked half-way hammer the example API through each proxy. The leak
oracle checks every response body against the caller that asked, and ``X-Cache`` shows
the proxy answered no authenticated request from its store.
"""

from __future__ import annotations

import os

import pytest
from tests.proxy.callers import Keyring
from tests.proxy.conftest import ProxyFactory
from tests.proxy.oracle import Report, hammer, plan
from tests.support.proxies import CACHES, PROFILES, Server, http_get, nginx_cached_entries

#: The oracle's proxies: the profiles, and HAProxy's cache and Traffic Server.
FRONTS = (*PROFILES, *CACHES)
#: Requests through each proxy: CI keeps the suite short, ``-m slow`` goes further.
REQUESTS = int(os.environ.get("CW_PROXY_REQUESTS", "2000"))
SLOW_REQUESTS = 20000


def run_oracle(base_url: str, keyring: Keyring, requests: int, seed: int) -> Report:
    """Half the requests with the revocable keys live, then revoke them, then the rest."""
    callers = [*keyring.valid, *keyring.revocable, keyring.anonymous]
    principals = [c.principal for c in keyring.valid if c.principal]
    live = frozenset(c.name for c in [*keyring.valid, *keyring.revocable])
    report = hammer(base_url, plan(callers, principals, requests // 2, seed), live)
    keyring.revoke_all()
    live = frozenset(c.name for c in keyring.valid)
    report.add(
        hammer(base_url, plan(callers, principals, requests - requests // 2, seed + 1), live)
    )
    return report


def summary(profile: str, report: Report) -> str:
    return (
        f"{profile}: {report.sent} requests, {len(report.leaks)} leaks,"
        f" {report.authenticated_hits} authenticated proxy hits,"
        f" statuses {dict(report.statuses)}, X-Cache {dict(report.x_cache)}"
    )


def check(profile: str, proxy_server: Server, report: Report, requests: int) -> None:
    print(summary(profile, report))
    assert report.sent == requests
    assert report.leaks == [], "\n".join(report.leaks[:20])
    assert report.authenticated_hits == 0
    # The run did exercise every answer, and the proxy does cache what it may.
    assert {200, 401, 403, 404} <= set(report.statuses)
    assert report.x_cache["HIT"] > 0
    if proxy_server.name.startswith("nginx"):
        # Only the public asset is on disk.
        assert nginx_cached_entries(proxy_server) == 1


@pytest.mark.parametrize("profile", FRONTS)
def test_no_response_reaches_another_key(
    profile: str, proxy: ProxyFactory, guarded: Server, keyring: Keyring
) -> None:
    """Leak oracle on every response: bodies belong to the asker, 401 for no key and
    for revoked keys, and the proxy never answers an authenticated request itself."""
    keyring.reissue_revocable()  # the previous profile revoked them
    front = proxy(profile, guarded)
    report = run_oracle(front.url, keyring, REQUESTS, seed=FRONTS.index(profile))
    check(profile, front, report, REQUESTS)


@pytest.mark.slow
@pytest.mark.parametrize("profile", FRONTS)
def test_no_response_reaches_another_key_long(
    profile: str, proxy: ProxyFactory, guarded: Server, keyring: Keyring
) -> None:
    keyring.reissue_revocable()
    front = proxy(profile, guarded)
    report = run_oracle(front.url, keyring, SLOW_REQUESTS, seed=7)
    check(profile, front, report, SLOW_REQUESTS)


def test_the_public_asset_is_cached_by_every_proxy(proxy: ProxyFactory, guarded: Server) -> None:
    """Positive control: the proxies are caching, so the zero above means something."""
    for profile in FRONTS:
        front = proxy(profile, guarded)
        seen = [http_get(front.url + "/static/app.js").headers.get("X-Cache") for _ in range(2)]
        assert seen == ["MISS", "HIT"], (profile, seen)


def served_settings(front: Server, keyring: Keyring) -> tuple[int, list[str]]:
    """The first principal asks for its ``/me/settings.js``, then the other 19 do: how
    many got the first one's body, and the ``X-Cache`` values they saw."""
    first, *others = keyring.valid
    url = front.url + "/me/settings.js"
    assert http_get(url, headers=first.headers()).json() == {"principal": first.principal}
    leaked, seen = 0, []
    for caller in others:
        r = http_get(url, headers=caller.headers())
        leaked += r.json() != {"principal": caller.principal}
        seen.append(r.headers["X-Cache"])
    return leaked, seen


def test_a_cache_that_ignores_cache_control_defeats_the_guard(
    proxy: ProxyFactory, guarded: Server, keyring: Keyring
) -> None:
    """Observed limit: a CDN rule that force-caches ``*.js`` ignoring ``Cache-Control``
    serves a guarded per-principal response at such a path to every other key. No
    response header can prevent this; only the cache's configuration can."""
    leaked, seen = served_settings(proxy("cdn-static", guarded), keyring)
    print(f"cdn-static, guarded /me/settings.js: served to {leaked} of 19 other keys")
    assert leaked == 19 and set(seen) == {"HIT"}


def test_the_recommended_cdn_rule_keeps_credentialed_requests_out(
    proxy: ProxyFactory, guarded: Server, keyring: Keyring
) -> None:
    """The same force-caching rule, skipped for requests with a credential header."""
    front = proxy("cdn-static-recommended", guarded)
    leaked, seen = served_settings(front, keyring)
    assert leaked == 0 and set(seen) == {"BYPASS"}
    public = [http_get(front.url + "/static/app.js").headers["X-Cache"] for _ in range(2)]
    assert public == ["MISS", "HIT"]
