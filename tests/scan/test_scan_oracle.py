"""The scan-wide identity oracle on the targets built for it (``targets.oracle``).

Each test scans a real Flask app in-process (Flask-Caching included) and checks what
is reported route by route: the vulnerable twin is found, its fixed twin and the
noise trap never are, and where nothing tells principals apart the scan says so.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from tests.targets import oracle
from tests.targets.harness import AsyncWSGITransport, creds, endpoints
from tests.targets.kit import RAW_KEYS

from cacheward.core.finding import Report
from cacheward.scan import Settings, scan_async

BASE = "http://target.test"
FAST = Settings(rate=0, concurrency=8)


def _scan(app: object, paths: list[str], settings: Settings = FAST) -> Report:
    return asyncio.run(
        scan_async(endpoints(BASE, paths), creds(), settings, transport=AsyncWSGITransport(app))
    )


def _by_route(report: Report) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for f in report.findings:
        out[(f.url or "").removeprefix(BASE)].add(f.id)
    return out


def test_vulnerable_twin_is_found_route_by_route() -> None:
    report = _scan(oracle.create_app(), [*oracle.ALL, oracle.WHOAMI])
    found = _by_route(report)
    for route, (planted, *also) in oracle.ROUTES.items():
        assert planted in found[route], (route, found[route])
        assert found[route] <= {planted, *also}, (route, found[route])
    for trap in (*oracle.TRAPS, oracle.WHOAMI):
        assert found[trap] == set(), (trap, found[trap])
    assert report.stats["requests_per_endpoint_max"] <= 400
    text = repr(report)
    assert not any(k in text for k in RAW_KEYS)
    assert "alice@example.test" not in repr([f.evidence for f in report.findings])


def test_fixed_twin_and_trap_yield_nothing() -> None:
    report = _scan(oracle.create_fixed_app(), [*oracle.ALL, oracle.WHOAMI])
    assert report.findings == (), [(f.url, f.id) for f in report.findings]


def test_path_keyed_alone_is_unproved_and_says_so() -> None:
    report = _scan(oracle.create_app(), ["/o/me"])
    # Only the --low-key's copy proves anything (it must be denied, yet got alice's
    # stored body byte for byte); for bob and no key the scan says what it could not show.
    assert {(f.id, f.evidence["served_to"][:3]) for f in report.findings} == {
        ("auth-after-cache", "eve")
    }
    assert any("check it by hand" in n and "--identity" in n for n in report.notes)


def test_stated_identity_proves_the_path_keyed_leak() -> None:
    settings = Settings(rate=0, identities=(("alice", "alice@example.test"),))
    found = _by_route(_scan(oracle.create_app(), ["/o/me", "/o/plain"], settings))
    assert found["/o/me"] == {"cross-key-leak", "anonymous-cache-leak", "auth-after-cache"}
    # no request id to show the copy was stored: only another allowed key may read it
    # (no key or a low key could plant an error), and the marker proves the leak
    assert found["/o/plain"] == {"cross-key-leak"}


def test_whoami_proves_the_path_keyed_leak() -> None:
    settings = Settings(rate=0, whoami=oracle.WHOAMI)
    report = _scan(oracle.create_app(), ["/o/me"], settings)
    assert _by_route(report)["/o/me"] == {
        "cross-key-leak",
        "anonymous-cache-leak",
        "auth-after-cache",
    }
    leak = next(f for f in report.findings if f.id == "cross-key-leak")
    assert all("@" not in m for m in leak.evidence.get("markers", []))  # redacted


def test_whoami_that_is_itself_cached_across_keys_is_a_note() -> None:
    settings = Settings(rate=0, whoami="/o/me")  # path-keyed: the same body for everyone
    report = _scan(oracle.create_app(), ["/o/report"], settings)
    assert any("--whoami" in n and "same body for every key" in n for n in report.notes)


def test_wait_ttl_gets_fresh_responses_per_key() -> None:
    settings = Settings(rate=0, wait_ttl=1.5)
    found = _by_route(_scan(oracle.create_app(), ["/o/short"], settings))
    assert "cross-key-leak" in found["/o/short"], found


def test_wait_ttl_never_reports_the_fixed_twin() -> None:
    settings = Settings(rate=0, wait_ttl=1.5)
    assert _scan(oracle.create_fixed_app(), ["/o/short", "/o/lucky"], settings).findings == ()


def test_low_key_served_the_stored_report_is_auth_after_cache() -> None:
    report = _scan(oracle.create_app(), ["/o/report"])
    assert {(f.id, f.evidence["served_to"].split("=")[0]) for f in report.findings} == {
        ("auth-after-cache", "eve")
    }


def test_wait_ttl_does_not_wait_where_the_oracle_proved_it() -> None:
    plain = _scan(oracle.create_app(), ["/o/me"], Settings(rate=0, whoami=oracle.WHOAMI))
    waited = _scan(
        oracle.create_app(), ["/o/me"], Settings(rate=0, whoami=oracle.WHOAMI, wait_ttl=60)
    )
    assert "cross-key-leak" in _by_route(waited)["/o/me"]
    assert waited.stats["requests"] == plain.stats["requests"]  # no phase after a wait
