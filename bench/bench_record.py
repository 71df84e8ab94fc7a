"""What recording a trace costs, and how fast a big trace reads back.

1. Recording cost: each workload runs bare, with the trace recorder writing a file
   (plain and gzip), and under three floors that show where the cost lies: ``emit``
   patched to return at once (the engine's own work for having listeners at all:
   guards, preparing fields, the call), a do-nothing instrument taking events as parts
   (no object built), and a do-nothing ``on_event`` instrument (every object built).
   Configurations alternate within this process; the median CPU time of this process
   (``time.process_time``: the flush thread and the kernel's write work count, other
   processes on a busy machine do not) of the *run phase* (graph building excluded;
   the recorder's final flush and close included) is reported as a ratio to the bare
   run (target: record/bare <= 1.5x). Workloads: the event loop alone (tasks yielding
   to each other), and, when the flow engine is available, the chain, cycle and stream
   workloads of ``workloads.py`` (nodes that do no work: the worst case) and a chain
   whose nodes each spin for ``WORK_US`` µs, standing for real work.
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
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

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
from flowtrace.instrument import Bus
from flowtrace.record import Recorder, TraceWriter
from flowtrace.summary import summarize_file
from flowtrace.tracefile import make_header, read_trace

#: Runs a workload with these instruments; an engine workload returns the CPU seconds of
#: its run phase (graph building excluded), the event-loop workload nothing.
Runner = Callable[[list[Any]], object]


def loop_workload(tasks: int, steps: int) -> Runner:
    """``tasks`` tasks each yielding ``steps`` times (sleep(0)), joined by the root."""

    async def worker(n: int) -> int:
        for _ in range(steps):
            await sleep(0)
        return n

    async def main() -> int:
        handles = [await spawn(worker(i)) for i in range(tasks)]
        return sum([await h.join() for h in handles])

    def run(instruments: list[Any]) -> object:
        EventLoop().run_until_complete(main(), join=True, instruments=instruments)
        return None

    return run


def engine_workloads(quick: bool) -> dict[str, Runner]:
    if not hasattr(flowtrace, "node"):
        return {}
    import workloads

    out: dict[str, Runner] = {}
    for name, size in (
        ("chain", 100 if quick else 1000),
        ("cycle", 100 if quick else 2000),
        ("stream", 300 if quick else 2000),
    ):
        wl = workloads.WORKLOADS[name]

        def runner(instruments: list[Any], wl: Any = wl, size: int = size) -> float:
            run = wl.build(flowtrace, size, {"instruments": instruments})
            run()
            return float(run.timer.last_run_cpu_s)  # the run phase: building not counted

        out[f"{name}({size})"] = runner
    size = 100 if quick else 1000
    out[f"chain+{WORK_US}us({size})"] = working_chain(size, WORK_US)
    return out


#: Own work per node in the ``chain+work`` workload: about where recording costs 1.5x
#: on this project's 2-core machine (the recorder's cost per node is fixed, so the
#: ratio falls as nodes do more).
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

    def runner(instruments: list[Any]) -> float:
        with flowtrace.FlowHDL() as f:
            prev = Zero()
            for _ in range(n):
                prev = Work(prev)
            f.out = prev
        start = time.process_time()
        f.run_until_complete(instruments=instruments)
        spent = time.process_time() - start
        assert f.out.get_data() == (n,)
        return spent

    return runner


class _Null:
    """An instrument that wants every event and does nothing: the cost of emitting."""

    def on_event(self, event: Event) -> None:
        pass


class _NullParts:
    """Takes every event as parts and does nothing: the bus's cheapest delivery (no event
    object is built), the floor under the recorder's own work."""

    def on_event(self, event: Event) -> None:  # pragma: no cover - parts are preferred
        pass

    def on_event_fields(self, *parts: Any) -> None:
        pass


@contextmanager
def _emit_does_nothing() -> Iterator[None]:
    """Replace ``Bus.emit`` by a function that returns at once: what is left is the
    engine's own cost of having listeners — its guards, preparing each event's fields
    and calling ``emit`` — which no instrument, however cheap, can avoid."""
    real = Bus.emit

    def emit(self: Bus, event_type: Any, *fields: Any) -> None:
        return None

    Bus.emit = emit  # type: ignore[method-assign]
    try:
        yield
    finally:
        Bus.emit = real  # type: ignore[method-assign]


#: Configurations of the recording benchmark, in the order they run and print.
CONFIGS = ("bare", "emit floor", "parts floor", "events only", "record", "record.gz")


def measure_recording(
    tmp: Path, quick: bool, repeats: int | None = None
) -> list[tuple[str, float, dict[str, float], int]]:
    """Per workload: name, bare ms, {configuration: ratio to bare}, events per run."""
    workloads_: dict[str, Runner] = {
        "loop(50x40)" if quick else "loop(200x100)": (
            loop_workload(50, 40) if quick else loop_workload(200, 100)
        )
    }
    workloads_.update(engine_workloads(quick))
    repeats = repeats or (7 if quick else 11)
    rows = []
    for name, run in workloads_.items():
        times: dict[str, list[float]] = {config: [] for config in CONFIGS}
        events = 0
        run([])  # warm up
        for i in range(repeats):
            for config in times:
                instruments: list[Any] = []
                rec: Recorder | None = None
                if config in ("events only", "emit floor"):
                    instruments = [_Null()]
                elif config == "parts floor":
                    instruments = [_NullParts()]
                elif config != "bare":
                    suffix = ".ftrace.jsonl.gz" if config.endswith("gz") else ".ftrace.jsonl"
                    rec = Recorder(tmp / f"{name}-{i}{suffix}", flush_interval=0)
                    instruments = [rec]
                with _emit_does_nothing() if config == "emit floor" else nullcontext():
                    start = time.process_time()
                    run_cpu = run(instruments)
                    spent = time.process_time() - start
                    if isinstance(run_cpu, float):
                        spent = run_cpu  # an engine workload: its run phase alone
                    if rec is not None:
                        start = time.process_time()
                        rec.close()  # the cost of the final flush belongs to recording
                        spent += time.process_time() - start
                    times[config].append(spent)
                if rec is not None:
                    events = rec.events_written
        bare = statistics.median(times["bare"])
        ratios = {config: statistics.median(t) / bare for config, t in times.items()}
        rows.append((name, bare * 1e3, ratios, events))
    return rows


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
                DataEmitted(seq + 3, t + 30, run_id, node, g, 0, (gen + 1,)),
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
    args = parser.parse_args()
    total = args.events or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="ftbench-") as tmp_name:
        tmp = Path(tmp_name)
        print("recording cost (median CPU time of runs, alternating; ratio to the bare run)")
        print("  emit floor  = listeners attached but Bus.emit returns at once: the engine's")
        print("                own cost of preparing and emitting events, below any instrument")
        print("  parts floor = a do-nothing instrument taking parts (no event objects built)")
        print("  events only = a do-nothing on_event instrument (every event object built)")
        print("  record      = the trace recorder writing a file (target <= 1.5x)")
        print(
            f"{'workload':<18}{'bare ms':>9}"
            + "".join(f"{c:>13}" for c in CONFIGS[1:])
            + f"{'events':>9}"
        )
        for name, bare_ms, ratios, events in measure_recording(tmp, args.quick, args.repeats):
            print(
                f"{name:<18}{bare_ms:>9.2f}"
                + "".join(f"{ratios[c]:>12.2f}x" for c in CONFIGS[1:])
                + f"{events:>9}"
            )
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
