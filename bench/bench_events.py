"""What one event costs: building it, emitting it, recording it.

The engine's per-event overhead, taken apart so that each piece can be tuned alone:

1. construction: ``EventType(seq, t_ns, run_id, *fields)`` for the nine kinds a chain
   node emits (schema 2.0; ns per event);
2. emission: ``Bus.emit`` with no listener for the kind (what an unguarded call site
   would pay), with one listener that ignores it, and the guard the engine actually
   uses when nobody listens (``if bus.listening[kind]:``);
3. recording: the trace recorder's ``on_event`` (encode + buffer, and the batched writes
   to a file amortised over the events), in µs per event.

Every figure is the best of several repeats (``timeit``-style), so a busy machine
inflates it less. ``--quick`` uses fewer iterations.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from flowtrace.events import (
    BarrierCountdown,
    DataEmitted,
    Event,
    InputRead,
    InputsGathered,
    NodeFinished,
    NodeStarted,
    NodeStatusChanged,
    ResolutionQueuePut,
    SolutionFound,
    TaskSpawned,
)
from flowtrace.instrument import Bus, shutdown_instrument
from flowtrace.record import Recorder

#: (event class, fields after the header): the nine events of schema 2.0 a chain node
#: emits, in their order (``bench_record.py --kinds`` counts them from a real run).
MIX: list[tuple[type[Event], tuple[Any, ...]]] = [
    (ResolutionQueuePut, ("Inc#4", "Inc#3", "consumer", True)),
    (SolutionFound, ("Inc#4", ("Inc#4",), (), ())),
    (NodeStatusChanged, ("Inc#4", "waiting", "queued", None, None)),
    (TaskSpawned, (7, "Inc#4", 6, "Inc#4")),
    (NodeStarted, ("Inc#4", (0,), 0)),
    (BarrierCountdown, ("Inc#3", "Inc#4", (0,), 0, 0)),
    (InputsGathered, ("Inc#4", (0,), (InputRead(0, "Inc#3", 0, (0,), 3, False, False),), ())),
    (DataEmitted, ("Inc#4", (0,), 0, (4,), 0, False)),
    (NodeFinished, ("Inc#4", (0,), 0, "completed")),
]


class Null:
    """Wants every event, does nothing with it."""

    def on_event(self, event: Event) -> None:
        pass


def best(fn: Callable[[], None], repeats: int) -> float:
    """Fastest of ``repeats`` timings of ``fn`` (seconds)."""
    out = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - start)
    return out


def construction_ns(n: int, repeats: int) -> float:
    mix = MIX

    def run() -> None:
        for i in range(n):
            for cls, fields in mix:
                cls(i, 0, "run-1", *fields)

    return best(run, repeats) / (n * len(mix)) * 1e9


def emit_ns(n: int, repeats: int, instruments: list[Any]) -> float:
    bus = Bus("run-1", instruments)
    mix = MIX
    emit: Any = bus.emit  # the mix is heterogeneous: each call is typed at the engine's sites

    def run() -> None:
        for _ in range(n):
            for cls, fields in mix:
                emit(cls, *fields)

    return best(run, repeats) / (n * len(mix)) * 1e9


def guard_ns(n: int, repeats: int) -> float:
    """The engine's call-site pattern when the kind is not listened to."""
    bus = Bus("run-1", [])
    mix = MIX

    def run() -> None:
        for _ in range(n):
            for cls, fields in mix:
                if bus.listening[cls.kind]:
                    bus.emit(cls, *fields)

    return best(run, repeats) / (n * len(mix)) * 1e9


def recorder_us(n: int, repeats: int, tmp: Path, gzip: bool) -> float:
    """Recorder.on_event per event, including its share of the writes and the close."""
    events = [cls(i, 0, "run-1", *fields) for i in range(n) for cls, fields in MIX]
    out = float("inf")
    for r in range(repeats):
        rec = Recorder(tmp / f"r{r}.ftrace.jsonl{'.gz' if gzip else ''}", flush_interval=0)
        on_event = rec.on_event
        start = time.perf_counter()
        for e in events:
            on_event(e)
        shutdown_instrument(rec)
        out = min(out, time.perf_counter() - start)
    return out / len(events) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args()
    n, repeats = (500, 25) if args.quick else (2_000, 60)
    print(f"event mix: {', '.join(cls.__name__ for cls, _ in MIX)}")
    print(f"  construction              {construction_ns(n, repeats):8.0f} ns/event")
    print(f"  guard, nobody listens     {guard_ns(n, repeats):8.0f} ns/event")
    print(f"  emit, 0 listeners         {emit_ns(n, repeats, []):8.0f} ns/event")
    print(f"  emit, 1 listener (null)   {emit_ns(n, repeats, [Null()]):8.0f} ns/event")
    print(f"  emit, 2 listeners (null)  {emit_ns(n, repeats, [Null(), Null()]):8.0f} ns/event")
    with tempfile.TemporaryDirectory(prefix="ftbench-") as tmp_name:
        tmp = Path(tmp_name)
        print(f"  recorder on_event         {recorder_us(n, repeats, tmp, False):8.2f} µs/event")
        print(f"  recorder on_event (gzip)  {recorder_us(n, repeats, tmp, True):8.2f} µs/event")


if __name__ == "__main__":
    main()
