"""The trace writer's batching: big batches are written in chunks, nothing is lost or
reordered, and a flush racing the engine keeps every line exactly once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from flowtrace.events import NodeStarted
from flowtrace.record import Recorder, TraceWriter
from flowtrace.record.writer import _CHUNK_LINES
from flowtrace.tracefile import iter_events, make_header


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_a_batch_larger_than_a_chunk_is_written_whole_and_in_order(
    tmp_path: Path, gzip: bool
) -> None:
    path = tmp_path / ("t.ftrace.jsonl.gz" if gzip else "t.ftrace.jsonl")
    events = [NodeStarted(i, i, "run-1", f"n{i % 7}", (i,), 0) for i in range(2 * _CHUNK_LINES + 3)]
    writer = TraceWriter(path, make_header(["test"]))
    writer.write(events[:5])
    writer.write(events[5:])
    writer.close()
    assert writer.events_written == len(events)
    assert list(iter_events(path)) == events


def test_events_appended_while_another_thread_flushes_are_written_exactly_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    rec = Recorder(path, flush_interval=0, flush_events=10**9)
    events = [NodeStarted(i, i, "run-1", "n", (i,), 0) for i in range(20_000)]
    stop = threading.Event()

    def flusher() -> None:
        while not stop.is_set():
            rec.flush()

    thread = threading.Thread(target=flusher)
    thread.start()
    try:
        for e in events:
            rec.on_event(e)
    finally:
        stop.set()
        thread.join()
    rec.close()
    assert list(iter_events(path)) == events
