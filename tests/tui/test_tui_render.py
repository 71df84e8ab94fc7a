"""The text of the panes: every event kind renders, in the log and the inspector."""

from __future__ import annotations

import types
import typing
from typing import Any

import pytest
import scenarios as S

from flowtrace.events import (
    EVENT_TYPES,
    ErrorInfo,
    Event,
    GraphInfo,
    InputRead,
    NodeInfo,
    WaitInfo,
)
from flowtrace.replay import Replay
from flowtrace.tui.render import (
    event_details,
    event_row,
    event_row_text,
    graph_lines,
    node_details,
    node_table,
)

ERROR = ErrorInfo("ValueError", "bad", "Traceback (most recent call last):\nValueError: bad\n")


def sample(tp: Any) -> Any:
    """A plausible value of a field type (first choice of a union or literal)."""
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return typing.get_args(tp)[0]
    if origin in (typing.Union, types.UnionType):
        return sample(next(a for a in typing.get_args(tp) if a is not type(None)))
    if origin is tuple:
        args = typing.get_args(tp)
        if args and args[0] is int:
            return (0,)
        if args and args[0] is InputRead:
            return (S.read(0, "a", (0,), 1),)
        if args and args[0] is WaitInfo:
            return (WaitInfo("a", "waiting", ("b",), "waits"),)
        return ()
    return {
        int: 1,
        str: "a",
        bool: False,
        float: 0.5,
        ErrorInfo: ERROR,
        GraphInfo: GraphInfo((S.node("a"),)),
        NodeInfo: S.node("a"),
    }.get(tp, 1)


def make(cls: type[Event], seq: int) -> Event:
    hints = typing.get_type_hints(cls)
    values = [sample(hints[name]) for name in cls.__struct_fields__[3:]]
    return cls(seq, 0, "run", *values)


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
def test_every_event_kind_renders_in_the_log_and_the_inspector(cls: type[Event]) -> None:
    event = make(cls, 0)
    row = event_row(event)
    assert cls.__name__ in row and "\n" not in row
    assert event_row_text(event, 80).cell_len <= 80
    replay = Replay([event])
    details = event_details(replay, event).plain
    assert details.startswith(f"#0 {cls.__name__}")
    if getattr(event, "error", None) is not None:
        assert "Traceback" in details


def test_node_table_graph_and_details_at_every_position_of_every_scenario() -> None:
    for events in (S.chain(), S.cycle(), S.stream_cancel_error()):
        replay = Replay(events)
        for seq in range(len(events)):
            state = replay.state_at(seq)
            node_table(state, "a")
            lines = graph_lines(state, None)
            assert lines
            for node_id in state.node_ids():
                assert node_id in node_details(replay, state, node_id).plain


def test_graph_marks_cycle_edges_defaulted_ports_and_streams() -> None:
    replay = Replay(S.cycle())
    gathered = replay.gathered_seq("acc", (0,))
    assert gathered is not None
    text = "\n".join(t.plain for t in graph_lines(replay.state_at(gathered), "acc"))
    assert "⟲ cycle" in text and "DEFAULTED" in text
    stream = Replay(S.stream_cancel_error()).final_state()
    assert "≋stream" in "\n".join(t.plain for t in graph_lines(stream, None))


def test_the_inspector_says_what_an_event_implies() -> None:
    """Schema 2.0 folds status changes and queue moves into other events: the
    inspector states them, so nothing the 1.x log showed as its own line is lost."""
    events = S.stream_cancel_error()
    replay = Replay(events)

    def details(kind: str, **fields: Any) -> str:
        event = next(
            e
            for e in events
            if type(e).__name__ == kind and all(getattr(e, k) == v for k, v in fields.items())
        )
        return event_details(replay, event).plain

    stalled = details("StreamStalled")
    assert "take is now stalled on port 0" in stalled
    assert "words is put on the resolution queue (stall)" in stalled
    assert "words was taken off the resolution queue" in details("SolutionFound", head="words")
    assert "take is now executing" in details("NodeStarted", node_id="take")
    assert "words is now waiting (parked at run level 1)" in details("DataEmitted", parked=True)
    assert "take is now" not in details("DataEmitted", node_id="take"), "a result implies no park"
    finished = details("NodeFinished", node_id="take")
    assert "take is now waiting (parked at run level 0)" in finished
    rows = [event_row(e) for e in events]
    assert any("DataEmitted" in r and "parks" in r for r in rows)
    assert any("StreamStalled" in r and "words queued" in r for r in rows)
    assert any("StreamItemConsumed" in r and "0 left" in r for r in rows)
