"""The issue-16 machinery on its own: full wordlists, batching and bisection, the path
variants, the timing verdict, and the generated wordlists."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from tests.targets import classes
from tests.targets.harness import AsyncWSGITransport, creds, endpoints
from tests.targets.kit import ALICE

from cacheward.scan import Settings, scan_async
from cacheward.scan.batch import Guess, guesses, mine, packed
from cacheward.scan.context import BusterState, ProbeContext
from cacheward.scan.exchange import ProbeRequest, ProbeResponse
from cacheward.scan.probes import hidden_cache, miner
from cacheward.scan.probes.path_normalization import variants
from cacheward.scan.target import Endpoint
from cacheward.scan.wordlists import load

ROOT = Path(__file__).resolve().parents[2]
BASE = "http://target.test"
#: Web-Cache-Vulnerability-Scanner 2.0's wordlists (wordlists/headers, wordlists/parameters).
WCVS_HEADERS, WCVS_PARAMS = 2921, 6452


def _scan(app: object, paths: list[str]) -> object:
    return asyncio.run(
        scan_async(
            endpoints(BASE, paths),
            creds(),
            Settings(rate=0, concurrency=8),
            transport=AsyncWSGITransport(app),
        )
    )


def test_full_wordlists_reach_their_last_names_within_budget(
    full_wordlists: None, vulnerable_app: object, fixed_app: object
) -> None:
    report = _scan(vulnerable_app, [classes.WORDLIST_ROUTE])
    inputs = {(f.id, f.evidence["input"]) for f in report.findings}  # type: ignore[attr-defined]
    assert inputs == {
        ("unkeyed-header", classes.DEEP_HEADER),
        ("unkeyed-param", classes.DEEP_PARAM),
    }
    assert all(f.evidence["clean_status"] == 200 for f in report.findings)  # type: ignore[attr-defined]
    used = report.stats["requests_per_endpoint_max"]  # type: ignore[attr-defined]
    assert 130 <= used <= 400, used  # every batch went out, and within the budget
    assert _scan(fixed_app, [classes.WORDLIST_ROUTE]).findings == ()  # type: ignore[attr-defined]


def test_wordlists_are_at_least_wcvs_sized_and_generated() -> None:
    assert len(load("headers")) >= WCVS_HEADERS
    assert len(load("params")) >= WCVS_PARAMS
    assert len(set(map(str.lower, load("headers")))) == len(load("headers"))
    spec = importlib.util.spec_from_file_location("gen", ROOT / "docs" / "gen_wordlists.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for name in ("headers", "params", "cookies"):
        assert tuple(getattr(gen, name)()) == load(name), (
            f"{name}.txt is out of date: run docs/gen_wordlists.py"
        )


def test_packed_respects_count_and_bytes() -> None:
    gs = guesses([f"n{i:04d}" for i in range(1000)])
    size = lambda g: len(g.name) + len(g.value) + 4  # noqa: E731
    batches = packed(gs, max_count=40, max_bytes=500, size=size)
    assert [g for b in batches for g in b] == gs
    assert all(len(b) <= 40 and sum(map(size, b)) <= 500 for b in batches)


def _ctx() -> ProbeContext:
    ctx = ProbeContext(Endpoint(f"{BASE}/x"), creds(), buster=BusterState.WORKS)
    ctx.baselines = {c.name: ProbeResponse(200, {}, b"{}") for c in ctx.creds}
    return ctx


def test_bisection_isolates_a_blocker_and_keeps_the_rest() -> None:
    """One guess makes the origin refuse the whole batch; bisection finds the reflected
    guess beside it anyway, and names the blocker."""
    gs = guesses([f"h{i}" for i in range(64)])
    blocker, reflected = gs[5], gs[9]
    sent: list[ProbeRequest] = []

    def apply(group: Sequence[Guess], url: str) -> ProbeRequest:
        return ProbeRequest(url, headers=tuple((g.name, g.value) for g in group))

    def origin(req: ProbeRequest) -> ProbeResponse:
        sent.append(req)
        names = {k for k, _ in req.headers}
        if blocker.name in names:
            return ProbeResponse(400, {}, b"bad")
        echo = reflected.canary if reflected.name in names else ""
        return ProbeResponse(200, {}, ("{" + echo + "}").encode())

    gen = mine(_ctx(), [gs[:32], gs[32:]], apply, cap=50)
    req = next(gen)
    try:
        while True:
            req = gen.send(origin(req))
    except StopIteration as stop:
        mined = stop.value
    assert mined.reflected == [reflected]
    assert mined.blockers == [blocker]
    assert len(sent) == mined.requests <= 2 + 2 * 5  # log2(32) halvings, twice each


def test_path_variants() -> None:
    got = dict(variants("/c/norm"))
    assert got == {
        "letter case": "/c/NORM",
        "trailing slash": "/c/norm/",
        "double slash": "//c/norm",
        "percent-encoded character": "/c/nor%6D",
        "lower-case percent-encoding": "/c/nor%6d",
        "encoded slash": "/c%2Fnorm",
        "encoded dot segment": "/c/%2e/norm",
    }


@pytest.mark.parametrize(
    ("hits", "misses", "cached"),
    [
        ([0.002] * 7, [0.200] * 7, True),
        ([0.002] * 6 + [0.5], [0.200] * 7, True),  # one hit delayed by load
        ([0.002] * 5 + [0.5, 0.5], [0.200] * 7, False),
        ([0.010] * 7, [0.020] * 7, False),  # under the 25 ms gap
        ([0.1, 0.2, 0.1, 0.2, 0.1, 0.2, 0.1], [0.2, 0.1, 0.2, 0.1, 0.2, 0.1, 0.2], False),
        ([0.002] * 4, [0.2] * 4, False),  # too few rounds
    ],
)
def test_hidden_cache_verdict(hits: list[float], misses: list[float], cached: bool) -> None:
    assert hidden_cache.verdict(hits, misses) is cached


def test_header_wordlist_never_sends_framing_or_credentials() -> None:
    names = {n.lower() for n in miner.header_names(_ctx())}
    for never in ("host", "content-length", "transfer-encoding", "x-api-key", "cookie"):
        assert never not in names


def test_each_class_reports_its_evidence(vulnerable_app: object) -> None:
    """What each class's finding says about its planted bug (in process)."""
    report = _scan(vulnerable_app, list(classes.ROUTES))
    by = {
        (f.url or "").removeprefix(BASE): f
        for f in report.findings  # type: ignore[attr-defined]
        if f.id == classes.ROUTES[(f.url or "").removeprefix(BASE)][0]
    }
    assert by["/c/cpdos-hho"].evidence["variant"] == "HHO 4 KB header"
    assert "<4096 bytes>" in by["/c/cpdos-hho"].steps[0]  # not 4 KB of x in the report
    assert by["/c/cpdos-hmc"].evidence["poisoned_status"] == 400
    assert by["/c/cpdos-range"].evidence["clean_status"] == 416
    assert by["/c/host-port"].evidence["input"] == "Host"
    assert by["/c/cookie"].evidence["input"] == "lang"
    assert by["/c/split"].evidence["injected_header"] == "X-Cw-Split"
    assert by["/c/norm"].evidence["variant_path"] == "/c/NORM"
    deception = by["/c/deception"].evidence
    assert deception["variant"] == "double-encoded traversal"
    assert deception["served_to"] == "no key"
    assert by["/c/pollution"].evidence["shape"] == "first kept, last read"
    hidden = by["/c/hidden"]
    assert hidden.evidence["repeats"] == hidden_cache.REPEATS
    assert hidden.evidence["median_gap_ms"] >= 25


def test_duplicate_host_over_a_socket(
    vulnerable_app: object, fixed_app: object, serve: Callable[[object], str]
) -> None:
    """Werkzeug's server joins the two Host fields and the edge keys on the first: the
    canary comes back to a clean request; the twin's origin answers the duplicate 400."""
    paths = list(classes.RAW_ROUTES)
    base = serve(vulnerable_app)
    report = asyncio.run(scan_async(endpoints(base, paths), creds(), Settings(rate=0)))
    (f,) = report.findings
    assert (f.id, f.url, f.evidence["variant"]) == (
        "duplicate-host",
        base + "/c/host-dup",
        "a second Host field",
    )
    host = base.removeprefix("http://")
    assert f"[Host: {host}] [Host: {f.evidence['value']}] as alice=cw_…3f -> 200" in f.steps[0]
    assert "canary served to a clean request" in f.steps[1]
    assert not any(ALICE in s for s in f.steps) and report.inconclusive == ()
    fixed = asyncio.run(scan_async(endpoints(serve(fixed_app), paths), creds(), Settings(rate=0)))
    assert fixed.findings == () and fixed.inconclusive == ()
