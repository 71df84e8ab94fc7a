"""The cyclic garbage collector around flow runs: fast big runs, flat memory over many.

Why anything is done at all: during a run of a big graph, CPython's full collections
rescan the whole graph (and everything else alive) again and again, so the cost per
node grows with the graph's size. :func:`gc.freeze` before such a run moves every
object alive into the permanent generation, which collections skip; they then cost
what the run allocates. :func:`gc.unfreeze` at its end hands the objects back to the
oldest generation.

Why not freeze every run: ``gc.freeze()`` also resets the collector's allocation
counts, and unfrozen objects land in the oldest generation, which only a full
collection examines. A process that runs many short flows (a flow per request) then
never reaches a full collection, and every finished flow's cyclic garbage stays
(about 15 KB per 3-node flow, 46 KB recorded: hundreds of megabytes after 10,000
runs). So:

* a run of a graph smaller than :data:`FREEZE_MIN_NODES` does not touch the collector
  (its runs are short; CPython's own schedule keeps memory flat);
* a run that freezes first compares the number of objects it froze with the number
  left after the last full collection this module ran (or saw at its first freeze):
  when the heap has grown by more than a quarter (CPython's own rule for its full
  collections), it runs one full collection before the run starts. The cost of that
  collection is proportional to the heap, and it happens only after a quarter of the
  heap was added, so it stays a constant per allocated object (measured by
  ``bench/bench_gc.py``).

A run nested in another one's freeze (a flow run from a node), a program that froze
objects itself, or a disabled collector are left alone.
"""

from __future__ import annotations

import gc

__all__ = ["FREEZE_MIN_NODES", "run_began", "run_ended"]

#: Graphs with fewer nodes run with the collector as the program left it. Measured by
#: bench/bench_gc.py: freezing saves nothing at 1,000 nodes and 15-25% of the run at
#: 10,000-30,000; and a process running 1,000-node flows again and again paid for a
#: full collection at every run (CPython's own schedule: every fifth or so).
FREEZE_MIN_NODES = 10_000

#: A full collection runs when the frozen heap grew by more than 1/GROWTH_DIVISOR.
GROWTH_DIVISOR = 4

#: Objects tracked by the collector after the last full collection we ran (0: none yet).
_baseline = 0


def run_began(nodes: int) -> bool:
    """Called as a run of a graph of ``nodes`` nodes starts; returns whether it froze
    (then :func:`run_ended` must be called with ``True`` when the run ends)."""
    global _baseline
    if nodes < FREEZE_MIN_NODES or not gc.isenabled() or gc.get_freeze_count() != 0:
        return False
    gc.freeze()
    frozen = gc.get_freeze_count()
    if _baseline == 0 or frozen < _baseline:
        _baseline = frozen
    elif frozen - _baseline > _baseline // GROWTH_DIVISOR:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        _baseline = gc.get_freeze_count()
    return True


def run_ended(froze: bool) -> None:
    """Called as a run ends: undo :func:`run_began`'s freeze."""
    if froze:
        gc.unfreeze()
