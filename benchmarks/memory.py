"""Section 4: what a cached entry costs in the memory backend, and that its byte limit
holds under a flood of distinct keys."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import subprocess
import sys
import time
import tracemalloc

from cacheward.backends.memory import MemoryBackend
from cacheward.core.cachekey import CacheKey
from cacheward.core.entry import Entry

from .budget import Budget
from .report import Section, Target
from .servers import ROOT

BODY = b"x" * 1024
SCOPE = "principal:" + "0" * 32
FLOOD_LIMIT = 4 * 1024 * 1024


def _key(i: int) -> CacheKey:
    digest = hashlib.blake2b(str(i).encode(), digest_size=20).hexdigest()
    return CacheKey(digest, SCOPE, ())


def _entry(i: int) -> Entry:
    """An entry shaped like the guard stores a 1 KB JSON response."""
    etag = '"' + hashlib.blake2b(str(i).encode(), digest_size=16).hexdigest() + '"'
    return Entry(
        status=200,
        headers=(("Content-Type", "application/json"), ("ETag", etag)),
        body=BODY[:-8] + i.to_bytes(8, "big"),  # a distinct object per entry
        created=time.time(),
        ttl=3600.0,
        etag=etag,
        scope=SCOPE,
        generation=(0, 0),
    )


def _rss() -> int:
    """Resident set size of this process, in bytes (Linux)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def per_entry(n: int) -> tuple[float, float]:
    """Bytes the process holds per stored entry (tracemalloc), and bytes the backend
    accounts for each one."""
    backend = MemoryBackend(limit=1 << 40)
    keys = [_key(i) for i in range(n)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i, key in enumerate(keys):
            backend.store(key, _entry(i))
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (after - before) / n, backend.size / n


def flood(n: int, limit: int) -> dict[str, float]:
    """Store ``n`` distinct keys in a backend of ``limit`` bytes; check the limit after
    every store and sample the process RSS."""
    backend = MemoryBackend(limit=limit)
    rss0 = _rss()
    worst = 0
    samples = []
    for i in range(n):
        backend.store(_key(i), _entry(i))
        worst = max(worst, backend.size)
        if backend.size > limit:
            raise AssertionError(f"backend.size {backend.size} > limit {limit} after {i} keys")
        if i % max(1, n // 10) == 0:
            samples.append(_rss())
    samples.append(_rss())
    half = samples[len(samples) // 2]
    return {
        "worst": worst,
        "entries": len(backend),
        "evictions": backend.stats.evictions,
        "rss_growth": samples[-1] - rss0,
        "rss_second_half": samples[-1] - half,
    }


def _fresh_flood(n: int, limit: int) -> dict[str, float]:
    """:func:`flood` in a new process: RSS growth means little in one whose heap earlier
    sections already grew."""
    code = (
        f"import json; from benchmarks.memory import flood; print(json.dumps(flood({n}, {limit})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run(budget: Budget) -> Section:
    s = Section(
        "4. Memory backend",
        "Entries shaped like a stored 1 KB JSON response (two headers, ETag, principal"
        " scope, 40-character key digest), stored directly in `MemoryBackend`.",
    )
    f = _fresh_flood(budget.flood_keys, FLOOD_LIMIT)
    real, accounted = per_entry(budget.memory_entries)
    mib = 1024 * 1024
    s.table(
        ["measure", "value"],
        [
            [
                f"bytes held per 1 KB entry (tracemalloc, {budget.memory_entries:,} entries)",
                f"{real:,.0f}",
            ],
            ["bytes the backend counts against its limit per entry", f"{accounted:,.0f}"],
            [
                f"flood: distinct keys stored into a {FLOOD_LIMIT // mib} MiB backend",
                f"{budget.flood_keys:,}",
            ],
            [
                "flood: largest `backend.size` seen (checked after every store)",
                f"{f['worst'] / mib:.2f} MiB",
            ],
            ["flood: entries kept / evicted", f"{f['entries']:,.0f} / {f['evictions']:,.0f}"],
            ["flood: process RSS growth, whole flood", f"{f['rss_growth'] / mib:.1f} MiB"],
            ["flood: process RSS growth, second half", f"{f['rss_second_half'] / mib:.1f} MiB"],
        ],
    )
    s.targets.append(
        Target(
            "memory backend: byte limit under a key flood",
            f"max size {f['worst'] / mib:.2f} MiB ≤ {FLOOD_LIMIT // mib} MiB;"
            f" RSS +{f['rss_second_half'] / mib:.1f} MiB in the second half",
            "size ≤ limit throughout; RSS flat",
            f["worst"] <= FLOOD_LIMIT and f["rss_second_half"] < FLOOD_LIMIT,
        )
    )
    s.targets.append(
        Target(
            "memory backend: bytes per 1 KB entry",
            f"{real:,.0f} held, {accounted:,.0f} counted",
            "report",
            None,
        )
    )
    if real > accounted:
        s.notes.append(
            f"The backend counts {accounted:,.0f} bytes per entry but the process holds"
            f" {real:,.0f}: real memory can reach about {real / accounted:.2f}x"
            " `CACHEWARD_MEMORY_LIMIT` for small entries."
        )
    return s
