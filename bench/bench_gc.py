"""The garbage-collector policy around flow runs (``flowtrace/engine/gcpolicy.py``),
against the alternatives, side by side in one process.

Policies (each swapped in for ``gcpolicy.run_began`` / ``run_ended``):

* ``freeze-all``  — ``gc.freeze()`` before every run, ``unfreeze()`` after (the first
  version: flat per-node cost, but the collector's counts restart at every freeze, so
  many short runs never reach a full collection and their garbage stays);
* ``no-freeze``   — the collector as CPython runs it;
* ``freeze+full`` — freeze every run, plus a full collection at a run's start when the
  frozen heap grew by a quarter since the last one;
* ``policy``      — what the engine does: ``freeze+full`` for graphs of at least
  ``gcpolicy.FREEZE_MIN_NODES`` nodes, ``no-freeze`` below.

Measured in CPU time of this process (the machine may be shared), policies
alternating round by round (best of the rounds):

* ``chain N``: run phase per node of a chain of N nodes (the cost §12.2 of DESIGN.md
  promises flat), graph built fresh each round;
* ``3-node × R``, ``1k-node × R``, ``10k-node × R``: R runs of a flow of that size,
  each built fresh — CPU µs per node (building and running), full collections per run
  (counted with ``gc.callbacks``: the robust figure on a busy machine), and the objects
  the collector tracks afterwards, per run (growth: garbage kept).

``--quick`` is a seconds-long smoke run.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import workloads

import flowtrace
from flowtrace.engine import gcpolicy


class Begin(Protocol):
    """The signature of ``gcpolicy.run_began``, which a policy here replaces."""

    def __call__(self, nodes: int) -> bool: ...


_real_began = gcpolicy.run_began


def _freeze_all(nodes: int) -> bool:
    if not gc.isenabled() or gc.get_freeze_count() != 0:
        return False
    gc.freeze()
    return True


def _no_freeze(nodes: int) -> bool:
    return False


def _freeze_full(nodes: int) -> bool:
    saved = gcpolicy.FREEZE_MIN_NODES
    gcpolicy.FREEZE_MIN_NODES = 0
    try:
        return _real_began(nodes)
    finally:
        gcpolicy.FREEZE_MIN_NODES = saved


POLICIES: dict[str, Begin] = {
    "freeze-all": _freeze_all,
    "no-freeze": _no_freeze,
    "freeze+full": _freeze_full,
    "policy": _real_began,
}


def _use(policy: str) -> None:
    gcpolicy.run_began = POLICIES[policy]
    gcpolicy._baseline = 0


def chain_per_node_us(size: int) -> float:
    """Run phase of one chain of ``size`` nodes, µs per node."""
    run = workloads.chain(flowtrace, size)
    gc.collect()
    run()
    timer: Any = run.timer  # type: ignore[attr-defined]
    return float(timer.last_run_cpu_s) / (size + 1) * 1e6


@flowtrace.node
async def _Source(x: int = 1) -> int:
    return x


@flowtrace.node
async def _Inc(x: int) -> int:
    return x + 1


def _small_flow() -> None:
    with flowtrace.FlowHDL() as f:
        f.a = _Source()
        f.b = _Inc(f.a)
        f.c = _Inc(f.b)
    f.run_until_complete()


def _chain_flow(n: int) -> Callable[[], None]:
    def run() -> None:
        with flowtrace.FlowHDL() as f:
            prev = _Source()
            for _ in range(n - 1):
                prev = _Inc(prev)
            f.out = prev
        f.run_until_complete()

    return run


_full_collections = 0


def _count_full(phase: str, info: dict[str, Any]) -> None:
    global _full_collections
    if phase == "stop" and info["generation"] == 2:
        _full_collections += 1


def many_runs(flow: Callable[[], None], runs: int) -> tuple[float, float, float]:
    """CPU µs per run over ``runs`` runs, full collections per run, and tracked objects
    kept per run (the count after all runs minus the count after the first tenth, per
    run in between)."""
    global _full_collections
    gc.collect()
    _full_collections = 0
    start = time.process_time()
    tenth = max(1, runs // 10)
    early = 0
    for i in range(runs):
        flow()
        if i + 1 == tenth:
            early = len(gc.get_objects())
    elapsed = time.process_time() - start
    full = _full_collections
    late = len(gc.get_objects())
    gc.collect()
    return elapsed / runs * 1e6, full / runs, (late - early) / (runs - tenth)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    sizes = [100, 1_000] if args.quick else [100, 1_000, 10_000, 30_000]
    small_runs = 500 if args.quick else 5_000
    big_runs = 5 if args.quick else 60
    gc.callbacks.append(_count_full)
    try:
        print("chain run phase, µs per node (best of rounds)")
        print(f"{'size':>8} " + " ".join(f"{p:>12}" for p in POLICIES))
        for size in sizes:
            best = {p: float("inf") for p in POLICIES}
            for _ in range(rounds):
                for policy in POLICIES:
                    _use(policy)
                    best[policy] = min(best[policy], chain_per_node_us(size))
            print(f"{size:>8} " + " ".join(f"{best[p]:>12.2f}" for p in POLICIES))
        cases: list[tuple[str, int, Callable[[], None], int]] = [
            ("3-node", 3, _small_flow, small_runs),
            ("1k-node", 1_000, _chain_flow(1_000), big_runs),
        ]
        if not args.quick:
            cases.append(("10k-node", 10_000, _chain_flow(10_000), 10))
        for label, nodes, flow, runs in cases:
            print(
                f"{label} × {runs}: CPU µs per node, full collections per run, objects kept per run"
            )
            for policy in POLICIES:
                results = []
                for _ in range(rounds):
                    _use(policy)
                    results.append(many_runs(flow, runs))
                per_node = min(r[0] for r in results) / nodes
                full = max(r[1] for r in results)
                kept = max(r[2] for r in results)
                print(f"  {policy:>12} {per_node:>8.2f} µs {full:>6.2f} {kept:>10.1f}")
    finally:
        gcpolicy.run_began = _real_began
        gc.callbacks.remove(_count_full)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
