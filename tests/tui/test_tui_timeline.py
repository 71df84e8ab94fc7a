"""The timeline: wall time per node, drawn by bisection, and the keys that move in time."""

from __future__ import annotations

import random

import scenarios as S
from rich.text import Text
from scenarios import RunBuilder, node

from flowtrace.events import Event, FlowFinished, NodeFinished, NodeStarted
from flowtrace.replay import Replay
from flowtrace.tui.navigator import Navigator
from flowtrace.tui.timeline import (
    Lane,
    Layout,
    Spans,
    Timeline,
    TimeWindow,
    event_time_text,
    format_duration,
    format_offset,
    node_time_text,
    parse_time,
    timeline_lines,
)


def build(events: list[Event]) -> tuple[Replay, Timeline]:
    replay = Replay(events)
    timeline = Timeline()
    timeline.update(replay)
    return replay, timeline


def two_branches(overlapping: bool) -> list[Event]:
    """``a`` and ``b`` each evaluate once; overlapping, or one after the other."""
    b = RunBuilder("run-two")
    b.start(node("a"), node("b"))
    b.emit(NodeStarted, "a", (0,), 0)
    if overlapping:
        b.emit(NodeStarted, "b", (0,), 0)
        for _ in range(20):
            b.emit(NodeStarted, "x", (0,), 0)  # time passes (x never finishes)
        b.emit(NodeFinished, "a", (0,), 0, "completed")
        b.emit(NodeFinished, "b", (0,), 0, "completed")
    else:
        for _ in range(10):
            b.emit(NodeStarted, "x", (0,), 0)
        b.emit(NodeFinished, "a", (0,), 0, "completed")
        b.emit(NodeStarted, "b", (0,), 0)
        for _ in range(10):
            b.emit(NodeStarted, "x", (0,), 0)
        b.emit(NodeFinished, "b", (0,), 0, "completed")
    b.emit(FlowFinished, "flow-1", "completed", None, None, None)
    return b.events


def lanes_of(lines: list[Text], layout: Layout) -> dict[str, str]:
    return {
        n: line.plain[layout.name_width :] for n, line in zip(layout.lanes, lines[1:], strict=True)
    }


def test_times_are_written_relative_to_the_run_start_and_read_back() -> None:
    assert [format_duration(n) for n in (800, 12_500, 250_000_000, 1_500_000_000)] == [
        "800ns",
        "12.5µs",
        "250ms",
        "1.5s",
    ]
    assert format_offset(0) == "0" and format_offset(2_000_000) == "+2ms"
    assert parse_time("+250ms") == 250_000_000
    assert parse_time("1.5s") == 1_500_000_000
    assert parse_time("40us") == parse_time("40µs") == 40_000
    assert parse_time("120") is None and parse_time("+10") is None


def test_concurrent_branches_overlap_on_the_timeline_and_sequential_ones_do_not() -> None:
    for overlapping in (True, False):
        _, tl = build(two_branches(overlapping))
        layout = Layout()
        lines = timeline_lines(tl, TimeWindow(), 80, 10, layout=layout)
        lanes = lanes_of(lines, layout)
        both = [
            i
            for i, (x, y) in enumerate(zip(lanes["a"], lanes["b"], strict=True))
            if x == "█" and y == "█"
        ]
        assert bool(both) == overlapping, (overlapping, lanes)


def test_a_cell_shows_an_interval_whenever_one_meets_it_however_they_overlap() -> None:
    rnd = random.Random(7)
    spans = Spans()
    intervals = []
    start = 0
    for i in range(400):
        start += rnd.randrange(0, 50)
        end = start + rnd.choice([0, 1, 5, 300, 2000])  # long ones overlap later ones
        spans.add(start, end, i, i)
        intervals.append((start, end))
    for _ in range(500):
        a = rnd.randrange(0, start + 2000)
        b = a + rnd.randrange(1, 100)
        naive = any(s < b and e >= a for s, e in intervals)
        assert (spans.first_meeting(a, b) >= 0) == naive, (a, b)


def test_the_time_spent_so_far_is_the_sum_of_the_intervals_up_to_the_cursor() -> None:
    replay, tl = build(S.long_run(3_000))
    nav = Navigator(replay, timeline=tl)
    seqs = replay.evaluations_of("inc")
    seq = seqs[len(seqs) // 2] + 1
    t = tl.time_of(replay, seq)
    spans = tl.lanes["inc"].spans["eval"]
    naive = sum(
        min(e, t) - s
        for s, e, q in zip(spans.starts, spans.ends, spans.seqs, strict=True)
        if q <= seq
    )
    assert tl.total_before("inc", "eval", seq, t) == naive
    nav.go(seq)
    assert "running for" in node_time_text(tl, replay, "inc", seq).plain


def test_a_million_events_draw_in_a_bounded_number_of_cells() -> None:
    """The lane of a node evaluated thousands of times is drawn cell by cell: every
    cell that some evaluation meets is a bar, the rest idle (aggregation, not loss)."""
    _replay, tl = build(S.long_run(20_000))
    layout = Layout()
    lines = timeline_lines(tl, TimeWindow(), 60, 5, layout=layout)
    assert all(len(line.plain) == 60 for line in lines)
    lane: Lane = tl.lanes["acc"]
    for c, ch in enumerate(lanes_of(lines, layout)["acc"]):
        a = layout.start + (layout.end - layout.start) * c // layout.cells
        b = layout.start + (layout.end - layout.start) * (c + 1) // layout.cells
        assert (ch != " ") == (lane.cell(a, max(b, a + 1)) != "idle")


def test_errors_and_cycle_breaks_are_marked_on_their_node_lane() -> None:
    _, tl = build(S.stream_cancel_error())
    layout = Layout()
    lanes = lanes_of(timeline_lines(tl, TimeWindow(), 120, 10, layout=layout), layout)
    assert "E" in lanes["check"] and "E" not in lanes["take"]
    assert "░" in lanes["take"]  # the stall
    assert "•" in lanes["words"]  # stream items
    _, tl = build(S.cycle())
    layout = Layout()
    lanes = lanes_of(timeline_lines(tl, TimeWindow(), 120, 10, layout=layout), layout)
    assert "c" in lanes["acc"]


def test_the_cursor_is_a_column_and_the_axis_marks_it() -> None:
    replay, tl = build(S.chain())
    t = tl.time_of(replay, 10)
    layout = Layout()
    lines = timeline_lines(tl, TimeWindow(), 70, 5, cursor_t=t, layout=layout)
    col = lines[0].plain.index("▼")
    assert all(line.plain[col] in "│█·E" for line in lines[1:])


def test_colon_accepts_a_moment_and_goes_to_the_first_event_at_or_after_it() -> None:
    replay = Replay(S.chain())  # the scenarios' clock: event seq at seq µs
    nav = Navigator(replay)
    assert nav.goto("+12µs") and nav.cursor == 12
    assert nav.goto("3.5us") and nav.cursor == 4
    assert nav.goto("1s") and nav.cursor == replay.last_seq  # past the end: the last
    assert not nav.goto("soon") and "1.5s" in nav.message


def test_zoom_pan_and_fit_change_the_window_around_the_cursor() -> None:
    replay = Replay(S.long_run(2_000))
    nav = Navigator(replay)
    nav.go(1_000)
    nav.zoom(0.25)
    a, b = nav.window.bounds(nav.timeline.end)
    t = nav.time_of(1_000)
    assert a <= t <= b and (b - a) < nav.timeline.end // 3
    nav.pan(0.25)
    a2, b2 = nav.window.bounds(nav.timeline.end)
    assert a2 > a and b2 - a2 == b - a
    nav.fit()
    assert nav.window.bounds(nav.timeline.end) == (0, nav.timeline.end)
    nav.pan(0.25)
    assert "whole run" in nav.message


def test_stepping_through_time_moves_one_cell_at_a_time() -> None:
    replay = Replay(S.chain())
    nav = Navigator(replay)
    width = (replay.last_seq + 1) // 4  # a cell is about 4 events long
    assert nav.time_step(1, width) and 3 <= nav.cursor <= 5
    before = nav.cursor
    assert nav.time_step(-1, width) and nav.cursor < before
    nav.end()
    assert not nav.time_step(1, width)


def test_the_inspector_says_how_long_an_evaluation_took_and_how_long_a_stall_was() -> None:
    replay, tl = build(S.stream_cancel_error())
    finished = next(
        s
        for s in replay.events_of_kind(NodeFinished)
        if replay.event(s).node_id == "take"  # type: ignore[attr-defined]
    )
    assert "the evaluation took" in event_time_text(tl, replay, replay.event(finished)).plain
    from flowtrace.events import StreamResumed

    resumed = replay.events_of_kind(StreamResumed)[0]
    text = event_time_text(tl, replay, replay.event(resumed)).plain
    assert "take had stalled for" in text


def test_an_evaluation_still_open_at_the_end_is_reported() -> None:
    events = [e for e in S.chain() if not isinstance(e, FlowFinished)]
    cut = max(i for i, e in enumerate(events) if isinstance(e, NodeStarted))
    _, tl = build(events[: cut + 1])
    assert tl.open_nodes() == [events[cut].node_id]  # type: ignore[attr-defined]


def test_the_timeline_grows_with_a_replay_that_is_extended() -> None:
    events = S.chain()
    replay = Replay(events[:10])
    tl = Timeline()
    tl.update(replay)
    assert len(tl) == 10
    replay.extend(events[10:])
    assert tl.update(replay) and len(tl) == len(events)
    assert not tl.update(replay)


def test_with_more_nodes_than_rows_the_lanes_keep_the_selected_node_in_view() -> None:
    b = RunBuilder("run-many")
    names = [f"n{i}" for i in range(12)]
    b.start(*(node(n) for n in names))
    for n in names:
        b.emit(NodeStarted, n, (0,), 0)
        b.emit(NodeFinished, n, (0,), 0, "completed")
    _, tl = build(b.events)
    layout = Layout()
    lines = timeline_lines(tl, TimeWindow(), 60, 5, selected="n9", order=names, layout=layout)
    assert len(lines) == 5 and len(layout.lanes) == 4 and "n9" in layout.lanes
    assert layout.lanes == names[7:11]
    assert lines[layout.lanes.index("n9") + 1].plain.startswith("▶n9")
