"""``python -m benchmarks [--quick] [--only SECTION,...] [--callgrind]``

Runs the sections (hit, miss, http, memory, scan, classes, check, asgi) and writes
``docs/benchmarks.md`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from . import asgi, check, hit, memory, miss, overhttp, scan, scan_classes
from .budget import FULL, QUICK, Budget
from .report import Section, machine, render
from .servers import ROOT, redis_server

SECTIONS = ("hit", "miss", "http", "memory", "scan", "classes", "check", "asgi")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--quick", action="store_true", help="tiny iteration counts (a smoke run)")
    p.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    p.add_argument(
        "--callgrind", action="store_true", help="also count instructions under valgrind"
    )
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = p.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s): {', '.join(sorted(unknown))}; choose from {SECTIONS}")
    return args


def run(only: list[str], budget: Budget, callgrind: bool) -> tuple[list[Section], str | None]:
    """Run the chosen sections in order, with one redis-server for all of them."""
    sections: list[Section] = []
    with redis_server() as redis:
        url = redis.url if redis else None
        steps: dict[str, Callable[[], Section]] = {
            "hit": lambda: hit.run(budget, url, callgrind),
            "miss": lambda: miss.run(budget, callgrind),
            "http": lambda: overhttp.run(budget, url),
            "memory": lambda: memory.run(budget),
            "scan": lambda: scan.run(budget),
            "classes": lambda: scan_classes.run(budget),
            "check": lambda: check.run(budget),
            "asgi": lambda: asgi.run(budget, url, callgrind),
        }
        for name in SECTIONS:
            if name not in only:
                continue
            print(f"benchmarks: {name} ...", file=sys.stderr, flush=True)
            try:
                section = steps[name]()
            except Exception:  # noqa: BLE001 - one broken section must not lose the others
                section = Section(f"{name}: failed")
                section.notes.append("```\n" + traceback.format_exc().strip() + "\n```")
            section.key = name
            sections.append(section)
        return sections, redis.version if redis else None


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    budget = QUICK if args.quick else FULL
    sections, redis_version = run(args.only, budget, args.callgrind)
    command = "uv run python -m benchmarks" + " ".join(
        [""]
        + (["--quick"] if args.quick else [])
        + ([f"--only {','.join(args.only)}"] if args.only != list(SECTIONS) else [])
        + (["--callgrind"] if args.callgrind else [])
    )
    previous = args.out.read_text() if args.out.exists() else None
    text = render(command, sections, machine(redis_version), previous, SECTIONS)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    with contextlib.suppress(ValueError):
        print(f"benchmarks: wrote {args.out.relative_to(Path.cwd())}", file=sys.stderr)
    print(text)
    return 1 if any(s.title.endswith(": failed") for s in sections) else 0


if __name__ == "__main__":
    sys.exit(main())
