"""Section 6: ``cacheward check`` against ``bandit -r`` on the same generated tree of
Flask modules, interleaved rounds."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .budget import Budget
from .cli import cacheward_command, has_subcommand
from .report import Section, Target

_MODULE = '''\
"""Generated module {i}: a small Flask API."""

import os

from flask import Blueprint, jsonify, request
from flask_caching import Cache
from flask_login import login_required

from cacheward import Cacheward

bp = Blueprint("bp{i}", __name__)
cache = Cache()
ward = Cacheward()
DEBUG = os.environ.get("DEBUG{i}") == "1"


@bp.get("/items{i}")
@ward.protected("items:read")
@ward.cached(ttl=60)
def items{i}():
    return jsonify(items=[n * {i} for n in range(10)])


@bp.get("/profile{i}")
@cache.cached(timeout=60)
@login_required
def profile{i}():
    # unsafe: the cache answers before login_required runs
    return jsonify(user=request.headers.get("X-User"))


@bp.get("/search{i}")
@cache.cached(timeout=30)
def search{i}():
    # unsafe: the key is the path, the response depends on a header
    return jsonify(q=request.args.get("q"), host=request.headers.get("X-Forwarded-Host"))


def helper{i}(values):
    total = 0
    for v in values:
        if v % 2:
            total += v
        else:
            total -= v
    return total


class Service{i}:
    def __init__(self, db):
        self.db = db

    def fetch(self, key):
        return self.db.get(key, {{}})
'''


def generate(root: Path, n: int) -> None:
    """``n`` Flask modules in 20 packages."""
    for i in range(n):
        pkg = root / f"pkg{i % 20:02d}"
        pkg.mkdir(exist_ok=True)
        (pkg / "__init__.py").touch()
        (pkg / f"mod{i:04d}.py").write_text(_MODULE.format(i=i))


def _time(args: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{args[:3]} exited {done.returncode}: {done.stderr[-1000:]}")
    return seconds


def run(budget: Budget) -> Section:
    n = budget.check_modules
    s = Section(
        "6. Checker",
        f"`cacheward check` and `bandit -r` on the same generated tree of {n:,} Flask"
        " modules (60 lines each: a guarded route, a Flask-Caching route above"
        " `login_required`, one reading an unkeyed header, plain code), one process each"
        " per round, rounds interleaved.",
    )
    bandit = shutil.which("bandit") or str(Path(sys.executable).parent / "bandit")
    have_check = has_subcommand("check")
    have_bandit = Path(bandit).exists()
    if not have_check:
        s.notes.append(
            "`cacheward check`: not available yet on this branch (written on branch `check`);"
            " bandit is timed alone for reference."
        )
    if not have_bandit:
        s.notes.append("bandit is not installed (`uv sync` installs it with the dev group).")
    times: dict[str, list[float]] = {"check": [], "bandit": []}
    with tempfile.TemporaryDirectory(prefix="cacheward-check-") as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        generate(tree, n)
        commands = {}
        if have_check:
            commands["check"] = [*cacheward_command(), "check", str(tree)]
        if have_bandit:
            commands["bandit"] = [
                bandit,
                "-r",
                str(tree),
                "-q",
                "-f",
                "json",
                "-o",
                str(Path(tmp) / "bandit.json"),
            ]
        names = list(commands)
        for r in range(budget.check_rounds):
            k = r % max(1, len(names))
            for name in names[k:] + names[:k]:
                times[name].append(_time(commands[name]))
    rows = []
    for name, label in (("check", "cacheward check"), ("bandit", "bandit -r")):
        if times[name]:
            sec = statistics.median(times[name])
            rows.append([label, f"{sec:.2f}", f"{n / sec:,.0f}"])
        else:
            rows.append([label, "not available yet", "–"])
    s.table(["tool", "seconds (median)", "files/s"], rows)
    ratio = None
    if times["check"] and times["bandit"]:
        ratio = statistics.median(
            b / c for b, c in zip(times["bandit"], times["check"], strict=True)
        )
    s.targets.append(
        Target(
            "checker: files/s vs bandit",
            "–" if ratio is None else f"{ratio:.2f}x",
            "> 1.00x (faster)",
            None if ratio is None else ratio > 1.0,
        )
    )
    s.notes.append(f"{budget.check_rounds} round(s); process start-up included for both.")
    return s
