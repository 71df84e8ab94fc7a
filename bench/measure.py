"""Timing and memory probes shared by the benchmark scripts (not a benchmark itself).

Every script measures the same way — a collection before each timed run, the best of
alternating rounds, a growth exponent from the smallest to the largest size — so the
figures of one script compare with another's.
"""

from __future__ import annotations

import gc
import math
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

__all__ = ["Runner", "timed", "peak_kib", "growth"]

#: A workload ready to run once; it returns how many units (nodes, items…) it did.
Runner = Callable[[], Any]


def timed(run: Runner) -> tuple[float, int]:
    """Seconds one run takes (after a collection, so earlier garbage is not billed to
    it) and the units it did."""
    gc.collect()
    start = time.perf_counter()
    units = run()
    return time.perf_counter() - start, int(units)


def peak_kib(run: Runner) -> float:
    """Peak memory traced by ``tracemalloc`` during one run, in KiB."""
    gc.collect()
    tracemalloc.start()
    try:
        run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1024


def growth(points: list[tuple[int, float]]) -> float:
    """Slope of log(total time) against log(size) between the smallest and largest of
    ``(size, time per unit)`` points: 1.0 is linear (a flat cost per unit)."""
    (n0, u0), (n1, u1) = points[0], points[-1]
    return math.log((u1 * n1) / (u0 * n0)) / math.log(n1 / n0)
