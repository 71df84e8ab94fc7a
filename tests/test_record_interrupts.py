"""Ctrl-C never loses a recorded event.

A SIGINT lands between any two bytecodes of the main thread. Whatever it interrupts —
a node, the scheduler, the bus numbering an event, the recorder writing a batch — the
trace must keep every event it numbered (no ``seq`` gap), end each run with its
``FlowFinished``, and ``flowtrace run`` must report the number of events the file
really holds.

The SIGINT loop runs real ``flowtrace run`` subprocesses (busy cycles, long streams,
flows inside asyncio) and interrupts them at varied moments. By default a handful of
runs; ``FLOWTRACE_SIGINT_RUNS=30`` for the soak.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from _events import Collector

from flowtrace import FlowHDL, node
from flowtrace.events import Event, FlowFinished, NodeStarted
from flowtrace.instrument import InstrumentBase

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from flowtrace import FlowHDL, Stream, TerminateLimitReached, node

    @node
    async def Add(x: int, y: int) -> int:
        return x + y

    @node
    async def Double(x: int = 0) -> int:
        return 2 * x % 1000003

    @node
    async def Items(n: int):
        for i in range(n):
            yield i

    @node(stream_in=["items"])
    async def Sum(items: Stream[int]) -> int:
        total = 0
        async for i in items:
            total += i
        return total

    @node
    async def Tick(x: int = 0) -> int:
        await asyncio.sleep(0)
        return x + 1

    mode = sys.argv[1]
    for round in range(200):  # bounded: a lost signal must not run forever
        if round == 1:
            print("ready", flush=True)  # one whole run recorded: interrupt from here on
        if mode == "busy":
            with FlowHDL() as f:
                f.total = Add(f.doubled, 1)
                f.doubled = Double(f.total)
            try:
                f.run_until_complete(stop_at_node_generation={f.total: (500,)})
            except TerminateLimitReached:
                pass
        elif mode == "stream":
            with FlowHDL() as f:
                f.items = Items(2000)
                f.sum = Sum(f.items)
            f.run_until_complete()
        else:
            with FlowHDL() as f:
                f.tick = Tick(f.tick)
            async def main():
                try:
                    await f.run_until_complete_async(stop_at_node_generation=(300,))
                except TerminateLimitReached:
                    pass
            asyncio.run(main())
    """
)

# The child gets Python's own SIGINT handler even when this test runs under a shell
# that started it with SIGINT ignored (background jobs do).
CHILD = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from flowtrace.cli import cli; sys.argv[0] = 'flowtrace'; cli()"
)


def _check_trace(path: Path) -> tuple[int, list[str]]:
    """``(events, problems)``: every run's seqs gapless from 0, every run ending with
    ``FlowFinished``, every line whole."""
    seqs: dict[str, list[int]] = defaultdict(list)
    last: dict[str, str] = {}
    problems: list[str] = []
    lines = path.read_text().splitlines()[1:]
    for number, line in enumerate(lines, start=2):
        try:
            event = json.loads(line)
        except ValueError:
            problems.append(f"line {number} is cut")
            continue
        seqs[event["run_id"]].append(event["seq"])
        last[event["run_id"]] = event["kind"]
    for run_id, got in seqs.items():
        if got != list(range(len(got))):
            gaps = [(a, b) for a, b in itertools.pairwise(got) if b != a + 1]
            problems.append(f"{run_id}: seq gaps {gaps[:3]}")
        if last[run_id] != "FlowFinished":
            problems.append(f"{run_id} ends with {last[run_id]}, not FlowFinished")
    return len(lines), problems


def _interrupt(tmp_path: Path, mode: str, delay: float) -> tuple[int, str, Path]:
    trace = tmp_path / f"{mode}-{delay:.3f}.ftrace.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, "run", "--record", str(trace), "job.py", mode],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err.decode(), trace


def _dropped_by_python(err: str) -> bool:
    """Python's "Exception ignored in <weakref callback>" report of a KeyboardInterrupt."""
    return "Exception ignored in" in err and "weakref.py" in err and "KeyboardInterrupt" in err


def _delays(count: int) -> list[float]:
    """Spread over the first ~0.4 s (runs are a few hundred ms each), deterministic."""
    return [0.01 + (i * 0.173) % 0.4 for i in range(count)]


# Not part of `make test` (0 runs there): a Ctrl-C between two runs can still be dropped
# by Python in a weakref callback (see the closing note of session 3); `make soak-sigint`
# runs 30.
RUNS = int(os.environ.get("FLOWTRACE_SIGINT_RUNS", "0"))


@pytest.mark.parametrize("index", range(RUNS))
def test_a_ctrl_c_at_any_moment_leaves_a_gapless_trace_ending_each_run(
    tmp_path: Path, index: int
) -> None:
    (tmp_path / "job.py").write_text(SCRIPT)
    mode = ("busy", "stream", "asyncio")[index % 3]
    status, err, trace = _interrupt(tmp_path, mode, _delays(RUNS)[index])
    if status == 0 and _dropped_by_python(err):
        # The signal landed between two runs, where Python's own handler is in force,
        # inside a weakref callback, and Python printed and dropped the interrupt. This is
        # a known limitation outside recording; the trace must still be whole, which is
        # checked below.
        pass
    else:
        assert status == 130, err
        assert "Traceback" not in err, err
    events, problems = _check_trace(trace)
    assert problems == [], f"{mode}: {problems}"
    said = re.search(r"\((\d+) runs?, (\d+) events\)", err)
    assert said is not None, err
    assert int(said.group(2)) == events  # the closing message counts what the file holds
    outcomes = [
        json.loads(line)["outcome"]
        for line in trace.read_text().splitlines()
        if '"kind":"FlowFinished"' in line
    ]
    assert outcomes and outcomes[-1] in ("interrupted", "limit", "completed")
    assert "error" not in outcomes  # asyncio's cancellation is an interruption


# ----------------------------------------------------------------------------- in process


class Interrupting(InstrumentBase):
    """Raises ``exc`` on every ``NodeStarted``, as a Ctrl-C inside a listener would."""

    def __init__(self, exc: type[BaseException]) -> None:
        self.exc = exc

    def on_event(self, event: Event) -> None:
        if isinstance(event, NodeStarted):
            raise self.exc


@node
async def Inc(x: int = 0) -> int:
    return x + 1


def _chain() -> Any:
    with FlowHDL() as f:
        f.a = Inc()
        f.b = Inc(f.a)
    return f


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("first", [True, False])
def test_an_instrument_raising_an_interrupt_still_leaves_every_event_and_the_end(
    exc: type[BaseException], first: bool
) -> None:
    collector = Collector()
    raising = Interrupting(exc)
    instruments = [raising, collector] if first else [collector, raising]
    with pytest.raises(exc):
        _chain().run_until_complete(instruments=instruments)
    seqs = [e.seq for e in collector.events]
    assert seqs == list(range(len(seqs)))
    assert any(isinstance(e, NodeStarted) for e in collector.events)
    end = collector.events[-1]
    assert isinstance(end, FlowFinished) and end.outcome == "interrupted"


def test_a_cancelled_asyncio_run_is_recorded_as_interrupted() -> None:
    @node
    async def Forever(x: int = 0) -> int:
        await asyncio.sleep(0.001)
        return x + 1

    with FlowHDL() as f:
        f.n = Forever(f.n)
    collector = Collector()

    async def main() -> None:
        task = asyncio.ensure_future(f.run_until_complete_async(instruments=[collector]))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    finished = collector.of(FlowFinished)
    assert [e.outcome for e in finished] == ["interrupted"]
