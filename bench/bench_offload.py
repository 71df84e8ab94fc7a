"""Offloading, side by side: CPU-bound nodes in the loop vs on a process pool vs on Dask,
and the cost of one offloaded call vs a bare ``executor.submit(...).result()``.

1. **Four independent CPU-bound nodes** of ~0.5 s each (a pure-Python sum, calibrated
   at start): run in the loop (each blocks it: ~4 × 0.5 s), then as
   ``@node(executor="cpu")`` on a 2-worker ``ProcessPoolExecutor`` (started and warmed
   before timing), and the floor: the same four calls as a bare ``pool.map`` on that
   pool. Alternate rounds; best and median of each. Target: offloaded ≤ 0.6× in-loop on
   a 2-core machine (only reachable when the machine gives this process two cores: the
   bare pool's ratio says whether it did). When ``dask[distributed]`` is installed, the same flow
   on a ``LocalCluster`` of 2 worker processes (loopback only): same results, and the
   trace must name both workers.
2. **Overhead per call**: one node awaiting ``offload(noop, i)`` N times in a row, vs a
   plain loop of ``pool.submit(noop, i).result()`` on the same pool, alternately.
   Target: offload ≤ 2× the bare round trip.

``--quick`` (the smoke run ``make test`` keeps working) uses ~0.05 s nodes and fewer
calls. The machine's load is printed: on a shared machine the ratios move, so read
several runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flowtrace import FlowHDL, node
from flowtrace.events import OffloadFinished, OffloadStarted
from flowtrace.offload import offload

#: Set by calibrate(): iterations of spin() that take the target time here.
SPIN_N = 1


def spin(n: int) -> int:
    """Pure-Python CPU work (holds the GIL: threads would not help)."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def noop(x: int) -> int:
    return x


def calibrate(seconds: float) -> int:
    """Iterations of :func:`spin` that take about ``seconds`` in this process."""
    n = 200_000
    while True:
        started = time.perf_counter()
        spin(n)
        took = time.perf_counter() - started
        if took > 0.05:
            return max(1, int(n * seconds / took))
        n *= 4


@node
async def InLoop(n: int) -> int:
    return spin(n)


@node(executor="cpu")
def Offloaded(n: int) -> int:
    return spin(n)


def four_nodes(kind: Any, n: int) -> Any:
    with FlowHDL() as f:
        f.a = kind(n)
        f.b = kind(n + 1)
        f.c = kind(n + 2)
        f.d = kind(n + 3)
    return f


def results(f: Any) -> tuple[Any, ...]:
    return (f.a.get_data(), f.b.get_data(), f.c.get_data(), f.d.get_data())


class Workers:
    """An instrument noting which workers ran offloaded calls, and for how long."""

    kinds = (OffloadStarted, OffloadFinished)

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.run_ns: list[int] = []

    def on_event(self, event: Any) -> None:
        if isinstance(event, OffloadFinished):
            if event.run_ns is not None:
                self.run_ns.append(event.run_ns)
        elif event.worker not in self.seen:
            self.seen.append(event.worker)


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = run()
    return time.perf_counter() - started, value


def summary(values: list[float]) -> str:
    return f"best {min(values):.3f} s, median {statistics.median(values):.3f} s"


def part_cpu(pool: Executor, n: int, rounds: int) -> tuple[Any, float]:
    """In-loop vs process pool; returns the results and the best ratio."""
    in_loop: list[float] = []
    offloaded: list[float] = []
    worker_ns: list[int] = []
    bare: list[float] = []
    expected = None
    for _ in range(rounds):
        f = four_nodes(InLoop, n)
        seconds, _ = timed(lambda f=f: f.run_until_complete())  # type: ignore[misc]
        in_loop.append(seconds)
        expected = results(f)
        g = four_nodes(Offloaded, n)
        workers = Workers()
        seconds, _ = timed(
            lambda g=g, w=workers: g.run_until_complete(  # type: ignore[misc]
                executors={"cpu": pool}, instruments=[w]
            )
        )
        offloaded.append(seconds)
        worker_ns.extend(workers.run_ns)
        assert results(g) == expected, (results(g), expected)
        seconds, values = timed(lambda: list(pool.map(spin, [n, n + 1, n + 2, n + 3])))
        bare.append(seconds)
        assert tuple((v,) for v in values) == expected
    ratio = min(offloaded) / min(in_loop)
    median_ratio = statistics.median(offloaded) / statistics.median(in_loop)
    print(f"  in the loop:          {summary(in_loop)}")
    print(f"  2-worker process pool: {summary(offloaded)}")
    print(f"  the same pool, bare pool.map(spin, ...) (the floor): {summary(bare)}")
    print(
        f"  offloaded / in-loop: {ratio:.2f} (best), {median_ratio:.2f} (median); "
        f"target ≤ 0.60 -> {'met' if ratio <= 0.60 else 'NOT met'}; bare pool / in-loop: "
        f"{min(bare) / min(in_loop):.2f} (best)"
    )
    # Where the time went: how long one node took in the loop, how long one call ran on
    # a worker, and how many calls ran at once (sum of run times / wall time).
    per_node = statistics.median(in_loop) / 4
    per_call = statistics.median(worker_ns) / 1e9
    overlap = sum(worker_ns) / 1e9 / sum(offloaded)
    print(
        f"  one node in the loop {per_node:.3f} s, one call on a worker {per_call:.3f} s, "
        f"calls running at once {overlap:.2f} (a loaded machine slows each worker)"
    )
    return expected, ratio


def part_dask(n: int, expected: Any) -> None:
    try:
        import distributed
    except ImportError:
        print("  dask[distributed] is not installed: skipped (pip install 'flowtrace[dask]')")
        return
    started = time.perf_counter()
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=50,
    )
    client = distributed.Client(cluster, set_as_default=False)
    try:
        print(f"  LocalCluster of 2 worker processes up in {time.perf_counter() - started:.2f} s")
        client.submit(noop, 0, pure=False).result()  # warm
        f = four_nodes(Offloaded, n)
        workers = Workers()
        seconds, _ = timed(
            lambda: f.run_until_complete(executors={"cpu": client}, instruments=[workers])
        )
        same = results(f) == expected
        known = set(client.scheduler_info()["workers"])
        print(
            f"  dask LocalCluster: {seconds:.3f} s; same results as in the loop: {same}; "
            f"workers in the trace: {', '.join(workers.seen)} "
            f"({'both' if set(workers.seen) == known else 'NOT both'} of the cluster's)"
        )
        assert same
    finally:
        client.close()
        cluster.close()


def part_overhead(pool: Executor, calls: int, rounds: int) -> float:
    @node
    async def Calls(k: int) -> int:
        total = 0
        for i in range(k):
            total += await offload(noop, i)
        return total

    def bare() -> int:
        return sum(pool.submit(noop, i).result() for i in range(calls))

    def flow() -> int:
        with FlowHDL() as f:
            f.c = Calls(calls)
        f.run_until_complete(executors=pool)
        return int(f.c.get_data()[0])

    per_bare: list[float] = []
    per_offload: list[float] = []
    for _ in range(rounds):
        seconds, total = timed(bare)
        per_bare.append(seconds / calls * 1e6)
        seconds, total2 = timed(flow)
        per_offload.append(seconds / calls * 1e6)
        assert total == total2
    ratio = min(per_offload) / min(per_bare)
    print(
        f"  bare submit().result(): best {min(per_bare):.0f} µs/call, "
        f"median {statistics.median(per_bare):.0f}"
    )
    print(
        f"  await offload():        best {min(per_offload):.0f} µs/call, "
        f"median {statistics.median(per_offload):.0f}"
    )
    print(
        f"  offload / bare: {ratio:.2f} (best), "
        f"{statistics.median(per_offload) / statistics.median(per_bare):.2f} (median); "
        f"target ≤ 2 -> {'met' if ratio <= 2 else 'NOT met'}"
    )
    return ratio


def main(argv: list[str] | None = None) -> int:
    global SPIN_N
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster")
    args = parser.parse_args(argv)
    node_seconds = 0.05 if args.quick else 0.5
    rounds = args.rounds or (1 if args.quick else 3)
    calls = 50 if args.quick else 500
    load = os.getloadavg()
    print(f"cores: {os.cpu_count()}, load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    SPIN_N = calibrate(node_seconds)
    print(
        f"1. four independent CPU-bound nodes of ~{node_seconds} s each "
        f"(spin({SPIN_N:,})), {rounds} round(s)"
    )
    with ProcessPoolExecutor(2) as pool:
        pool.submit(noop, 0).result()  # start the workers before timing
        pool.submit(noop, 0).result()
        expected, _ = part_cpu(pool, SPIN_N, rounds)
        if not args.no_dask:
            part_dask(SPIN_N, expected)
        print(f"2. overhead of one call: {calls} calls in a row, {max(rounds, 3)} rounds")
        part_overhead(pool, calls, max(rounds, 3))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
