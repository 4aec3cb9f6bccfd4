"""``docs/benchmarks.md`` as blocks, one per section, so that ``--only`` replaces the
sections it ran and keeps every other one (including hand-written ones) where it was.

Each generated block starts with its heading and a ``<!-- benchmarks:NAME -->`` marker
and carries its own targets table; the summary at the top is rebuilt from those tables
every time, so it always lists every section's targets, whenever each was measured.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MARK = re.compile(r"<!-- benchmarks:([\w-]+) -->")
#: The column header of every targets table.
TARGET_HEADER = "| What | Measured | Target |  |"
SUMMARY = "## Targets"


@dataclass(frozen=True)
class Block:
    """One ``## `` section of the document; ``key`` names a generated one."""

    key: str | None
    text: str


def split(doc: str) -> list[Block]:
    """The document's sections after its preamble, without the rebuilt summary."""
    blocks: list[Block] = []
    current: list[str] | None = None
    for line in doc.splitlines():
        if line.startswith("## "):
            if current is not None:
                blocks.append(_block(current))
            current = [line]
        elif current is not None:
            current.append(line)
    if current is not None:
        blocks.append(_block(current))
    return [b for b in blocks if not b.text.startswith(SUMMARY + "\n")]


def _block(lines: list[str]) -> Block:
    text = "\n".join(lines).rstrip() + "\n"
    mark = MARK.search(text)
    return Block(mark.group(1) if mark else None, text)


def merge(old: Sequence[Block], new: Sequence[Block], order: Sequence[str]) -> list[Block]:
    """``old`` with each of ``new`` in place of the block with its key; a new key goes
    after the last block whose key comes before it in ``order``."""
    out = list(old)
    for block in new:
        at = next((i for i, b in enumerate(out) if b.key == block.key), None)
        if at is not None:
            out[at] = block
            continue
        rank = order.index(block.key) if block.key in order else len(order)
        at = 0
        for i, b in enumerate(out):
            if b.key in order and order.index(b.key) < rank:
                at = i + 1
        out.insert(at, block)
    return out


def target_rows(blocks: Sequence[Block]) -> list[str]:
    """Every row of every block's targets table, in document order."""
    rows: list[str] = []
    for block in blocks:
        lines = block.text.splitlines()
        for i, line in enumerate(lines):
            if line.strip() != TARGET_HEADER:
                continue
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append(row)
    return rows
