"""The facts schema 2.0 folds, derived back by ``flowtrace.implied``, are the engine's.

Schema 2.0 drops status changes that other events imply (see ``flowtrace.events``).
If a fold were wrong — an implied change that did not happen, or a change the engine
made that neither an event nor an implication reports — a consumer's picture of a
node would drift from the engine's. Two checks catch that on real runs of every
example program and of the benchmark shapes:

* every explicit ``NodeStatusChanged`` names as ``old`` exactly the status derived from
  the events before it (the chain of statuses is unbroken);
* at the end of the run the derived status of every node is the engine's own.

The resolution queue is checked the same way: a ``SolutionFound`` only takes a node
that a put (explicit, or a stall's implied one) had added and no get has taken since.
"""

from __future__ import annotations

import contextlib
import runpy
import sys
from pathlib import Path
from typing import Any

import pytest

import flowtrace
from flowtrace.events import Event, FlowStarted, NodeStatus, NodeStatusChanged
from flowtrace.implied import queue_get, queue_put, status_change
from flowtrace.instrument import add_default_instrument, remove_default_instrument

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py"))


class Follower:
    """Follows node statuses and the resolution queue from the events alone, and
    checks each explicit fact against what it derived."""

    def __init__(self) -> None:
        self.status: dict[tuple[str, str], NodeStatus] = {}
        self.queued: dict[tuple[str, str], bool] = {}
        self.problems: list[str] = []
        self.events = 0

    def on_event(self, event: Event) -> None:
        self.events += 1
        run = event.run_id
        if isinstance(event, FlowStarted):
            for info in event.graph.nodes:
                self.status[run, info.node_id] = "waiting"
        change = status_change(event)
        if change is not None:
            key = (run, change.node_id)
            if isinstance(event, NodeStatusChanged) and self.status.get(key) != event.old:
                self.problems.append(
                    f"seq {event.seq}: {event.node_id} {event.old}->{event.new}, "
                    f"but the events said {self.status.get(key)}"
                )
            self.status[key] = change.new
        put = queue_put(event)
        if put is not None:
            key = (run, put.node_id)
            if put.added == self.queued.get(key, False):
                self.problems.append(
                    f"seq {event.seq}: put {put.node_id} added={put.added}, but the events "
                    f"said queued={self.queued.get(key, False)}"
                )
            self.queued[key] = True
        got = queue_get(event)
        if got is not None:
            key = (run, got)
            if not self.queued.get(key, False):
                self.problems.append(f"seq {event.seq}: got {got}, which was not queued")
            self.queued[key] = False


@pytest.fixture
def follower() -> Any:
    f = Follower()
    add_default_instrument(f)
    try:
        yield f
    finally:
        remove_default_instrument(f)


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_statuses_and_the_queue_followed_from_events_never_contradict_them(
    name: str, follower: Follower, capsys: pytest.CaptureFixture[str]
) -> None:
    with contextlib.suppress(SystemExit):
        runpy.run_path(str(ROOT / "examples" / name), run_name="__main__")
    assert follower.events > 0
    assert follower.problems == []


@pytest.mark.parametrize("shape", ["chain", "tree", "cycle", "stream"])
def test_the_final_derived_status_of_every_node_is_the_engines(
    shape: str, follower: Follower
) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import workloads
    finally:
        sys.path.remove(str(ROOT / "bench"))
    flows: list[Any] = []
    original = flowtrace.FlowHDL.__exit__

    def keep(self: Any, *exc: Any) -> Any:
        result = original(self, *exc)
        flows.append(self)
        return result

    flowtrace.FlowHDL.__exit__ = keep  # type: ignore[method-assign]
    try:
        getattr(workloads, shape)(flowtrace, 30)()
    finally:
        flowtrace.FlowHDL.__exit__ = original  # type: ignore[method-assign]
    assert follower.problems == []
    (hdl,) = flows
    nodes = hdl._flow._nodes
    run_ids = {run for run, _ in follower.status}
    (run_id,) = run_ids
    for node in nodes:
        assert follower.status[run_id, node.node_id] == node._rt.status, node.node_id
