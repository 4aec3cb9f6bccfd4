"""Side-by-side timing: interleaved rounds, medians of per-round ratios.

Absolute times on a shared machine drift by tens of percent between seconds; two
variants timed in the same round drift together, so their ratio is what we report.
"""

from __future__ import annotations

import gc
import statistics
from collections.abc import Callable, Mapping
from time import perf_counter_ns

Samples = dict[str, list[float]]


def interleaved(cases: Mapping[str, Callable[[], None]], rounds: int, batch: int) -> Samples:
    """Seconds per call of each case, one sample per round; the order rotates each round
    so that no case always runs first (warm caches) or last."""
    names = list(cases)
    out: Samples = {n: [] for n in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            fn = cases[name]
            gc.collect()
            t0 = perf_counter_ns()
            for _ in range(batch):
                fn()
            out[name].append((perf_counter_ns() - t0) / batch / 1e9)
    return out


def median(samples: Samples, name: str) -> float:
    return statistics.median(samples[name])


def ratio(samples: Samples, num: str, den: str) -> float:
    """Median over rounds of ``num / den`` measured in the same round."""
    return statistics.median(a / b for a, b in zip(samples[num], samples[den], strict=True))


def spread(samples: Samples, num: str, den: str) -> tuple[float, float]:
    """Lowest and highest per-round ratio, to show how much the rounds agree."""
    values = [a / b for a, b in zip(samples[num], samples[den], strict=True)]
    return min(values), max(values)
