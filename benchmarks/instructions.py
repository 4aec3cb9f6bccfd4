"""Instructions per request under ``valgrind --tool=callgrind``: repeatable where wall
time is not. Two independent runs; the same count twice is the proof."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .servers import ROOT


def available() -> bool:
    return shutil.which("valgrind") is not None


def _totals(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def phases(
    module: str, args: list[str], labels: list[str], out: Path, redis_url: str | None = None
) -> dict[str, float]:
    """Run ``python -m module *args`` under callgrind; the module calls ``os.getppid()``
    once after its set-up and then after each of ``2 * len(labels)`` phases, alternating
    (N calls of the measured thing, the same loop around a no-op). Returns, per label,
    (with - without) / N, where N is ``args[0]``."""
    n = int(args[0])
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=str(ROOT))
    if redis_url:
        env["BENCH_REDIS_URL"] = redis_url
    cmd = ["valgrind", "--tool=callgrind", "--dump-before=getppid", "--dump-instr=no"]
    cmd += [f"--callgrind-out-file={out}", sys.executable, "-m", module, *args]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"callgrind run failed: {done.stderr[-2000:]}")
    parts = sorted(out.parent.glob(out.name + ".*"), key=lambda p: int(p.suffix[1:]))
    # Part 1 is start-up; then (with, without) per label.
    if len(parts) != 1 + 2 * len(labels):
        raise RuntimeError(f"expected {1 + 2 * len(labels)} callgrind dumps, got {len(parts)}")
    counts = [_totals(p) for p in parts[1:]]
    return {label: (counts[2 * i] - counts[2 * i + 1]) / n for i, label in enumerate(labels)}


def per_request(
    variants: list[str], n: int, redis_url: str | None, repeats: int = 2
) -> list[dict[str, float]]:
    """Instructions per request of each variant, once per independent run."""
    with tempfile.TemporaryDirectory(prefix="cacheward-cg-") as tmp:
        outs = [Path(tmp) / f"run{i}" / "cg.out" for i in range(repeats)]
        for o in outs:
            o.parent.mkdir()
        with ThreadPoolExecutor(max_workers=min(repeats, os.cpu_count() or 1)) as pool:
            futures = [
                pool.submit(
                    phases, "benchmarks.cg_worker", [str(n), *variants], variants, o, redis_url
                )
                for o in outs
            ]
            return [f.result() for f in futures]
