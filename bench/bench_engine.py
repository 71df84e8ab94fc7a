"""flowtrace's engine against the asyncio floor: cost per node and per cycle generation.

Workloads (from ``workloads.py``, written against the Flowno API):

* ``chain``  — a source and N increments in a line (cost per node evaluation);
* ``tree``   — one source fanned out to N increments, folded by a binary tree of adds;
* ``cycle``  — two nodes in a cycle run for G generations (cost per generation).

Floors, measured in the same run: asyncio Tasks awaiting each other per node (chain,
tree); two tasks ping-ponging through ``asyncio.Queue(1)`` per generation (cycle).
Configurations are measured *alternately* (round 1 of each, round 2 of each, …) so
machine noise hits both alike. Printed: µs per unit (best and median of the rounds),
the flowtrace/asyncio ratio (best over best), and the growth exponent of flowtrace's
total time with size (1.0 = linear; per-unit cost flat). ``--quick`` takes seconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import workloads
from measure import Runner, growth, timed

import flowtrace

FULL = {
    "chain": [100, 1_000, 10_000],
    "tree": [128, 1_024, 8_192],
    "cycle": [1_000, 10_000, 100_000],
}
QUICK = {"chain": [100, 1_000], "tree": [128, 1_024], "cycle": [1_000, 10_000]}


def measure(name: str, size: int, rounds: int) -> dict[str, list[float]]:
    work = workloads.WORKLOADS[name]
    configs: dict[str, Runner] = {
        "flowtrace": work.build(flowtrace, size),
        "asyncio": work.floor(size),
    }
    per_unit: dict[str, list[float]] = {c: [] for c in configs}
    for _ in range(rounds):
        for config, run in configs.items():
            seconds, units = timed(run)
            per_unit[config].append(seconds / units * 1e6)
    return per_unit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    rounds = args.rounds or (2 if args.quick else 5)
    print(
        f"{'workload':8} {'size':>8} {'flowtrace µs/unit':>18} {'asyncio µs/unit':>16} {'ratio':>6}"
    )
    worst_ratio = 0.0
    worst_growth = 0.0
    for name, sizes in plan.items():
        points: list[tuple[int, float]] = []
        floor_points: list[tuple[int, float]] = []
        for size in sizes:
            r = rounds if size < 50_000 else max(2, rounds // 2)
            per_unit = measure(name, size, r)
            ft, floor = min(per_unit["flowtrace"]), min(per_unit["asyncio"])
            ratio = ft / floor
            worst_ratio = max(worst_ratio, ratio)
            points.append((size, ft))
            floor_points.append((size, floor))
            print(
                f"{name:8} {size:>8} {ft:>9.2f} ({statistics.median(per_unit['flowtrace']):>6.2f})"
                f" {floor:>8.2f} ({statistics.median(per_unit['asyncio']):>5.2f})"
                f" {ratio:>6.2f}"
            )
        g = growth(points)
        worst_growth = max(worst_growth, g)
        print(
            f"{name:8} growth exponent {g:.2f} from {sizes[0]} to {sizes[-1]} "
            f"(asyncio floor in this run: {growth(floor_points):.2f})"
        )
    print(
        f"worst flowtrace/asyncio ratio {worst_ratio:.2f} (target ≤ 5); "
        f"worst growth exponent {worst_growth:.2f} (target ≤ 1.1)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
