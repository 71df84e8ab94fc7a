"""The canonical rendering: one stable line per event, nothing the environment decides."""

from __future__ import annotations

import msgspec
import pytest

from flowtrace import events as ev
from flowtrace.codec import JsonValue
from flowtrace.instrument import Bus
from flowtrace.testing import Capture, render_event, render_lines, render_order
from flowtrace.testing.render import LEVELS, event_types_for, split_runs

from ._samples import GRAPH, emit_diamond_run, sample_event, sample_fields


def test_the_samples_cover_every_event_kind() -> None:
    assert set(sample_fields()) == set(ev.EVENT_TYPES)


@pytest.mark.parametrize("kind", ev.EVENT_TYPES, ids=lambda k: k.__name__)
def test_every_event_kind_renders_on_one_line_of_its_own(kind: type[ev.Event]) -> None:
    line = render_event(sample_event(kind))
    assert line and "\n" not in line
    # A dedicated line, not the generic fallback (which starts with the class name).
    assert not line.startswith(kind.__name__)


@pytest.mark.parametrize("kind", ev.EVENT_TYPES, ids=lambda k: k.__name__)
def test_rendering_ignores_times_run_ids_and_tracebacks(kind: type[ev.Event]) -> None:
    one = sample_event(kind, seq=3, t_ns=111, run_id="run-1")
    other = sample_event(kind, seq=9, t_ns=987654321, run_id="flow-77")
    replaced = {}
    for name in type(other).__struct_fields__:
        value = getattr(other, name)
        if name == "wall_time_ns":
            replaced[name] = value + 5
        if isinstance(value, ev.ErrorInfo):
            replaced[name] = msgspec.structs.replace(value, traceback="elsewhere")
    other = msgspec.structs.replace(other, **replaced)
    assert render_event(one) == render_event(other)
    for hidden in ("111", "run-1", "Traceback", "1700000000"):
        assert hidden not in render_event(one)


def test_environment_dependent_loop_details_are_left_out() -> None:
    text = "\n".join(
        render_event(sample_event(k))
        for k in (
            ev.SleepBegan,
            ev.SleepEnded,
            ev.IOWaitBegan,
            ev.IOWaitEnded,
            ev.TaskCreatedFromThread,
        )
    )
    for hidden in ("12345", "0.5012", "127.0.0.1", "54321", "Thread-7"):
        assert hidden not in text
    assert "sleeps 0.5s" in text  # what the program asked for stays


def test_generations_render_as_tuples() -> None:
    started = ev.NodeStarted(0, 0, "r", "a", (3,), 0)
    assert render_event(started, implied=False) == "a started (3,)"
    item = ev.DataEmitted(0, 0, "r", "s", (0, 2), 1, ("x",), 0, False)
    assert render_event(item) == "s yielded (0, 2): 'x'"
    # Events built from decoded JSON may carry lists; they render the same.
    from_json = ev.NodeStarted(0, 0, "r", "a", [3], 0)  # type: ignore[arg-type]
    assert render_event(from_json, implied=False) == "a started (3,)"


def test_values_are_shortened_and_memory_addresses_scrubbed() -> None:
    long_value: JsonValue = {"$repr": "x" * 200, "$type": "str", "$truncated": True}
    line = render_event(ev.DataEmitted(0, 0, "r", "a", (0,), 0, (long_value,), 0, False))
    assert len(line) < 100 and line.endswith("…")
    obj: JsonValue = {
        "$repr": "<Thing object at 0x7f3a2b4c5d60>",
        "$type": "m.Thing",
        "$truncated": False,
    }
    line = render_event(ev.DataEmitted(0, 0, "r", "a", (0,), 0, (obj,), 0, False))
    assert line == "a emitted (0,): <Thing object at 0x…>"


def _e(kind: type[ev.Event], *fields: object) -> ev.Event:
    return kind(0, 0, "r", *fields)


@pytest.mark.parametrize(
    ("event", "line"),
    [
        (_e(ev.NodeStarted, "a", (0,), 0), "a started (0,); now executing"),
        (
            _e(ev.NodeFinished, "a", (0,), 0, "completed"),
            "a finished (0,): completed; now waiting (run level 0)",
        ),
        (_e(ev.NodeFinished, "a", (1,), 0, "error"), "a finished (1,): error"),
        (
            _e(ev.DataEmitted, "s", (0, 1), 1, ("x",), 0, True),
            "s yielded (0, 1): 'x'; now waiting (run level 1)",
        ),
        (_e(ev.DataEmitted, "s", (0, 1), 1, ("x",), 0, False), "s yielded (0, 1): 'x'"),
        (
            _e(ev.DataEmitted, "a", (2,), 0, (7,), 2, False),
            "a emitted (2,): 7; 2 readers pending",
        ),
        (
            _e(ev.StreamStalled, "c", 0, "s", (0, 1), True),
            "c stalled on s (port 0) after (0, 1); now stalled on port 0; queue put s by c (stall)",
        ),
        (
            _e(ev.StreamStalled, "c", 0, "s", (0, 1), False),
            "c stalled on s (port 0) after (0, 1); now stalled on port 0; "
            "queue put s by c (stall, already queued)",
        ),
        (
            _e(ev.StreamStalled, "c", 1, "s", None, None),
            "c stalled on s (port 1) after None; now stalled on port 1",
        ),
        (_e(ev.StreamResumed, "c", 0, "s"), "c resumed on s (port 0); now executing"),
        (
            _e(ev.StreamItemConsumed, "c", 0, "s", 0, (0, 1), "x", 2),
            "c consumed s.0 (0, 1) on port 0: 'x'; 2 left",
        ),
        (
            _e(ev.StreamItemConsumed, "c", 0, "s", 0, (0,), "x", None),
            "c consumed s.0 (0,) on port 0: 'x'",
        ),
        (_e(ev.SolutionFound, "d", ("a", "b"), (), ()), "queue get d; solution: run [a, b]"),
        (
            _e(ev.NodeStatusChanged, "a", "waiting", "queued", None, None),
            "a: waiting -> queued (resumed)",
        ),
        (
            _e(ev.NodeStatusChanged, "a", "stalled", "queued", None, None),
            "a: stalled -> queued (resumed)",
        ),
        (
            _e(ev.NodeStatusChanged, "a", "queued", "executing", None, None),
            "a: queued -> executing",
        ),
        (
            _e(ev.NodeStatusChanged, "a", "executing", "waiting", 1, None),
            "a: executing -> waiting (run level 1)",
        ),
        (_e(ev.SleepBegan, 3, None, None), "task 3 sleeps without end"),
    ],
    ids=lambda x: x if isinstance(x, str) else type(x).__name__,
)
def test_the_facts_schema_2_folds_are_spelled_out_on_their_events_lines(
    event: ev.Event, line: str
) -> None:
    assert render_event(event) == line
    # The status changes, pending readers and implied queue puts are left out on
    # request (the evaluations level); what belongs to the event itself stays.
    bare = render_event(event, implied=False)
    assert line.startswith(bare)
    for folded in ("; now ", "readers pending", "; queue put"):
        assert folded not in bare


def test_a_flow_start_spells_out_the_graph_as_registered() -> None:
    started = sample_event(ev.FlowStarted)
    assert render_event(started, implied=False) == "flow started: [a, b, c, d]"
    assert render_event(started) == (
        "flow started: [a, b, c, d]; a: mono A() -> 1 output; b: mono B(x <- a.0) -> 1 output; "
        "c: mono C(x <- a.0, k = 10) -> 1 output; d: mono D(left <- b.0, right <- c.0) -> "
        "1 output"
    )


def test_line_breaks_in_messages_are_escaped() -> None:
    error = ev.ErrorInfo("ValueError", "first\nsecond", "")
    line = render_event(ev.NodeErrored(0, 0, "r", "a", (0,), error, "call"))
    assert line == "a errored (0,) in call: ValueError: first\\nsecond"


def test_an_unknown_event_kind_renders_generically_without_its_header() -> None:
    class Future(ev.Event, frozen=True):
        node_id: str
        count: int

    assert render_event(Future(5, 999, "run-3", "a", 2)) == "Future node_id=a count=2"


def _diamond() -> Capture:
    cap = Capture()
    emit_diamond_run(Bus("run-42", [cap]))
    return cap


def test_evaluations_level_shows_what_nodes_did() -> None:
    assert _diamond().order("evaluations") == (
        "   0  flow started: [a, b, c, d]\n"
        "   1  a started (0,)\n"
        "   2  a emitted (0,): 1\n"
        "   3  a finished (0,): completed\n"
        "   4  b started (0,)\n"
        "   5  b emitted (0,): 2\n"
        "   6  b finished (0,): completed\n"
        "   7  c started (0,)\n"
        "   8  c emitted (0,): 11\n"
        "   9  c finished (0,): completed\n"
        "  10  d started (0,)\n"
        "  11  d emitted (0,): 13\n"
        "  12  d finished (0,): completed\n"
        "  13  flow finished: completed\n"
    )


def test_scheduling_level_adds_the_schedulers_decisions() -> None:
    lines = _diamond().lines("scheduling")
    assert lines[:9] == [
        "flow started: [a, b, c, d]; a: mono A() -> 1 output; b: mono B(x <- a.0) -> 1 output; "
        "c: mono C(x <- a.0, k = 10) -> 1 output; d: mono D(left <- b.0, right <- c.0) -> "
        "1 output",
        "queue put d (start)",
        "queue get d; solution: run [a]",
        "a: waiting -> queued (resumed)",
        "a started (0,); now executing",
        "a inputs (0,): no inputs",
        "a emitted (0,): 1",
        "a finished (0,): completed; now waiting (run level 0)",
        "queue put b by a (consumer)",
    ]
    assert "c inputs (0,): 0=1 from a.0 (0,), 1=10 (default)" in lines
    assert "queue put d by c (consumer, already queued)" in lines
    assert "c read a (0,): 0 left" in lines
    assert not any(line.startswith(("loop", "task")) for line in lines)


def test_full_level_adds_the_event_loop() -> None:
    lines = _diamond().lines("full")
    assert "loop started: root task 0" in lines
    assert "task 2 spawned: 'node b' by task 0 for node b" in lines
    assert lines[-2:] == ["loop exited: completed, 0 tasks left", "flow finished: completed"]


def test_levels_nest_and_each_numbers_its_lines_from_zero() -> None:
    cap = _diamond()
    evaluations, scheduling, full = (
        cap.lines(level) for level in ("evaluations", "scheduling", "full")
    )
    assert len(evaluations) < len(scheduling) < len(full) == len(cap.events)
    # An evaluations line is its scheduling line without the facts the event implies.
    shared = [line for line in scheduling if line.startswith(tuple(evaluations))]
    assert len(shared) == len(evaluations)
    assert all(s.startswith(e) for s, e in zip(shared, evaluations, strict=True))
    assert [line for line in full if line in scheduling] == scheduling
    for level in ("evaluations", "scheduling", "full"):
        numbers = [int(line.split()[0]) for line in cap.order(level).splitlines()]
        assert numbers == list(range(len(numbers)))


def test_every_flow_event_is_placed_in_a_level_below_full() -> None:
    # A new flow event kind must be given a level here, or snapshots would not show it.
    for kind in ev.FLOW_EVENT_TYPES:
        assert kind in LEVELS["scheduling"], f"{kind.__name__} has no level below 'full'"
    assert LEVELS["evaluations"] <= LEVELS["scheduling"] <= LEVELS["full"]


def test_a_collection_of_event_classes_is_a_level_too() -> None:
    lines = _diamond().lines({ev.NodeStarted})
    assert lines == ["a started (0,)", "b started (0,)", "c started (0,)", "d started (0,)"]


def test_a_collection_naming_a_folded_kind_gets_the_events_carrying_its_facts() -> None:
    # Status changes: the explicit ones and those the starts and finishes imply.
    lines = _diamond().lines({ev.NodeStatusChanged})
    assert lines[:4] == [
        "a: waiting -> queued (resumed)",
        "a started (0,); now executing",
        "a finished (0,): completed; now waiting (run level 0)",
        "b: waiting -> queued (resumed)",
    ]
    assert len(lines) == 3 * 4
    # Queue moves: the puts, and the gets that the solutions are.
    lines = _diamond().lines({ev.ResolutionQueuePut})
    assert lines[:3] == [
        "queue put d (start)",
        "queue get d; solution: run [a]",
        "queue put b by a (consumer)",
    ]


def test_an_unknown_level_name_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="evaluations, scheduling, full"):
        event_types_for("everything")


def test_rendering_is_stable_across_runs_and_run_ids() -> None:
    first, second = Capture(), Capture()
    emit_diamond_run(Bus("run-1", [first]))
    emit_diamond_run(Bus("flow-999", [second]))
    for level in ("evaluations", "scheduling", "full"):
        assert first.order(level) == second.order(level)


def test_several_runs_are_rendered_in_turn_each_numbered_from_zero() -> None:
    cap = Capture()
    bus_one, bus_two = Bus("run-7", [cap]), Bus("run-8", [cap])
    bus_one.emit(ev.FlowStarted, "f", 0, ev.GraphInfo(()))
    bus_two.emit(ev.FlowStarted, "g", 0, ev.GraphInfo(()))
    bus_one.emit(ev.FlowFinished, "f", "completed", None, None, None)
    bus_two.emit(ev.FlowFinished, "g", "deadlock", None, None, None)
    assert cap.order("evaluations") == (
        "== run 0 ==\n"
        "   0  flow started: []\n"
        "   1  flow finished: completed\n"
        "== run 1 ==\n"
        "   0  flow started: []\n"
        "   1  flow finished: deadlock\n"
    )
    assert [len(run) for run in split_runs(cap.events)] == [2, 2]


def test_unnumbered_order_is_just_the_lines() -> None:
    cap = _diamond()
    assert cap.order("evaluations", numbered=False).splitlines() == render_lines(
        cap.events, "evaluations"
    )
    assert render_order([], "full") == ""


def test_automatic_node_ids_count_from_zero_in_each_run() -> None:
    # The engine numbers unnamed nodes per class for the whole process; a snapshot must
    # not depend on how many nodes earlier tests created.
    graph = ev.GraphInfo(
        tuple(
            msgspec.structs.replace(GRAPH.nodes[0], node_id=node_id)
            for node_id in ("Add#7", "Add#3", "total", "Mul#2", "MyAdd#3")
        )
    )
    cap = Capture()
    bus = Bus("run-1", [cap])
    bus.emit(ev.FlowStarted, "f", 0, graph)
    bus.emit(ev.NodeStarted, "Add#3", (0,), 0)
    bus.emit(ev.ResolutionQueuePut, "Add#7", "Add#3", "consumer", True)
    bus.emit(ev.NodeStarted, "MyAdd#3", (0,), 0)
    assert cap.lines({ev.FlowStarted, ev.NodeStarted, ev.InputsGathered}) == [
        "flow started: [Add#0, Add#1, total, Mul#0, MyAdd#0]",
        "Add#1 started (0,)",
        "MyAdd#0 started (0,)",
    ]
    assert cap.lines()[:2] == [
        "flow started: [Add#0, Add#1, total, Mul#0, MyAdd#0]; Add#0: mono A() -> 1 output; "
        "Add#1: mono A() -> 1 output; total: mono A() -> 1 output; Mul#0: mono A() -> 1 output; "
        "MyAdd#0: mono A() -> 1 output",
        "Add#1 started (0,); now executing",
    ]
    assert "queue put Add#0 by Add#1 (consumer)" in cap.lines()
