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
from flowtrace.replay import Replay, split_runs

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
