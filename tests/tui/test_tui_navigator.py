"""Navigation as a model: what each key does to the cursor, without a terminal."""

from __future__ import annotations

import scenarios as S

from flowtrace.events import Event, NodeStarted
from flowtrace.replay import Replay
from flowtrace.tui.navigator import Navigator, parse_query


def nav_for(events: list[Event]) -> Navigator:
    return Navigator(Replay(events))


def test_parse_query_splits_kinds_nodes_and_words() -> None:
    q = parse_query("kind:nodestarted node:acc Boom k:DataEm")
    assert q.kinds == {"NodeStarted", "DataEmitted"}
    assert q.nodes == {"acc"}
    assert q.text == ("boom",)
    assert not q.indexed_only()


def test_goto_accepts_absolute_relative_and_percent() -> None:
    nav = nav_for(S.cycle())
    assert nav.goto("40") and nav.cursor == 40
    assert nav.goto("+5") and nav.cursor == 45
    assert nav.goto("-10") and nav.cursor == 35
    assert nav.goto("0%") and nav.cursor == 0
    assert nav.goto("100%") and nav.cursor == nav.replay.last_seq
    nav.goto("10")
    assert nav.goto("1,000") and nav.cursor == nav.replay.last_seq, "clamped to the end"
    assert not nav.goto("abc") and "not a position" in nav.message


def test_history_back_and_forward() -> None:
    nav = nav_for(S.cycle())
    nav.goto("10")
    nav.goto("20")
    nav.step(1)  # steps are not jumps
    assert nav.back() and nav.cursor == 10
    assert nav.back() and nav.cursor == 0 and nav.message == "back"
    assert not nav.back()
    assert nav.forward() and nav.cursor == 10
    assert nav.message == "forward", "not the stale 'back' of the previous jump"


def test_filter_keeps_stepping_on_matching_rows_from_anywhere() -> None:
    nav = nav_for(S.cycle(3))
    starts = list(nav.replay.events_of_kind(NodeStarted))
    nav.goto(str(starts[1] + 1))  # between two matches
    nav.set_filter(parse_query("kind:NodeStarted"))
    assert nav.cursor == starts[2], "the cursor moves onto the next matching row"
    assert nav.row_count() == len(starts)
    nav.step(-1)
    assert nav.cursor == starts[1]
    nav.set_filter(None)
    assert nav.filtered is None and nav.row_count() == len(nav.replay)


def test_free_text_filter_matches_the_log_line() -> None:
    nav = nav_for(S.stream_cancel_error())
    nav.set_filter(parse_query("hello"))
    assert nav.filtered
    assert all("hello" in str(nav.replay.event(s)) for s in nav.filtered)


def test_selection_follows_the_cursor_until_pinned() -> None:
    nav = nav_for(S.chain())
    b_start = nav.replay.evaluations_of("b")[0]
    nav.goto(str(b_start))
    assert nav.selected == "b"
    nav.select_node(-1)
    assert nav.selected == "a" and nav.pinned
    nav.step(1)
    assert nav.selected == "a"
    nav.unpin()
    assert nav.selected == "b"


def test_messages_say_when_there_is_nothing_to_find() -> None:
    nav = nav_for(S.chain())
    assert not nav.error(True) and nav.message == "no next error"
    assert not nav.cycle_break(False) and nav.message == "no previous cycle break"
    assert not nav.continue_(True) and "no breakpoints" in nav.message
    assert not nav.jump_to_producer() and "no earlier event" in nav.message


def test_breakpoint_target_is_the_nearest_of_all_breakpoints() -> None:
    nav = nav_for(S.cycle(3))
    nav.breakpoint_kinds.add("NodeErrored")  # never happens: ignored
    nav.breakpoint_nodes.add("inc")
    nav.breakpoint_kinds.add("SolutionFound")
    first_inc = nav.replay.events_of_node("inc")[0]
    first_solution = nav.replay.events_of_kind(
        type(nav.replay.event(nav.replay.cycle_break_seqs[0]))
    )[0]
    assert nav.breakpoint_target(True) == min(first_inc, first_solution)


def test_the_fast_scan_finds_what_the_whole_log_line_matches() -> None:
    """``scan`` matches column by column; it must find exactly the events whose whole
    line (``Query.matches``) holds every term — terms taken from the lines themselves
    (pieces of every column, across a column's edge too), in several cases and
    combined with kinds and nodes."""
    from flowtrace.tui.render import event_row

    for events in (S.stream_cancel_error(), S.cycle(4), S.chain()):
        nav = nav_for(events)
        words: set[str] = {"nosuchthing", "→", "g1", "1", "started", "STREAM", "e", "0="}
        for e in events:
            for word in event_row(e).split():
                words.update({word, word[1:], word[:-1], word[1:-1], word.upper()})
        sources = sorted(w for w in words if w)
        sources += [f"{a} {b}" for a, b in zip(sources, reversed(sources), strict=True)]
        sources += [f"kind:NodeStarted {w}" for w in sources[:40]]
        sources += [f"node:{n} {w}" for n in nav.replay.node_ids()[:2] for w in sources[:40]]
        found = 0
        for source in sources:
            query = parse_query(source)
            expected = [e.seq for e in events if query.matches(e)]
            assert nav.scan(query) == expected, source
            found += bool(expected)
        assert found > len(sources) // 4  # the queries do match, mostly
