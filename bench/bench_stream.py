"""flowtrace streams against asyncio: cost per item and peak memory with stream length.

Workload (``workloads.stream``): K items through producer → pass-through → consumer.
Floors, measured in the same run and alternately with flowtrace (round 1 of each, round
2 of each, …): two asyncio tasks handing items through one ``asyncio.Queue(1)``
(``asyncio-2``, the floor the engine issue names), and the same three-stage pipeline
with two ``Queue(1)`` (``asyncio-3``). Printed: µs per item (best and median), the
ratios, the growth exponent of flowtrace's total time with K (1.0 = linear), and the
peak traced memory of one flowtrace run (tracemalloc; it must not grow with K: items
of a generation are released once every reader has read them). ``--quick`` takes
seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import workloads
from measure import Runner, growth, peak_kib, timed

import flowtrace

FULL = [1_000, 10_000, 100_000, 1_000_000]
QUICK = [1_000, 10_000]


def two_task_floor(k: int) -> Runner:
    """Two asyncio tasks handing ``k`` items through one ``asyncio.Queue(1)``."""

    async def main() -> int:
        queue: asyncio.Queue[int | None] = asyncio.Queue(1)

        async def producer() -> None:
            for i in range(k):
                await queue.put(i)
            await queue.put(None)

        async def consumer() -> int:
            total = 0
            while (item := await queue.get()) is not None:
                total += item
            return total

        _, total = await asyncio.gather(producer(), consumer())
        return total

    def run() -> int:
        assert asyncio.run(main()) == k * (k - 1) // 2
        return k

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--no-memory", action="store_true", help="skip tracemalloc runs")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    rounds = args.rounds or (2 if args.quick else 3)
    print(
        f"{'items':>9} {'flowtrace µs/item':>18} {'asyncio-2':>16} {'asyncio-3':>16} "
        f"{'/a2':>6} {'/a3':>6} {'peak KiB':>9}"
    )
    points: list[tuple[int, float]] = []
    floor_points: list[tuple[int, float]] = []
    worst = 0.0
    peaks: list[float] = []
    for k in sizes:
        configs: dict[str, Runner] = {
            "flowtrace": workloads.stream(flowtrace, k),
            "asyncio-2": two_task_floor(k),
            "asyncio-3": workloads.asyncio_stream(k),
        }
        r = rounds if k < 500_000 else 1
        per: dict[str, list[float]] = {c: [] for c in configs}
        for _ in range(r):
            for config, run in configs.items():
                seconds, units = timed(run)
                per[config].append(seconds / units * 1e6)
        best = {c: min(v) for c, v in per.items()}
        peak = float("nan")
        if not args.no_memory and k <= 100_000:
            peak = peak_kib(configs["flowtrace"])
            peaks.append(peak)
        ratio2 = best["flowtrace"] / best["asyncio-2"]
        ratio3 = best["flowtrace"] / best["asyncio-3"]
        worst = max(worst, ratio2)
        points.append((k, best["flowtrace"]))
        floor_points.append((k, best["asyncio-2"]))
        print(
            f"{k:>9} {best['flowtrace']:>8.2f} ({statistics.median(per['flowtrace']):>6.2f})"
            f" {best['asyncio-2']:>7.2f} ({statistics.median(per['asyncio-2']):>5.2f})"
            f" {best['asyncio-3']:>7.2f} ({statistics.median(per['asyncio-3']):>5.2f})"
            f" {ratio2:>6.2f} {ratio3:>6.2f} {peak:>9.1f}"
        )
    k0, k1 = points[0][0], points[-1][0]
    print(
        f"growth exponent {growth(points):.2f} from {k0} to {k1} items (target ≤ 1.1; the "
        f"asyncio-2 floor's own exponent in this run: {growth(floor_points):.2f}); "
        f"worst flowtrace/asyncio-2 ratio {worst:.2f} (target ≤ 5)"
    )
    if len(peaks) >= 2:
        print(
            f"peak memory {peaks[0]:.0f} KiB at {sizes[0]} items, {peaks[-1]:.0f} KiB at "
            f"{sizes[len(peaks) - 1]} items"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
