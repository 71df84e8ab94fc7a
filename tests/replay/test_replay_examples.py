"""Replay equals live on every program in examples/: each is run in this process with
a collecting instrument as the process default, and the last run of each flow it
built is replayed and compared with that flow's own ``node_states()``."""

from __future__ import annotations

import contextlib
import io
import runpy
import sys
from pathlib import Path

import pytest
from _events import Collector

from flowtrace.engine.flow import flow_for_run
from flowtrace.events import Event, FlowStarted
from flowtrace.instrument import add_default_instrument, remove_default_instrument
from flowtrace.replay import Replay, State, split_runs
from flowtrace.tracefile import TraceReader

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.py"))


@pytest.mark.skipif(not EXAMPLES, reason="no examples yet")
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_replaying_an_examples_runs_reaches_each_flows_final_state(path: Path) -> None:
    col = Collector()
    add_default_instrument(col)
    argv = sys.argv
    sys.argv = [str(path)]
    keep: list[object] = []  # the example's globals (its flows), or its exception's frames
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            keep.append(runpy.run_path(str(path), run_name="__main__"))
    except BaseException as exc:  # an example may end in an error on purpose
        keep.append(exc)
    finally:
        sys.argv = argv
        remove_default_instrument(col)
    last_run_of_flow: dict[int, tuple[str, list[Event]]] = {}
    for run_id, events in split_runs(col.events):
        flow = flow_for_run(run_id)
        if flow is not None and any(isinstance(e, FlowStarted) for e in events):
            last_run_of_flow[id(flow)] = (run_id, events)
    assert last_run_of_flow, f"{path.name} ran no flow"
    for run_id, events in last_run_of_flow.values():
        flow = flow_for_run(run_id)
        assert flow is not None
        final = Replay(events).final_state()
        for node_id, view in flow.node_states().items():
            replayed = final.node(node_id)
            output = list(replayed.output) if replayed.output is not None else None
            assert (replayed.status, replayed.generation, replayed.run_level, output) == (
                view.status,
                view.generation,
                view.run_level,
                view.data,
            ), (path.name, node_id)


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "schema1"
OLD_TRACES = ["cycle", "streaming", "error", "cancel", "deadlock", "hello"]


def _history(events: list[Event]) -> tuple[object, ...]:
    """What a viewer shows over a run, step by step (each change kept once): every
    node's status and run level, the resolution queue, the barriers, the errors, and
    the final state."""
    state = State()
    steps: list[object] = []
    for e in events:
        state.apply(e)
        step = (
            tuple((v.node_id, v.status, v.run_level) for v in state.nodes()),
            tuple(state.queue),
            tuple(sorted((b.node_id, b.run_level, b.remaining) for b in state.barriers())),
            len(state.errors),
        )
        if not steps or steps[-1] != step:
            steps.append(step)
    return (*steps, state.final_summary())


def _record_example(path: Path) -> list[Event]:
    col = Collector()
    add_default_instrument(col)
    argv = sys.argv
    sys.argv = [str(path)]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            runpy.run_path(str(path), run_name="__main__")
    except BaseException:  # an example may end in an error on purpose
        pass
    finally:
        sys.argv = argv
        remove_default_instrument(col)
    return col.events


@pytest.mark.parametrize("name", OLD_TRACES)
def test_a_1x_trace_replays_as_a_2x_recording_of_the_same_program(name: str) -> None:
    """A trace written by 1.x (upgraded as it is read) shows, step by step, what a 2.0
    recording of the same example shows: old files open in the debugger unchanged."""
    with TraceReader(FIXTURES / f"{name}.ftrace.jsonl") as reader:
        old = [_history(evs) for _, evs in split_runs(list(reader))]
    new = [
        _history(evs) for _, evs in split_runs(_record_example(EXAMPLES[0].parent / f"{name}.py"))
    ]
    assert old and all(len(h) > 5 for h in old)
    assert old == new
