"""What nginx, Varnish, HAProxy, Traffic Server and the CDN-like profiles do with
credentials, without cacheward.

A plain Flask app (``tests/proxy/apps/plain.py``) answers with whoever the credential
names and with the caching headers the test asks for. Caller A asks, then caller B asks
the same URL with another credential: "leak" means the proxy answered B with A's body.
These tables are the observations ``docs/deploying-behind-a-cache.md`` reports.
"""

from __future__ import annotations

import uuid

import pytest
from tests.proxy.conftest import ProxyFactory
from tests.support.proxies import Server, http_get

CREDENTIALS = ("X-API-Key", "Authorization", "Cookie")
#: Response header sets, by name: query parameters for the plain app.
RESPONSES: dict[str, dict[str, str]] = {
    "no caching headers": {},
    "public, max-age=60": {"cc": "public, max-age=60"},
    "private": {"cc": "private"},
    "no-store": {"cc": "no-store"},
    "public + Vary: X-API-Key": {"cc": "public, max-age=60", "vary": "X-API-Key"},
    "public + Vary: Authorization": {"cc": "public, max-age=60", "vary": "Authorization"},
    "public + Set-Cookie": {"cc": "public, max-age=60", "cookie": "1"},
}

ALL = {(c, r) for c in CREDENTIALS for r in RESPONSES}
#: (credential, response) pairs where the proxy served A's response to B.
OBSERVED_LEAKS: dict[str, set[tuple[str, str]]] = {
    # nginx keys on the URL only and honours Cache-Control, Vary and Set-Cookie; with
    # proxy_cache_valid, a response without caching headers is stored too.
    "nginx": {(c, r) for c in CREDENTIALS for r in ("no caching headers", "public, max-age=60")}
    | {
        ("Authorization", "public + Vary: X-API-Key"),
        ("Cookie", "public + Vary: X-API-Key"),
        ("X-API-Key", "public + Vary: Authorization"),
        ("Cookie", "public + Vary: Authorization"),
    },
    # Varnish's builtin VCL passes requests with Authorization or Cookie, but knows
    # nothing of X-API-Key; a response without caching headers is kept 120 s.
    "varnish": {
        ("X-API-Key", "no caching headers"),
        ("X-API-Key", "public, max-age=60"),
        ("X-API-Key", "public + Vary: Authorization"),
    },
    # Force-caching *.css ignores Cache-Control, Vary and Set-Cookie: everything leaks.
    "cdn-static": ALL,
    # proxy_no_cache + proxy_cache_bypass on every credential header: nothing leaks.
    "nginx-recommended": set(),
    # vcl_recv passes X-API-Key requests as the builtin VCL passes the others.
    "varnish-recommended": set(),
    # HAProxy's cache never serves nor stores a request with Authorization, ignores
    # X-API-Key and Cookie, needs an explicit lifetime, stores no response with Vary
    # (process-vary is off by default) and stores a public response with its Set-Cookie.
    "haproxy": {
        (c, r)
        for c in ("X-API-Key", "Cookie")
        for r in ("public, max-age=60", "public + Set-Cookie")
    },
    # Traffic Server needs an explicit lifetime (required_headers 2), honours Vary on any
    # header, caches public answers to Authorization and Cookie requests, and stores
    # public responses with their Set-Cookie.
    "trafficserver": {
        (c, r) for c in CREDENTIALS for r in ("public, max-age=60", "public + Set-Cookie")
    }
    | {
        ("Authorization", "public + Vary: X-API-Key"),
        ("Cookie", "public + Vary: X-API-Key"),
        ("X-API-Key", "public + Vary: Authorization"),
        ("Cookie", "public + Vary: Authorization"),
    },
}


def credential(name: str, who: str) -> dict[str, str]:
    value = {"X-API-Key": who, "Authorization": f"Bearer {who}", "Cookie": f"s={who}"}[name]
    return {name: value}


def observe(front: Server, path: str) -> set[tuple[str, str]]:
    leaks = set()
    for cred in CREDENTIALS:
        for name, params in RESPONSES.items():
            query = {**params, "buster": uuid.uuid4().hex}
            url = front.url + path
            a = http_get(url, params=query, headers=credential(cred, "alice-key"))
            b = http_get(url, params=query, headers=credential(cred, "bob-key"))
            assert a.status_code == b.status_code == 200
            if "alice-key" in b.text:
                assert b.headers["X-Cache"] == "HIT"
                leaks.add((cred, name))
    return leaks


@pytest.mark.parametrize("profile", sorted(OBSERVED_LEAKS))
def test_what_each_proxy_serves_to_another_credential(
    profile: str, proxy: ProxyFactory, plain: Server
) -> None:
    front = proxy(profile, plain)
    path = "/whoami/style.css" if profile == "cdn-static" else "/whoami"
    leaks = observe(front, path)
    expected = OBSERVED_LEAKS[profile]
    assert leaks == expected, (
        f"unexpected leaks: {sorted(leaks - expected)}; missing: {sorted(expected - leaks)}"
    )


def served_to_others(front: Server, query: dict[str, str], others: list[dict[str, str]]) -> int:
    """Key A asks first; how many of ``others`` then receive A's response."""
    url = front.url + "/whoami"
    first = http_get(url, params=query, headers={"X-API-Key": "key-of-a"})
    assert first.headers["X-Cache"] == "MISS"
    return sum("key-of-a" in http_get(url, params=query, headers=h).text for h in others)


def others(n: int, bearer: bool) -> list[dict[str, str]]:
    out = []
    for i in range(n):
        if bearer and i % 2:
            out.append({"Authorization": f"Bearer key-of-{i}"})
        else:
            out.append({"X-API-Key": f"key-of-{i}"})
    return out


def test_control_nginx_serves_a_public_response_to_every_other_key(
    proxy: ProxyFactory, plain: Server
) -> None:
    """Without the guard: ``Cache-Control: public`` behind nginx goes to 19 other keys,
    whether they send ``X-API-Key`` or ``Authorization: Bearer``."""
    front = proxy("nginx", plain)
    query = {"cc": "public, max-age=60", "buster": uuid.uuid4().hex}
    leaked = served_to_others(front, query, others(19, bearer=True))
    print(f"control nginx: key A's response served to {leaked} of 19 other keys")
    assert leaked == 19


def test_control_varnish_caches_an_x_api_key_response_without_headers(
    proxy: ProxyFactory, plain: Server
) -> None:
    """Without the guard: a response to ``X-API-Key`` with no caching headers is stored
    by Varnish (builtin default TTL, 120 s) and served to 19 other keys."""
    front = proxy("varnish", plain)
    query = {"buster": uuid.uuid4().hex}
    leaked = served_to_others(front, query, others(19, bearer=False))
    print(f"control varnish: key A's response served to {leaked} of 19 other keys")
    assert leaked == 19
    age = http_get(front.url + "/whoami", params=query, headers={"X-API-Key": "z"})
    assert age.headers["X-Cache"] == "HIT" and int(age.headers["Age"]) < 120


def test_cdn_utm_profile_drops_utm_params_from_the_key(proxy: ProxyFactory, plain: Server) -> None:
    """The profile does what CDNs do: ``utm_*`` is forwarded but not in the cache key."""
    front = proxy("cdn-utm", plain)
    base = {"cc": "public, max-age=60", "buster": uuid.uuid4().hex}
    url = front.url + "/whoami"
    first = http_get(url, params={**base, "utm_source": "a"}, headers={"X-API-Key": "a"})
    second = http_get(url, params={"utm_medium": "b", **base, "utm_source": "b"})
    other = http_get(url, params={**base, "page": "2"})
    assert [first.headers["X-Cache"], second.headers["X-Cache"]] == ["MISS", "HIT"]
    assert second.json() == {"who": "a"}
    assert other.headers["X-Cache"] == "MISS"


#: Whether a second caller receives the ``Set-Cookie`` stored with the first caller's
#: ``public`` response (both caches store it: ``OBSERVED_LEAKS``).
HANDS_OUT_SET_COOKIE = {"haproxy": True, "trafficserver": False}


@pytest.mark.parametrize("profile", sorted(HANDS_OUT_SET_COOKIE))
def test_a_stored_set_cookie_and_the_next_caller(
    profile: str, proxy: ProxyFactory, plain: Server
) -> None:
    """HAProxy replays the stored ``Set-Cookie`` (A's session cookie) to B; Traffic
    Server serves the stored body without it."""
    front = proxy(profile, plain)
    query = {"cc": "public, max-age=60", "cookie": "1", "buster": uuid.uuid4().hex}
    url = front.url + "/whoami"
    a = http_get(url, params=query, headers={"X-API-Key": "alice-key"})
    b = http_get(url, params=query, headers={"X-API-Key": "bob-key"})
    assert a.headers["set-cookie"].startswith("session=s-ce-key") and a.json() == {
        "who": "alice-key"
    }
    assert b.headers["X-Cache"] == "HIT" and b.json() == {"who": "alice-key"}
    handed = b.headers.get("set-cookie", "")
    assert ("session=s-ce-key" in handed) is HANDS_OUT_SET_COOKIE[profile], handed


def test_traffic_server_answers_a_host_it_has_no_map_for(
    proxy: ProxyFactory, plain: Server
) -> None:
    """``remap_required``: only the ``Host`` of the ``map`` rule reaches the app; any
    other (another port, another name) is ATS's own 404."""
    front = proxy("trafficserver", plain)
    own = http_get(front.url + "/whoami")
    assert own.status_code == 200 and own.json() == {"who": "anonymous"}
    for host in (f"127.0.0.1:{front.port + 1}", "127.0.0.1", "evil.example"):
        r = http_get(front.url + "/whoami", headers={"Host": host})
        assert r.status_code == 404 and "Not Found on Accelerator" in r.text, host


def test_traffic_server_keeps_authorization_answers_without_public_to_the_asker(
    proxy: ProxyFactory, plain: Server
) -> None:
    """``max-age`` without ``public`` on an ``Authorization`` request: B gets its own
    answer from the app (RFC 9111 section 3.5), yet ``X-Cache`` says HIT. ``%{CACHE}`` is
    the result of ATS's cache lookup (a fresh object was found), not where the body came
    from: read ATS's ``X-Cache`` as "an object was there", never as "served from it"."""
    front = proxy("trafficserver", plain)
    query = {"cc": "max-age=60", "buster": uuid.uuid4().hex}
    url = front.url + "/whoami"
    a = http_get(url, params=query, headers={"Authorization": "Bearer alice-key"})
    b = http_get(url, params=query, headers={"Authorization": "Bearer bob-key"})
    assert a.headers["X-Cache"] == "MISS" and a.json() == {"who": "Bearer alice-key"}
    assert b.json() == {"who": "Bearer bob-key"}
    assert b.headers["X-Cache"] == "HIT"
