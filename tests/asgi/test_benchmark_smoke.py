"""The ASGI benchmark section runs (tiny counts; no timing asserted)."""

from __future__ import annotations

from benchmarks import asgi
from benchmarks.budget import TINY
from benchmarks.report import Section


def test_in_process_variants_answer_and_hit() -> None:
    s = Section("x")
    asgi.run_in_process(TINY, None, s)
    names = [row[0] for row in s.tables[0][1]]
    assert names == [f"({v})" for v in asgi.VARIANTS]
    skipped = [row for row in s.tables[0][1] if row[2] == "skipped"]
    assert {row[0] for row in skipped} <= {"(j)", "(k)"}  # no Redis given here
