"""How much work each section does: full, ``--quick`` and the tests' tiny budget."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    hit_rounds: int = 11
    hit_batch: int = 1500
    miss_rounds: int = 9
    miss_batch: int = 300
    tracking_batch: int = 20000
    callgrind_requests: int = 500
    http_rounds: int = 3
    http_seconds: float = 3.0
    memory_entries: int = 10_000
    flood_keys: int = 100_000
    check_modules: int = 2000
    check_rounds: int = 3
    #: Routes of the vulnerable target to scan (0: all of them).
    scan_routes: int = 0
    quick: bool = False


FULL = Budget()
QUICK = Budget(
    hit_rounds=3,
    hit_batch=100,
    miss_rounds=3,
    miss_batch=30,
    tracking_batch=2000,
    callgrind_requests=30,
    http_rounds=1,
    http_seconds=1.0,
    memory_entries=2000,
    flood_keys=10_000,
    check_modules=100,
    check_rounds=1,
    quick=True,
)
#: For the smoke tests: only proves the code runs.
TINY = Budget(
    hit_rounds=1,
    hit_batch=3,
    miss_rounds=1,
    miss_batch=3,
    tracking_batch=10,
    callgrind_requests=2,
    http_rounds=1,
    http_seconds=0.5,
    memory_entries=50,
    flood_keys=500,
    check_modules=5,
    check_rounds=1,
    scan_routes=2,
    quick=True,
)
