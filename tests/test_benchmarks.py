"""Smoke tests of the benchmark suite: the code runs with tiny counts. No timing is
asserted here; the figures live in docs/benchmarks.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks import check, hit, memory, miss, overhttp, report, scan
from benchmarks.apps import VARIANTS, Unavailable, make_bench
from benchmarks.budget import TINY
from benchmarks.servers import redis_server
from tests.support import need_binary

ROOT = Path(__file__).resolve().parent.parent


def test_every_local_variant_serves_the_same_body() -> None:
    bodies = set()
    for v in VARIANTS:
        try:
            bench = make_bench(v)
        except Unavailable:
            continue
        bodies.add(bench.call()[2])
    assert len(bodies) == 1
    assert 900 <= len(bodies.pop()) <= 1200


def test_hit_section_runs() -> None:
    s = hit.run(TINY, None, callgrind=False)
    assert len(s.tables[0][1]) == len(VARIANTS)
    assert "## Targets" in report.render("x", [s], [])


def test_miss_section_runs() -> None:
    s = miss.run(TINY)
    assert s.targets[0].what.startswith("miss with tracking")
    assert [row[0] for row in s.tables[0][1]] == [miss.LABELS[v] for v in miss.VARIANTS]
    assert s.targets[1].what.startswith("tracking overhead per miss")


def test_miss_without_tracking_is_stubbed_for_its_own_requests_only() -> None:
    import cacheward.flask.serve as serve_module

    real = serve_module.Swap
    bench = miss._bench("miss-untracked")
    seen = []
    one = miss._loop(bench, iter(range(3)))  # type: ignore[arg-type]
    serve_module.Swap = lambda ctx, rec: seen.append(1) or real(ctx, rec)  # type: ignore[assignment]
    try:
        one()
    finally:
        serve_module.Swap = real
    assert seen == [] and serve_module.Swap is real


def test_memory_section_holds_its_limit() -> None:
    s = memory.run(TINY)
    assert s.targets[0].met is True


def test_scan_section_finds_the_planted_bugs() -> None:
    s = scan.run(TINY)  # two planted routes and the path-keyed ones
    assert s.targets[0].met is True, (s.targets[0].figure, s.notes, s.tables)
    assert s.tables[1][1], "no findings by id"


def test_check_section_runs() -> None:
    s = check.run(TINY)
    assert [row[0] for row in s.tables[0][1]] == ["cacheward check", "bandit -r"]
    assert s.targets[0].what == "checker: files/s vs bandit"
    assert s.targets[0].met is not None


def test_parse_wrk() -> None:
    out = """
  Latency Distribution
     50%    1.10ms
     75%    2.00ms
     90%    3.00ms
     99%  850.00us
  1000 requests in 1.00s, 1.00MB read
Requests/sec:   1234.50
"""
    rps, p99 = overhttp.parse_wrk(out)
    assert rps == 1234.5
    assert p99 == pytest.approx(850e-6)


@pytest.mark.slow
def test_quick_run_with_every_section(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "## Targets" in out.read_text()


@pytest.mark.slow
def test_callgrind_counts_are_repeatable() -> None:
    from benchmarks.instructions import per_request

    need_binary("valgrind")

    runs = per_request(["a"], 5, None)
    assert runs[0] == runs[1]


@pytest.mark.slow
def test_redis_server_starts_and_stops() -> None:
    need_binary("redis-server", "apt-get install redis-server")
    with redis_server() as redis:
        assert redis is not None
        assert redis.url.startswith("redis://127.0.0.1:")


def test_values_hit_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import values_hit

    values_hit.main(20)
    out = capsys.readouterr().out
    assert "ward.memoize hit vs Flask-Caching memoize hit" in out


@pytest.mark.slow
def test_classes_section_finds_every_class_in_process() -> None:
    from benchmarks import scan_classes

    s = scan_classes.run(TINY)  # quick: in process only
    assert s.targets[0].met is True, (s.targets[0].figure, s.notes)


def test_every_section_imports() -> None:
    """``python -m benchmarks`` loads every section module (a merge once left one broken)."""
    import importlib

    main = importlib.import_module("benchmarks.__main__")
    assert set(main.SECTIONS) == {
        "hit",
        "miss",
        "http",
        "memory",
        "scan",
        "classes",
        "check",
        "asgi",
    }


def test_rendering_one_section_keeps_every_other_one() -> None:
    """``--only asgi`` rewrites the asgi section alone: the other generated sections, a
    hand-written one and their targets survive, and the summary lists all targets."""

    def section(key: str, title: str, figure: str) -> report.Section:
        s = report.Section(title, intro=f"{key} intro", key=key)
        s.targets.append(report.Target(f"{key} ratio", figure, "≤ 1.00x", True))
        return s

    order = ("hit", "scan", "asgi")
    first = report.render("all", [section(k, f"{k} title", "0.5x") for k in order], [], None, order)
    hand = "## 5c. Written by hand\n\nKept as written.\n"
    doc = first + "\n" + hand
    again = report.render("only asgi", [section("asgi", "asgi title", "0.3x")], [], doc, order)
    assert "hit intro" in again and "scan intro" in again and "Kept as written." in again
    assert again.count("asgi intro") == 1
    summary = again.split("## Targets", 1)[1].split("\n## ", 1)[0]
    assert "| hit ratio | 0.5x |" in summary and "| asgi ratio | 0.3x |" in summary
    assert "| asgi ratio | 0.5x |" not in again
    assert again.index("hit title") < again.index("scan title") < again.index("asgi title")
    assert "Measured with `only asgi`" in again and "Measured with `all`" in again
