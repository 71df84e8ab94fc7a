"""Cost of one event-loop task step, with and without instruments, side by side.

Workloads (each step = one resume of one task plus the handling of what it yielded):

* ``sleep0`` — N tasks each ``await sleep(0)`` K times (the bare scheduling path);
* ``queue``  — a producer and a consumer passing K items through ``AsyncQueue(1)``;
* ``event``  — N tasks waiting on an ``Event`` that one task sets, K rounds (wait/set
  with ``WaitBegan``/``WaitEnded``/``EventSet`` call sites).

Configurations, measured *alternately* in one process (round 1 of each, round 2 of
each, …) so that machine noise hits them alike:

* ``none`` — no instrument attached;
* ``rare`` — one instrument subscribed to a rare kind (``LoopExited``): every other
  call site still pays its ``bus.listening[kind]`` check, which is what must stay cheap;
* ``all``  — one do-nothing instrument subscribed to every kind (events are built and
  delivered).

Prints ns per step — the best round (least disturbed by other processes) and the
median — and their ratios to ``none``; then the cost of one unobserved-kind check
measured on its own.
``--quick`` is a seconds-long smoke run.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flowtrace import EventLoop, sleep, spawn
from flowtrace.engine.queues import AsyncQueue
from flowtrace.engine.sync import Event
from flowtrace.events import LoopExited


class Rare:
    kinds = (LoopExited,)

    def on_event(self, event: object) -> None:
        pass


class Everything:
    kinds = None

    def on_event(self, event: object) -> None:
        pass


Workload = Callable[[int, int], tuple[Coroutine[Any, Any, Any], int]]


def sleep0(n: int, k: int) -> tuple[Coroutine[Any, Any, Any], int]:
    async def worker() -> None:
        for _ in range(k):
            await sleep(0)

    async def main() -> None:
        for _ in range(n):
            await spawn(worker())

    # root: 1 + n steps; each worker: k + 1 steps
    return main(), 1 + n + n * (k + 1)


def queue(n: int, k: int) -> tuple[Coroutine[Any, Any, Any], int]:
    items = n * k

    async def main() -> None:
        q: AsyncQueue[int] = AsyncQueue(1)

        async def producer() -> None:
            for i in range(items):
                await q.put(i)
            await q.close()

        await spawn(producer())
        async for _ in q:
            pass

    # ~ one put step and one get step per item
    return main(), 2 * items


def event(n: int, k: int) -> tuple[Coroutine[Any, Any, Any], int]:
    async def main() -> None:
        for _ in range(k):
            ev = Event()

            async def waiter(e: Event = ev) -> None:
                await e.wait()

            for _ in range(n):
                await spawn(waiter())
            await ev.set()
            await sleep(0)

    # per round: n spawn steps + n first waiter steps + n resumed waiter steps + 2
    return main(), k * (3 * n + 2)


WORKLOADS: dict[str, Workload] = {"sleep0": sleep0, "queue": queue, "event": event}
CONFIGS: dict[str, Callable[[], list[Any]]] = {
    "none": lambda: [],
    "rare": lambda: [Rare()],
    "all": lambda: [Everything()],
}


def measure(workload: Workload, n: int, k: int, instruments: list[Any]) -> float:
    """ns per step of one run."""
    loop = EventLoop()
    coro, steps = workload(n, k)
    gc.collect()
    start = time.perf_counter_ns()
    loop.run_until_complete(coro, instruments=instruments)
    return (time.perf_counter_ns() - start) / steps


def check_cost(number: int) -> float:
    """ns of one ``if bus.listening[Kind.kind]:`` test for an unobserved kind, net of
    the timing loop itself."""
    import timeit

    from flowtrace.events import SleepBegan
    from flowtrace.instrument import Bus

    # The form used on the sleep(0) path: a module constant indexing the bus's table.
    env = {"listening": Bus("bench", [Rare()]).listening, "K": SleepBegan.kind}
    empty = min(timeit.repeat("pass", globals=env, number=number, repeat=5))
    check = min(timeit.repeat("if listening[K]: pass", globals=env, number=number, repeat=5))
    return (check - empty) / number * 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    rounds = args.rounds or (5 if args.quick else 15)
    n, k = (20, 50) if args.quick else (100, 400)

    version = sys.version.split()[0]
    print(f"flowtrace loop step cost  (n={n}, k={k}, rounds={rounds}, Python {version})")
    sleep0_base = 1.0
    header = ("workload", "config", "ns/step", "vs none", "median", "vs none")
    print("{:<8} {:<6} {:>9} {:>8} {:>9} {:>8}".format(*header))
    for name, workload in WORKLOADS.items():
        samples: dict[str, list[float]] = {c: [] for c in CONFIGS}
        measure(workload, n, k, [])  # warm-up
        for _ in range(rounds):
            for config, make in CONFIGS.items():
                samples[config].append(measure(workload, n, k, make()))
        best_base = min(samples["none"])
        med_base = statistics.median(samples["none"])
        for config in CONFIGS:
            best, med = min(samples[config]), statistics.median(samples[config])
            print(
                f"{name:<8} {config:<6} {best:>9.0f} {best / best_base:>8.3f} "
                f"{med:>9.0f} {med / med_base:>8.3f}"
            )
        if name == "sleep0":
            sleep0_base = best_base
    cost = check_cost(200_000 if args.quick else 2_000_000)
    print(
        f"\nOne unobserved-kind check costs {cost:.0f} ns; a sleep(0) step makes at most 2 "
        f"(SleepBegan, SleepEnded): {2 * cost / sleep0_base:.1%} of its {sleep0_base:.0f} ns."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
