"""``cacheward check`` on public Flask repositories: precision, recall and time per repo.

``python -m benchmarks.check_realworld [--corpus benchmarks/check_corpus.json] [--root DIR]``

The corpus file lists each repository as ``owner/name@commit`` with labels; no third-party
code is committed. Trees are looked for under ``--root`` (``DIR/owner+name``), else
extracted from the bare git mirror ``/work/.mirror/owner+name/repo`` at the listed commit
(Python files only: a mirror may lack its largest blobs).

* A **label** marks one finding at medium or above, ``"ID path:line": true|false``.
  Precision = true / (true + false + unlabelled): an unlabelled finding counts as false.
* A **bug** is a labelled cross-caller cache bug, ``"path:line"`` (the view or decorator
  line); it is found when a medium-or-above finding sits in that file within 3 lines.
* Time: ``cacheward check`` and ``bandit -r -q`` as subprocesses on the same tree (both
  include interpreter start-up), and the checker's own parse-and-rules time from its report.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MIRRORS = Path("/work/.mirror")
_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


@dataclass
class Result:
    repo: str
    true: int = 0
    false: int = 0
    unlabelled: list[str] = field(default_factory=list)
    bugs: int = 0
    found: int = 0
    check_s: float = 0.0
    analysis_s: float = 0.0
    bandit_s: float | None = None
    crashed: bool = False
    notes: int = 0


def tree(spec: str, root: Path | None, work: Path) -> Path:
    """The source tree of ``owner/name@commit``: under ``root`` or extracted from a mirror."""
    name, _, commit = spec.partition("@")
    slug = name.replace("/", "+")
    if root is not None and (root / slug).is_dir():
        return root / slug
    git_dir = MIRRORS / slug / "repo"
    dest = work / slug
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "--git-dir", str(git_dir), "archive", commit, "--", "*.py"],
        capture_output=True,
        check=True,
    ).stdout
    with tempfile.TemporaryFile() as fh:
        fh.write(archive)
        fh.seek(0)
        with tarfile.open(fileobj=fh) as tar:
            tar.extractall(dest, filter="data")
    return dest


def _timed(args: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    return time.perf_counter() - t0, done


def _tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def measure(entry: dict[str, Any], path: Path) -> Result:
    r = Result(entry["repo"])
    cmd = [_tool("cacheward"), "check", str(path), "--format", "json"]
    r.check_s, done = _timed([*cmd, "--fail-on", "critical"])
    if done.returncode not in (0, 1):
        r.crashed = True
        return r
    report = json.loads(done.stdout)
    r.notes = len(report.get("notes", []))
    r.analysis_s = float(report.get("stats", {}).get("seconds", 0.0))
    labels: dict[str, bool] = entry.get("labels", {})
    medium = [f for f in report["findings"] if _RANK[f["severity"]] >= 1]
    for f in medium:
        rel = Path(f["path"]).resolve().relative_to(path.resolve()).as_posix()
        key = f"{f['id']} {rel}:{f['line']}"
        f["rel"] = rel
        if key not in labels:
            r.unlabelled.append(key)
        elif labels[key]:
            r.true += 1
        else:
            r.false += 1
    for bug in entry.get("bugs", []):
        bpath, _, bline = bug.rpartition(":")
        r.bugs += 1
        if any(f["rel"] == bpath and abs(f["line"] - int(bline)) <= 3 for f in medium):
            r.found += 1
    r.bandit_s, _ = _timed([_tool("bandit"), "-r", "-q", "-f", "json", str(path)])
    return r


def _pct(num: int, den: int) -> str:
    return f"{100 * num / den:5.1f}%" if den else "    -"


def report(results: list[Result]) -> str:
    lines = [
        f"{'repo':42} {'prec':>6} {'recall':>6} {'check s':>8} {'(parse+rules)':>13}"
        f" {'bandit s':>8} notes"
    ]
    for r in results:
        flagged = r.true + r.false + len(r.unlabelled)
        bandit = f"{r.bandit_s:8.2f}" if r.bandit_s is not None else "       -"
        state = "CRASH" if r.crashed else str(r.notes)
        lines.append(
            f"{r.repo:42} {_pct(r.true, flagged):>6} {_pct(r.found, r.bugs):>6}"
            f" {r.check_s:8.2f} {r.analysis_s:13.2f} {bandit} {state}"
        )
        lines.extend(f"    unlabelled: {u}" for u in r.unlabelled)
    t = sum(r.true for r in results)
    flagged = sum(r.true + r.false + len(r.unlabelled) for r in results)
    found, bugs = sum(r.found for r in results), sum(r.bugs for r in results)
    check_s = sum(r.check_s for r in results)
    analysis_s = sum(r.analysis_s for r in results)
    bandit_s = sum(r.bandit_s or 0.0 for r in results)
    lines.append(
        f"total: precision {_pct(t, flagged)} ({t}/{flagged}), recall {_pct(found, bugs)}"
        f" ({found}/{bugs}), crashes {sum(r.crashed for r in results)},"
        f" check {check_s:.2f}s (parse+rules {analysis_s:.2f}s), bandit {bandit_s:.2f}s"
        + (f" ({bandit_s / check_s:.1f}x)" if check_s else "")
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=HERE / "check_corpus.json")
    parser.add_argument("--root", type=Path, help="directory holding owner+name trees")
    parser.add_argument("--only", help="run only repositories whose name contains this")
    args = parser.parse_args(argv)
    corpus = json.loads(args.corpus.read_text(encoding="utf-8"))
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as work:
        for entry in corpus["repos"]:
            if args.only and args.only not in entry["repo"]:
                continue
            path = tree(f"{entry['repo']}@{entry['commit']}", args.root, Path(work))
            results.append(measure(entry, path))
    print(report(results))
    return 1 if any(r.crashed for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
