"""atheris, for a bounded time: query canonicalization, key parsing, header handling, the
whole guard through WSGI (and the entry codec once it exists). See ``fuzz.py``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris has no wheel for this Python")

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "seconds",
    [pytest.param(20, id="ci"), pytest.param(600, id="long", marks=pytest.mark.slow)],
)
def test_fuzz(seconds: int, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.reliability.fuzz",
            f"-max_total_time={seconds}",
            "-print_final_stats=1",
            "-seed=1",
            str(corpus),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=seconds + 120,
    )
    crashes = list(tmp_path.glob("crash-*"))
    assert done.returncode == 0 and not crashes, done.stderr[-4000:]
    runs = re.search(r"stat::number_of_executed_units: (\d+)", done.stderr)
    assert runs is not None and int(runs.group(1)) > 1000, done.stderr[-2000:]
    print(f"atheris: {runs.group(1)} inputs in {seconds} s, 0 findings")
