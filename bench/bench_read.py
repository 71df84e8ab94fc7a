"""Reading and writing a big trace: msgspec against ``json.loads`` of each line.

A trace of 1,000,000 events is made from real recorded runs (the chain, cycle and
stream workloads of ``workloads.py``, recorded with the engine, their lines repeated
under new run ids until the count is reached) and written with the real writer. Then,
alternating in this process, medians of ``--repeats``:

* ``json.loads`` of each line (the floor the issue's target is stated against; the
  objects are kept in a list, with the cyclic GC off, as the reader keeps its events);
* ``TraceReader`` into events (every line decoded into its event, types checked, seq
  order and value nesting checked): target <= 0.5x the floor;
* ``read_trace`` (the same, and grouped by run).

Encoding: ns per event of one ``Encoder.encode_lines`` call per 512 events (what the
recorder's flush does), of ``encode_event`` one at a time, and of the whole recorder
path (``Recorder.on_event`` for each event, flushes and file writes included).

``--events N`` changes the size; ``--quick`` is 100,000 events and one repeat.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import msgspec
from workloads import chain, cycle, stream

import flowtrace
from flowtrace.eventjson import ENCODER, encode_event
from flowtrace.events import Event
from flowtrace.instrument import InstrumentBase
from flowtrace.record import Recorder, TraceWriter
from flowtrace.tracefile import TraceReader, make_header, read_trace


class _Keep(InstrumentBase):
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)


def recorded_runs() -> list[list[Event]]:
    """One run each of chain(1000), cycle(2000) and stream(2000), as emitted."""
    runs: list[list[Event]] = []
    for make, size in ((chain, 1000), (cycle, 2000), (stream, 2000)):
        keep = _Keep()
        make(flowtrace, size, {"instruments": [keep]})()
        by_run: dict[str, list[Event]] = {}
        for e in keep.events:
            by_run.setdefault(e.run_id, []).append(e)
        runs.extend(by_run.values())
    return runs


def build_trace(path: Path, total: int) -> list[Event]:
    """Write ``total`` events (real runs, repeated under new run ids); return them."""
    runs = recorded_runs()
    events: list[Event] = []
    copy = 0
    while len(events) < total:
        for run in runs:
            copy += 1
            run_id = f"run-{copy}"
            events.extend(msgspec.structs.replace(e, run_id=run_id) for e in run)
            if len(events) >= total:
                break
    del events[total:]
    writer = TraceWriter(path, make_header(["bench_read"]))
    for i in range(0, len(events), 8192):
        writer.write(events[i : i + 8192])
    writer.close()
    return events


def json_floor(path: Path) -> int:
    loads = json.loads
    out = []
    with open(path, "rb") as f:
        next(f)
        for line in f:
            out.append(loads(line))
    return len(out)


def reader_events(path: Path) -> int:
    out: list[Event] = []
    with TraceReader(path) as reader:
        for block, _numbers in reader.blocks():
            out.extend(block)
    return len(out)


def whole_trace(path: Path) -> int:
    return len(read_trace(path).events)


def timed(fn: Callable[[Path], int], path: Path) -> tuple[float, float, int]:
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        start, cpu = time.perf_counter(), time.process_time()
        n = fn(path)
        return time.perf_counter() - start, time.process_time() - cpu, n
    finally:
        if was:
            gc.enable()


def encoding(events: list[Event], tmp: Path) -> dict[str, float]:
    n = len(events)
    start = time.perf_counter()
    for i in range(0, n, 512):
        ENCODER.encode_lines(events[i : i + 512])
    lines_ns = (time.perf_counter() - start) / n * 1e9
    sample = events[: min(n, 200_000)]
    start = time.perf_counter()
    for e in sample:
        encode_event(e)
    one_ns = (time.perf_counter() - start) / len(sample) * 1e9
    recorder = Recorder(tmp / "rec.ftrace.jsonl", flush_interval=0)
    on_event = recorder.on_event
    start, cpu = time.perf_counter(), time.process_time()
    for e in events:
        on_event(e)
    recorder.close()
    rec_ns = (time.process_time() - cpu) / n * 1e9
    rec_wall_ns = (time.perf_counter() - start) / n * 1e9
    return {
        "encode_lines_ns": lines_ns,
        "encode_event_ns": one_ns,
        "recorder_cpu_ns": rec_ns,
        "recorder_wall_ns": rec_wall_ns,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    total, repeats = (100_000, 1) if args.quick else (args.events, args.repeats)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        path = tmp / "big.ftrace.jsonl"
        events = build_trace(path, total)
        size = path.stat().st_size
        print(f"trace: {total:,} events, {size / 1e6:.1f} MB ({size / total:.0f} B/event)")
        enc = encoding(events, tmp)
        del events
        gc.collect()
        results: dict[str, list[tuple[float, float]]] = {}
        fns = {"json.loads": json_floor, "TraceReader": reader_events, "read_trace": whole_trace}
        for _ in range(repeats):
            for name, fn in fns.items():
                wall, cpu, n = timed(fn, path)
                assert n == total, (name, n)
                results.setdefault(name, []).append((wall, cpu))
                gc.collect()
        med: dict[str, Any] = {
            k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
            for k, v in results.items()
        }
        floor_wall, floor_cpu = med["json.loads"]
        for name, (wall, cpu) in med.items():
            print(
                f"  {name:<12} {wall:6.2f} s wall {cpu:6.2f} s CPU "
                f"{wall / total * 1e9:6.0f} ns/event  x{wall / floor_wall:.2f} wall "
                f"x{cpu / floor_cpu:.2f} CPU of json.loads"
            )
        print(
            f"  encoding: encode_lines {enc['encode_lines_ns']:.0f} ns/event, "
            f"encode_event {enc['encode_event_ns']:.0f} ns/event, recorder on_event+flush "
            f"{enc['recorder_cpu_ns']:.0f} ns/event CPU ({enc['recorder_wall_ns']:.0f} wall)"
        )


if __name__ == "__main__":
    main()
