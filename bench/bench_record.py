"""What recording a trace costs, and how fast a big trace reads back.

1. Recording cost: each workload runs bare, with the trace recorder writing a file
   (plain and gzip), and under two floors that show where the cost lies: ``emit``
   patched to return at once (the engine's own work for having listeners at all:
   guards, preparing fields, the call) and a do-nothing ``on_event`` instrument (every
   event object built and delivered). Configurations alternate within this process;
   the median CPU time of this process (``time.process_time``: the flush thread and
   the kernel's write work count, other processes on a busy machine do not) of the
   *run phase* (graph building excluded; the recorder's final flush and shutdown
   included) is reported as a ratio to the bare run (target: record/bare <= 1.5x).
   Workloads: the event loop alone (tasks yielding to each other), and, when the flow
   engine is available, the chain, cycle and stream workloads of ``workloads.py``
   (nodes that do no work: the worst case) and a chain whose nodes each spin for
   ``WORK_US`` µs, standing for real work. Each workload's events are counted in
   untimed runs at its size and at half of it: events per unit (per chain node, cycle
   generation, stream item, task step) for the whole run, and per unit of growth
   (the run's fixed events left out); ``--kinds`` breaks them down by kind.
2. Serialisation cost per event on a realistic mix of event kinds.
3. Reading: a synthetic trace of 1,000,000 events (written with the real writer) is read
   and indexed by run (``read_trace``; target <= 5 s) and summarised (``flowtrace
   show``'s pass).

``--quick`` runs everything small, in seconds; ``--repeats N`` sets the runs per
configuration (more = steadier medians on a busy machine); ``--no-read`` stops after
the recording cost. ``bench_events.py`` takes the per-event cost apart (building,
emitting, recording).
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import flowtrace
from flowtrace import EventLoop, sleep, spawn
from flowtrace.eventjson import encode_event
from flowtrace.events import (
    DataEmitted,
    Event,
    FlowFinished,
    FlowStarted,
    GraphInfo,
    InputRead,
    InputsGathered,
    NodeFinished,
    NodeInfo,
    NodeStarted,
    NodeStatusChanged,
    PortInfo,
    ResolutionQueuePut,
)
from flowtrace.instrument import Bus, shutdown_instrument
from flowtrace.record import Recorder, TraceWriter
from flowtrace.summary import summarize_file
from flowtrace.tracefile import make_header, read_trace


class Sample(NamedTuple):
    """One run of a workload: CPU seconds of its run phase and the units it did."""

    cpu_s: float
    units: int


#: Runs a workload with these instruments; the CPU seconds of its run phase (graph
#: building excluded) and its units (chain nodes, cycle generations, stream items, task
#: steps).
Runner = Callable[[list[Any]], Sample]


class Workload(NamedTuple):
    """A recording workload: its size, the unit it counts, and ``make(size)``."""

    name: str
    size: int
    unit: str
    make: Callable[[int], Runner]

    @property
    def label(self) -> str:
        return self.name.format(self.size)


def loop_workload(tasks: int, steps: int) -> Runner:
    """``tasks`` tasks each yielding ``steps`` times (sleep(0)), joined by the root."""

    async def worker(n: int) -> int:
        for _ in range(steps):
            await sleep(0)
        return n

    async def main() -> int:
        handles = [await spawn(worker(i)) for i in range(tasks)]
        return sum([await h.join() for h in handles])

    def run(instruments: list[Any]) -> Sample:
        start = time.process_time()
        EventLoop().run_until_complete(main(), join=True, instruments=instruments)
        return Sample(time.process_time() - start, tasks * steps)

    return run


def _engine_runner(name: str) -> Callable[[int], Runner]:
    import workloads

    wl = workloads.WORKLOADS[name]

    def make(size: int) -> Runner:
        def runner(instruments: list[Any]) -> Sample:
            run: Any = wl.build(flowtrace, size, {"instruments": instruments})
            units = run()
            # the run phase: building the graph is not counted
            return Sample(float(run.timer.last_run_cpu_s), int(units))

        return runner

    return make


def recording_workloads(quick: bool) -> list[Workload]:
    """The event loop alone, then chain, cycle, stream and the working chain."""
    tasks = 50 if quick else 200
    out = [
        Workload(
            f"loop({tasks}x{{}})",
            40 if quick else 100,
            "task step",
            lambda steps: loop_workload(tasks, steps),
        )
    ]
    if not hasattr(flowtrace, "node"):
        return out
    for name, unit, size in (
        ("chain", "node", 100 if quick else 1000),
        ("cycle", "generation", 100 if quick else 2000),
        ("stream", "item", 300 if quick else 2000),
    ):
        out.append(Workload(name + "({})", size, unit, _engine_runner(name)))
    out.append(
        Workload(
            f"chain+{WORK_US}us({{}})",
            100 if quick else 1000,
            "node",
            lambda n: working_chain(n, WORK_US),
        )
    )
    return out


#: Own work per node in the ``chain+work`` workload: about where recording cost 1.5x
#: with schema 1.x on this project's 2-core machine (the recorder's cost per node is
#: fixed, so the ratio falls as nodes do more).
WORK_US = 60


def working_chain(n: int, work_us: int) -> Runner:
    """A chain of ``n`` nodes each busy for ``work_us`` µs of CPU (a spin on the clock,
    standing for real work) after adding one: what recording costs for nodes that do
    something."""

    @flowtrace.node
    async def Zero() -> int:
        return 0

    @flowtrace.node
    async def Work(x: int) -> int:
        end = time.perf_counter_ns() + work_us * 1000
        while time.perf_counter_ns() < end:
            pass
        return x + 1

    def runner(instruments: list[Any]) -> Sample:
        with flowtrace.FlowHDL() as f:
            prev = Zero()
            for _ in range(n):
                prev = Work(prev)
            f.out = prev
        start = time.process_time()
        f.run_until_complete(instruments=instruments)
        spent = time.process_time() - start
        assert f.out.get_data() == (n,)
        return Sample(spent, n + 1)

    return runner


class _Null:
    """An instrument that wants every event and does nothing: the cost of emitting."""

    def on_event(self, event: Event) -> None:
        pass


class _Count:
    """Counts the events of a run, per kind (not timed: the events-per-unit figures)."""

    def __init__(self) -> None:
        # not ``kinds``: on an instrument that names the event classes it wants
        self.by_kind: collections.Counter[str] = collections.Counter()

    def on_event(self, event: Event) -> None:
        self.by_kind[type(event).__name__] += 1


@contextmanager
def _emit_does_nothing() -> Iterator[None]:
    """Replace ``Bus.emit`` by a function that returns at once: what is left is the
    engine's own cost of having listeners — its guards, preparing each event's fields
    and calling ``emit`` — which no instrument, however cheap, can avoid."""
    real = Bus.emit

    def emit(self: Bus, event_type: Any, *fields: Any) -> None:
        return None

    Bus.emit = emit  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        Bus.emit = real  # type: ignore[method-assign]


#: Configurations of the recording benchmark, in the order they run and print.
CONFIGS = ("bare", "emit floor", "events only", "record", "record.gz")


class Counts(NamedTuple):
    """Events of one run of a workload, counted by an instrument."""

    events: int
    units: int
    #: Events per unit of the run's growth: (E(n) - E(n/2)) / (units(n) - units(n/2)),
    #: the run's fixed events (start, end, the root task) left out.
    marginal: float
    kinds: dict[str, float]

    @property
    def per_unit(self) -> float:
        return self.events / self.units


def count_events(wl: Workload) -> Counts:
    """Run ``wl`` at its size and at half of it with a counting instrument."""
    full, half = _Count(), _Count()
    units = wl.make(wl.size)([full]).units
    half_units = wl.make(max(1, wl.size // 2))([half]).units
    events, half_events = sum(full.by_kind.values()), sum(half.by_kind.values())
    marginal = (events - half_events) / max(1, units - half_units)
    kinds = {k: n / units for k, n in full.by_kind.most_common()}
    return Counts(events, units, marginal, kinds)


def _recorder(path: Path) -> Any:
    return Recorder(path, flush_interval=0)


def measure_recording(
    tmp: Path, quick: bool, repeats: int | None = None
) -> list[tuple[Workload, float, dict[str, float], Counts]]:
    """Per workload: the workload, bare ms, {configuration: ratio to bare}, its counts."""
    repeats = repeats or (7 if quick else 11)
    rows = []
    for wl in recording_workloads(quick):
        run = wl.make(wl.size)
        times: dict[str, list[float]] = {config: [] for config in CONFIGS}
        run([])  # warm up
        for i in range(repeats):
            for config in times:
                instruments: list[Any] = []
                rec: Any = None
                if config in ("events only", "emit floor"):
                    instruments = [_Null()]
                elif config != "bare":
                    suffix = ".ftrace.jsonl.gz" if config.endswith("gz") else ".ftrace.jsonl"
                    rec = _recorder(tmp / f"{wl.label}-{i}{suffix}")
                    instruments = [rec]
                with _emit_does_nothing() if config == "emit floor" else nullcontext():
                    spent = run(instruments).cpu_s
                    if rec is not None:
                        start = time.process_time()
                        shutdown_instrument(rec)  # the final flush belongs to recording
                        spent += time.process_time() - start
                    times[config].append(spent)
        bare = statistics.median(times["bare"])
        ratios = {config: statistics.median(t) / bare for config, t in times.items()}
        rows.append((wl, bare * 1e3, ratios, count_events(wl)))
    return rows


def print_recording(
    rows: list[tuple[Workload, float, dict[str, float], Counts]], kinds: bool = False
) -> None:
    print("recording cost (median CPU time of the run phase, alternating runs; ratio to bare)")
    print("  emit floor  = listeners attached but Bus.emit returns at once: the engine's")
    print("                own cost of preparing and emitting events, below any instrument")
    print("  events only = a do-nothing on_event instrument (every event object built)")
    print("  record      = the trace recorder writing a file (target <= 1.5x)")
    print("  events/unit = events of one run / its units; marginal = per unit of growth")
    print(
        f"{'workload':<18}{'bare ms':>9}"
        + "".join(f"{c:>13}" for c in CONFIGS[1:])
        + f"{'events':>9}{'ev/unit':>9}{'marginal':>9}  unit"
    )
    for wl, bare_ms, ratios, counts in rows:
        print(
            f"{wl.label:<18}{bare_ms:>9.2f}"
            + "".join(f"{ratios[c]:>12.2f}x" for c in CONFIGS[1:])
            + f"{counts.events:>9}{counts.per_unit:>9.2f}{counts.marginal:>9.2f}  {wl.unit}"
        )
        if kinds:
            for kind, per in counts.kinds.items():
                print(f"    {kind:<24}{per:>8.3f} per {wl.unit}")


def synthetic_events(total: int, runs: int = 4) -> list[Event]:
    """``total`` events spread over ``runs`` runs, in the mix a flow run produces."""
    out: list[Event] = []
    per_run = total // runs
    t = 1_000_000
    for r in range(runs):
        run_id = f"flow-{r + 1}"
        seq = 0
        graph = GraphInfo(
            tuple(
                NodeInfo(
                    f"n{i}",
                    "Inc",
                    "mono",
                    False,
                    False,
                    (PortInfo(0, "x", 0, True, 0, f"n{i - 1}" if i else None, 0 if i else None),),
                    1,
                )
                for i in range(16)
            )
        )
        out.append(FlowStarted(seq, t, run_id, "flow", 1_700_000_000_000_000_000, graph))
        seq += 1
        gen = 0
        while seq < per_run - 1:
            node = f"n{gen % 16}"
            g = (gen // 16,)
            for event in (
                NodeStatusChanged(seq, t, run_id, node, "queued", "executing", None, None),
                NodeStarted(seq + 1, t + 10, run_id, node, g, 0),
                InputsGathered(
                    seq + 2,
                    t + 20,
                    run_id,
                    node,
                    g,
                    (InputRead(0, "n0", 0, g, gen, False, False),),
                    (),
                ),
                DataEmitted(seq + 3, t + 30, run_id, node, g, 0, (gen + 1,), 0, False),
                NodeFinished(seq + 4, t + 40, run_id, node, g, 0, "completed"),
                ResolutionQueuePut(seq + 5, t + 50, run_id, node, node, "consumer", True),
            ):
                out.append(event)
            seq += 6
            t += 100
            gen += 1
        out.append(FlowFinished(seq, t, run_id, "flow", "completed", None, None, None))
    return out[:total] if len(out) > total else out


def measure_encoding(events: list[Event]) -> float:
    start = time.perf_counter()
    for e in events:
        encode_event(e)
    return (time.perf_counter() - start) / len(events) * 1e9


def measure_reading(tmp: Path, total: int) -> dict[str, float]:
    events = synthetic_events(total)
    path = tmp / "big.ftrace.jsonl"
    writer = TraceWriter(path, make_header(["bench"]))
    start = time.perf_counter()
    for i in range(0, len(events), 8192):
        writer.write(events[i : i + 8192])
    writer.close()
    write_s = time.perf_counter() - start
    encode_ns = measure_encoding(events[:100_000])
    del events
    start, cpu = time.perf_counter(), time.process_time()
    trace = read_trace(path)
    read_s, read_cpu = time.perf_counter() - start, time.process_time() - cpu
    n = len(trace.events)
    del trace
    start, cpu = time.perf_counter(), time.process_time()
    summary = summarize_file(path)
    summary_s, summary_cpu = time.perf_counter() - start, time.process_time() - cpu
    assert summary.events == n
    return {
        "events": n,
        "bytes": path.stat().st_size,
        "write_s": write_s,
        "encode_ns": encode_ns,
        "read_s": read_s,
        "read_cpu": read_cpu,
        "summary_s": summary_s,
        "summary_cpu": summary_cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, seconds")
    parser.add_argument(
        "--repeats", type=int, default=None, help="runs of each configuration (default 11; quick 7)"
    )
    parser.add_argument(
        "--no-read",
        action="store_true",
        help="only the recording cost (skip the big-trace read benchmark)",
    )
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help="events in the read benchmark (default 1,000,000; quick 100,000)",
    )
    parser.add_argument(
        "--kinds", action="store_true", help="also print each workload's events per unit by kind"
    )
    args = parser.parse_args()
    total = args.events or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="ftbench-") as tmp_name:
        tmp = Path(tmp_name)
        print_recording(measure_recording(tmp, args.quick, args.repeats), args.kinds)
        if not hasattr(flowtrace, "node"):
            print("(flow engine not available: engine workloads skipped)")
        if args.no_read:
            return
        r = measure_reading(tmp, total)
        print()
        print(f"synthetic trace: {r['events']:,} events, {r['bytes'] / 1e6:.1f} MB")
        print(f"  serialise: {r['encode_ns']:.0f} ns/event; write all: {r['write_s']:.2f} s")
        per = r["read_s"] / r["events"] * 1e6
        print(
            f"  read_trace (read + index by run): {r['read_s']:.2f} s wall, "
            f"{r['read_cpu']:.2f} s CPU ({per:.2f} µs/event)"
            f"  target <= {5 * r['events'] / 1_000_000:.1f} s"
        )
        print(
            f"  summarize_file (flowtrace show): {r['summary_s']:.2f} s wall, "
            f"{r['summary_cpu']:.2f} s CPU"
        )


if __name__ == "__main__":
    main()
