"""Section 6: ``cacheward check`` against ``bandit -r`` on the same generated tree of
Flask modules, one process each per round, rounds interleaved."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .budget import Budget
from .check_speed import generate
from .cli import cacheward_command
from .report import Section, Target


def _bandit() -> str | None:
    found = Path(sys.executable).parent / "bandit"
    return str(found) if found.exists() else shutil.which("bandit")


def _time(args: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode not in (0, 1):  # 1: findings, for both tools
        raise RuntimeError(f"{args[:3]} exited {done.returncode}: {done.stderr[-1000:]}")
    return seconds


def run(budget: Budget) -> Section:
    n = budget.check_modules
    s = Section(
        "6. Checker",
        f"`cacheward check` and `bandit -r` on the same generated tree of {n:,} Flask"
        " modules (`benchmarks/check_speed.py`: a package `__init__` with the app, the"
        " cache and an auth extension, then blueprints of about 75 lines, each with a"
        " query-keyed cached list, a cached route above `login_required`, a hand-rolled"
        " key check before a manual `cache.get`, and a per-user key function), both"
        " writing a JSON report to a file, one process each per round, the order"
        " alternating between rounds; process start-up is included for both.",
    )
    bandit = _bandit()
    if bandit is None:
        raise RuntimeError("bandit is not installed (`uv sync` installs it with the dev group)")
    times: dict[str, list[float]] = {"check": [], "bandit": []}
    with tempfile.TemporaryDirectory(prefix="cacheward-check-") as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        generate(tree, n)
        reports = {"check": Path(tmp) / "check.json", "bandit": Path(tmp) / "bandit.json"}
        commands = {
            "check": [
                *cacheward_command(),
                "check",
                str(tree),
                "--format",
                "json",
                "-o",
                str(reports["check"]),
            ],
            "bandit": [bandit, "-r", str(tree), "-q", "-f", "json", "-o", str(reports["bandit"])],
        }
        names = list(commands)
        for r in range(budget.check_rounds):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                times[name].append(_time(commands[name]))
        ours: dict[str, Any] = json.loads(reports["check"].read_text())
        theirs: dict[str, Any] = json.loads(reports["bandit"].read_text())
    files = int(ours["stats"]["files"])
    bandit_loc = int(theirs["metrics"]["_totals"]["loc"])
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = statistics.median(b / c for b, c in zip(times["bandit"], times["check"], strict=True))
    s.table(
        ["tool", "seconds (median)", "files/s", "findings", "vs bandit"],
        [
            [
                "cacheward check",
                f"{med['check']:.2f}",
                f"{n / med['check']:,.0f}",
                f"{len(ours['findings']):,}",
                f"{ratio:.2f}x faster",
            ],
            [
                "bandit -r",
                f"{med['bandit']:.2f}",
                f"{n / med['bandit']:,.0f}",
                f"{len(theirs['results']):,}",
                "1.00x",
            ],
        ],
    )
    lo = min(b / c for b, c in zip(times["bandit"], times["check"], strict=True))
    hi = max(b / c for b, c in zip(times["bandit"], times["check"], strict=True))
    s.targets.append(
        Target(
            "checker: files/s vs bandit",
            f"{n / med['check']:,.0f} vs {n / med['bandit']:,.0f} files/s = {ratio:.2f}x"
            f" (rounds {lo:.2f}–{hi:.2f})",
            "> 1.00x (faster)",
            ratio > 1.0,
        )
    )
    s.notes.append(
        f"{budget.check_rounds} round(s); the ratio is the median of per-round bandit/check"
        f" time ratios. `cacheward check` read {files:,} files; bandit counted"
        f" {bandit_loc:,} lines of code. cacheward's own timer (no start-up):"
        f" {float(ours['stats']['seconds']):.2f} s in the last round."
        " bandit's findings are for its own rules (none of them about caching), so the"
        " finding counts show the work, not a comparison of coverage."
    )
    return s
