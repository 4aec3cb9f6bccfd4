"""The results, and ``docs/benchmarks.md`` rendered from them."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from .document import SUMMARY, TARGET_HEADER, Block, merge, split, target_rows


@dataclass
class Target:
    """One figure against its target; ``met`` is ``None`` when it could not be measured."""

    what: str
    figure: str
    target: str
    met: bool | None


@dataclass
class Section:
    title: str
    intro: str = ""
    tables: list[tuple[list[str], list[list[str]]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    #: The section's name on the command line (``hit``); set by the runner.
    key: str = ""

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.tables.append((header, rows))


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine(redis_server_version: str | None) -> list[tuple[str, str]]:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    valgrind = shutil.which("valgrind")
    vg = "not installed"
    if valgrind:
        vg = subprocess.run(
            [valgrind, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    return [
        ("Date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("Machine", f"{platform.machine()}, {os.cpu_count()} CPUs, {cpu}".rstrip(", ")),
        ("OS", platform.platform()),
        ("Python", f"{platform.python_implementation()} {sys.version.split()[0]}"),
        ("Flask", _version("flask")),
        ("Werkzeug", _version("werkzeug")),
        ("Flask-Caching", _version("flask-caching")),
        ("redis-py", _version("redis")),
        ("redis-server", redis_server_version or "not installed"),
        ("gunicorn", _version("gunicorn")),
        ("bandit", _version("bandit")),
        ("cacheward", _version("cacheward")),
        ("valgrind", vg),
    ]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _met(t: Target) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[t.met]


def _section(s: Section, command: str, date: str) -> Block:
    out = ["## " + s.title, f"<!-- benchmarks:{s.key} -->", ""]
    out += [f"Measured with `{command}` on {date}.", ""]
    if s.intro:
        out += [s.intro, ""]
    for header, rows in s.tables:
        out.append(_row(header))
        out.append(_row(["---"] * len(header)))
        out += [_row(r) for r in rows]
        out.append("")
    for note in s.notes:
        out.append("- " + note)
    if s.notes:
        out.append("")
    if s.targets:
        out += ["Targets:", "", TARGET_HEADER, _row(["---", "---", "---", "---"])]
        out += [_row([t.what, t.figure, t.target, _met(t)]) for t in s.targets]
    return Block(s.key, "\n".join(out).rstrip() + "\n")


def render(
    command: str,
    sections: list[Section],
    env: list[tuple[str, str]],
    previous: str | None = None,
    order: Sequence[str] = (),
) -> str:
    """The document: ``previous`` (if any) with the sections just run in place of theirs.

    Every other section, generated or hand-written, is kept as it was, with the command
    and the date it was measured on; the targets summary is rebuilt from all of them.
    """
    date = dict(env).get("Date", "")
    blocks = [_section(s, command, date) for s in sections]
    if previous:
        blocks = merge(split(previous), blocks, order)
    out = [
        "# Benchmarks",
        "",
        "Regenerated section by section by `uv run python -m benchmarks [--only SECTION,...]`;",
        "each section says the command and the date it was measured with, and the table",
        "below describes the machine of the latest run. Do not edit generated sections by",
        "hand. Ratios are measured side by side in one run (interleaved rounds, median of the",
        "per-round ratios), so they hold on a noisy machine better than absolute times do;",
        "absolute times are shown for scale. Where a wall-time ratio's rounds spread widely",
        "(shown next to it), another tenant was competing for the CPUs: trust the",
        "instruction counts (`--callgrind`), which repeat to the instruction between",
        "independent runs.",
        "",
        _row(["", ""]),
        _row(["---", "---"]),
    ]
    out += [_row([k, v]) for k, v in env]
    rows = target_rows(blocks)
    if rows:
        out += ["", SUMMARY, "", TARGET_HEADER, _row(["---", "---", "---", "---"]), *rows]
    for block in blocks:
        out += ["", block.text.rstrip()]
    return "\n".join(out).rstrip() + "\n"
