"""The replay model: a pure reducer from events to state, with keyframes and indexes."""

from __future__ import annotations

import dataclasses
import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
import scenarios as S
from hypothesis import given, settings
from hypothesis import strategies as st

from flowtrace.events import (
    AnyEvent,
    DataEmitted,
    Event,
    InputsGathered,
    NodeFinished,
    NodeStarted,
    NodeStatusChanged,
    SolutionFound,
    StreamItemConsumed,
    StreamResumed,
    StreamStalled,
)
from flowtrace.implied import (
    QUEUE_GET_KINDS,
    QUEUE_PUT_KINDS,
    STATUS_KINDS,
    queue_get,
    queue_put,
    status_change,
)
from flowtrace.replay import (
    Replay,
    State,
    cmp_generation,
    event_nodes,
    format_generation,
    split_runs,
)
from flowtrace.replay.store import BLOCK


def from_scratch(events: list[Event], upto: int) -> State:
    state = State()
    for e in events[: upto + 1]:
        state.apply(e)
    return state


def snapshot(state: State) -> tuple[Any, ...]:
    return (
        state.seq,
        tuple(state.nodes()),
        tuple(state.queue),
        tuple(state.barriers()),
        tuple(state.streams()),
        tuple(state.wait_for()),
        tuple(state.errors),
        state.outcome,
        tuple(sorted(state.tasks().items())),
    )


# ---------------------------------------------------------------- the reducer


def test_chain_final_state_has_each_nodes_status_generation_and_value() -> None:
    final = Replay(S.chain()).final_state()
    assert final.statuses() == {"a": "waiting", "b": "waiting"}
    assert final.generations() == {"a": (0,), "b": (0,)}
    assert final.outputs() == {"a": (1,), "b": (2,)}
    assert final.outcome == "completed"
    assert final.final_summary()["b"] == ("waiting", (0,), (2,))


def test_status_follows_status_events_step_by_step() -> None:
    events = S.chain()
    replay = Replay(events)
    started = replay.events_of_kind(NodeStarted)[0]
    assert replay.state_at(started).node("a").status == "executing"
    assert replay.state_at(started).node("a").evaluating == (0,)
    assert replay.state_at(started).node("b").status == "waiting"


def test_last_inputs_keep_the_lineage_of_each_port() -> None:
    final = Replay(S.chain()).final_state()
    b = final.node("b")
    assert b.inputs is not None
    assert (b.inputs[0].producer, b.inputs[0].producer_generation) == ("a", (0,))


def test_stream_positions_stalls_and_cancellation() -> None:
    events = S.stream_cancel_error()
    replay = Replay(events)
    stalled = replay.stall_seqs[0]
    s = replay.state_at(stalled)
    [stream] = s.streams()
    assert (stream.consumer, stream.producer, stream.stalled, stream.items) == (
        "take",
        "words",
        True,
        0,
    )
    final = replay.final_state()
    [stream] = final.streams()
    assert (stream.last_generation, stream.items, stream.ended, stream.cancelled) == (
        (0, 1),
        2,
        True,
        True,
    )
    assert final.node("words").item == ("world",)
    assert final.node("words").output == ("hello world",)


def test_errors_are_collected_with_node_generation_and_traceback() -> None:
    final = Replay(S.stream_cancel_error()).final_state()
    assert final.statuses()["check"] == "error"
    first = final.errors[0]
    assert (first.node_id, first.generation, first.error.type) == ("check", (0,), "ValueError")
    assert "Traceback" in first.error.traceback
    assert len(final.errors) == 1, "the flow's own error repeats the node's, not a new one"
    assert final.outcome == "error"


def test_resolution_queue_contents() -> None:
    replay = Replay(S.chain())
    put = next(i for i, e in enumerate(replay.events()) if type(e).__name__ == "ResolutionQueuePut")
    assert replay.state_at(put).queue == ["b"]
    assert replay.state_at(put + 1).queue == []


def test_barrier_counts_follow_countdowns() -> None:
    replay = Replay(S.chain())
    final = replay.final_state()
    [barrier] = final.barriers()
    assert (barrier.node_id, barrier.generation, barrier.remaining, barrier.readers_done) == (
        "a",
        (0,),
        0,
        ("b",),
    )


# ---------------------------------------------------------------- wait-for graph


def test_wait_for_graph_names_stalled_consumer_and_demanded_leaves() -> None:
    events = S.stream_cancel_error()
    replay = Replay(events)
    edges = {
        (e.waiter, e.blocker, e.reason)
        for e in replay.state_at(replay.stall_seqs[0] + 1).wait_for()
    }
    assert ("take", "words", "stall") in edges
    assert ("check", "take", "needs") in edges
    final_edges = replay.final_state().wait_for()
    assert final_edges == []


def test_wait_for_graph_shows_a_requested_cancellation_until_delivered() -> None:
    replay = Replay(S.stream_cancel_error())
    requested, delivered = replay.cancel_seqs
    assert ("take", "words", "cancel") in {
        (e.waiter, e.blocker, e.reason) for e in replay.state_at(requested).wait_for()
    }
    assert "cancel" not in {e.reason for e in replay.state_at(delivered).wait_for()}


# ---------------------------------------------------------------- keyframes


@pytest.mark.parametrize("make", [S.chain, S.cycle, S.stream_cancel_error])
@pytest.mark.parametrize("interval", [1, 3, 7, 1000])
def test_state_at_through_keyframes_equals_state_from_scratch(
    make: Callable[[], list[Event]], interval: int
) -> None:
    events = make()
    replay = Replay(events, keyframe_interval=interval)
    for seq in range(len(events)):
        assert snapshot(replay.state_at(seq)) == snapshot(from_scratch(events, seq)), seq


@settings(max_examples=40, deadline=None)
@given(interval=st.integers(1, 50), seqs=st.lists(st.integers(0, 10_000), min_size=1, max_size=12))
def test_random_jumps_in_any_order_agree_with_replay_from_scratch(
    interval: int, seqs: list[int]
) -> None:
    events = S.cycle(6)
    replay = Replay(events, keyframe_interval=interval)
    for raw in seqs:
        seq = raw % len(events)
        assert snapshot(replay.state_at(seq)) == snapshot(from_scratch(events, seq))


def test_states_handed_out_are_copies_so_keyframes_stay_valid() -> None:
    events = S.cycle()
    replay = Replay(events, keyframe_interval=4)
    mine = replay.state_at(10)
    for e in events[11:]:
        mine.apply(e)  # a caller mutating its state must not change the replay's
    assert snapshot(replay.state_at(10)) == snapshot(from_scratch(events, 10))


def test_extend_in_chunks_equals_indexing_at_once() -> None:
    events = S.stream_cancel_error()
    whole = Replay(events, keyframe_interval=5)
    chunked = Replay(keyframe_interval=5)
    for i in range(0, len(events), 9):
        chunked.extend(events[i : i + 9])
        assert len(chunked) == min(i + 9, len(events))
    assert chunked.error_seqs == whole.error_seqs
    assert chunked.events_of_node("take") == whole.events_of_node("take")
    assert snapshot(chunked.final_state()) == snapshot(whole.final_state())


def test_seqs_with_gaps_are_addressed_by_seq() -> None:
    events = [e for e in S.chain() if e.seq % 5 != 3]
    replay = Replay(events, keyframe_interval=4)
    assert replay.last_seq == events[-1].seq
    assert replay.event(events[7].seq) == events[7]
    with pytest.raises(KeyError):
        replay.pos_of(3)
    assert replay.clamp(3) == 4
    assert snapshot(replay.state_at(events[-1].seq)) == snapshot(
        from_scratch(events, len(events) - 1)
    )


# ---------------------------------------------------------------- indexes


def test_index_helpers_find_errors_cycle_breaks_stalls_cancellations() -> None:
    cyc = Replay(S.cycle())
    [cb] = cyc.cycle_break_seqs
    event = cyc.event(cb)
    assert isinstance(event, SolutionFound) and event.cycle_breaks == (S.CYCLE_BREAK,)
    stream = Replay(S.stream_cancel_error())
    assert [type(stream.event(s)).__name__ for s in stream.cancel_seqs] == [
        "StreamCancelRequested",
        "StreamCancelled",
    ]
    assert type(stream.event(stream.error_seqs[0])).__name__ == "NodeErrored"
    assert type(stream.event(stream.stall_seqs[0])).__name__ == "StreamStalled"


def test_events_per_node_include_its_task_and_are_sorted() -> None:
    replay = Replay(S.chain())
    seqs = replay.events_of_node("b")
    assert list(seqs) == sorted(seqs)
    assert all(
        "b" in event_nodes(replay.event(s)) or getattr(replay.event(s), "node_id", None) == "b"
        for s in seqs
    )
    assert replay.node_ids() == ("a", "b")


def test_generation_boundaries_are_the_node_evaluations() -> None:
    replay = Replay(S.cycle(4))
    starts = replay.evaluations_of("acc")
    generations = []
    for seq in starts:
        event = replay.event(seq)
        assert isinstance(event, NodeStarted)  # what evaluations_of indexes
        generations.append(event.generation)
    assert generations == [(0,), (1,), (2,), (3,)]
    assert Replay.next_in(starts, starts[1]) == starts[2]
    assert Replay.prev_in(starts, starts[1]) == starts[0]
    assert Replay.next_in(starts, starts[-1]) is None


def test_events_of_kind() -> None:
    replay = Replay(S.cycle(2))
    assert len(replay.events_of_kind(NodeStarted)) == 4
    assert NodeStarted in replay.kinds()


# ---------------------------------------------------------------- lineage


def test_lineage_of_an_input_is_the_producers_data_emitted() -> None:
    replay = Replay(S.cycle(3))
    gathered = replay.gathered_seq("acc", (2,))
    assert gathered is not None
    event = replay.event(gathered)
    assert isinstance(event, InputsGathered)
    source = replay.lineage(event.inputs[0])
    assert source is not None
    emitted = replay.event(source)
    assert isinstance(emitted, DataEmitted)
    assert (emitted.node_id, emitted.generation) == ("inc", (1,))
    assert replay.lineage_of_evaluation("acc", (2,)) == {0: source}
    assert gathered in replay.readers_of("inc", (1,))


def test_a_defaulted_input_has_no_lineage() -> None:
    replay = Replay(S.cycle(1))
    assert replay.lineage_of_evaluation("acc", (0,)) == {0: None}
    gathered = replay.gathered_seq("acc", (0,))
    assert gathered is not None
    [src] = replay.sources(gathered)
    assert src.seq is None and "defaulted" in src.label


def test_a_stream_item_read_leads_to_the_item_emitted() -> None:
    replay = Replay(S.stream_cancel_error())
    consumed = replay.events_of_kind(StreamItemConsumed)[1]
    [src] = replay.sources(consumed)
    assert src.seq is not None
    emitted = replay.event(src.seq)
    assert isinstance(emitted, DataEmitted) and emitted.generation == (0, 1)


def test_sources_of_an_evaluation_event_are_its_inputs() -> None:
    replay = Replay(S.chain())
    started = replay.evaluations_of("b")[0]
    [src] = replay.sources(started)
    assert src.producer == "a" and src.seq == replay.emitted_seq("a", (0,))


# ---------------------------------------------------------------- diff


def test_diff_names_the_nodes_and_fields_that_changed() -> None:
    replay = Replay(S.chain())
    b_started = replay.evaluations_of("b")[0]
    diff = replay.diff(b_started - 1, replay.last_seq)
    assert diff.nodes() == ("b",)
    fields = {c.field: (c.before, c.after) for c in diff.changes}
    assert fields["generation"] == ("-", "0")
    assert fields["output"] == ("-", "2")
    assert replay.diff(5, 5).changes == ()


def test_diff_is_symmetric_in_what_it_reports() -> None:
    replay = Replay(S.cycle())
    forward = replay.diff(10, 40)
    backward = replay.diff(40, 10)
    assert [(c.node_id, c.field, c.before, c.after) for c in forward.changes] == [
        (c.node_id, c.field, c.after, c.before) for c in backward.changes
    ]


# ---------------------------------------------------------------- helpers


def test_generations_order_none_first_then_elementwise_and_a_prefix_after_its_items() -> None:
    ordered = [None, (0, 9), (0,), (1, 0), (1, 5), (1,), ()]
    for i, a in enumerate(ordered):
        for j, b in enumerate(ordered):
            assert cmp_generation(a, b) == (i > j) - (i < j), (a, b)
    assert format_generation((1, 2)) == "1.2" and format_generation(None) == "-"


def test_split_runs_keeps_order_of_first_appearance() -> None:
    a, b = S.chain(), S.cycle(1)
    mixed = [*a[:5], *b, *a[5:]]
    runs = split_runs(mixed)
    assert [r for r, _ in runs] == ["run-chain", "run-cycle"]
    assert runs[0][1] == a


def test_node_view_is_immutable() -> None:
    view = Replay(S.chain()).final_state().node("a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.status = "error"  # type: ignore[misc]


def test_indexes_show_only_published_events_to_other_threads() -> None:
    events = S.stream_cancel_error()
    replay = Replay(events[:20])
    # what a concurrent extend() has indexed but not yet published (count not moved)
    replay._stall_seqs.append(25)
    replay._store.append(events[20])  # stored, not published
    assert 25 not in replay.stall_seqs
    assert 20 not in replay.events_of_kind(type(events[20]))
    assert replay.last_seq == 19 and len(replay) == 20
    stalls = [e.seq for e in events[:20] if isinstance(e, StreamStalled)]
    assert stalls and list(replay.stall_seqs) == stalls


# ---------------------------------------------------------------- schema 2.0 folds


def test_implied_statuses_follow_the_events_that_imply_them() -> None:
    replay = Replay(S.stream_cancel_error())
    stalled = replay.stall_seqs[0]
    take = replay.state_at(stalled).node("take")
    assert (take.status, take.stalled_port) == ("stalled", 0), "StreamStalled implies it"
    parked = next(
        s
        for s in replay.events_of_kind(DataEmitted)
        if isinstance(e := replay.event(s), DataEmitted) and e.parked
    )
    words = replay.state_at(parked).node("words")
    assert (words.status, words.run_level) == ("waiting", 1), "a parked item implies it"
    resumed = replay.events_of_kind(StreamResumed)[0]
    assert replay.state_at(resumed).node("take").status == "executing"
    started = replay.evaluations_of("take")[0]
    assert replay.state_at(started).node("take").status == "executing"
    finished = next(
        s
        for s in replay.events_of_kind(NodeFinished)
        if isinstance(e := replay.event(s), NodeFinished) and e.node_id == "take"
    )
    take = replay.state_at(finished).node("take")
    assert (take.status, take.run_level) == ("waiting", 0)


def test_a_stall_puts_its_producer_on_the_queue_and_the_solution_takes_it_off() -> None:
    replay = Replay(S.stream_cancel_error())
    stalled = replay.stall_seqs[0]
    assert "words" in replay.state_at(stalled).queue
    took = next(
        s
        for s in replay.events_of_kind(SolutionFound)
        if isinstance(e := replay.event(s), SolutionFound) and e.head == "words"
    )
    assert "words" not in replay.state_at(took).queue


def test_an_explicit_change_to_the_status_a_node_has_is_a_no_op() -> None:
    b = S.RunBuilder("run-upgraded")
    b.start(S.node("a"))
    b.solve("a", ("a",))
    b.emit(NodeStarted, "a", (0,), 0)
    # an upgraded 1.x trace may still carry the change 2.0 implies by NodeStarted
    redundant = b.emit(NodeStatusChanged, "a", "queued", "executing", 5, None)
    events = b.finish()
    replay = Replay(events)
    before = replay.state_at(redundant.seq - 1).node("a")
    after = replay.state_at(redundant.seq).node("a")
    assert after == before, "nothing changes: not the run level, not the last seq"
    assert after.status == "executing"


def test_stream_item_reads_count_the_items_barrier_down() -> None:
    replay = Replay(S.stream_cancel_error())
    first = replay.events_of_kind(StreamItemConsumed)[0]
    barriers = {(b.node_id, b.run_level): b for b in replay.state_at(first).barriers()}
    item = barriers[("words", 1)]
    assert (item.generation, item.remaining, item.readers_done) == ((0, 0), 0, ("take",))


def test_a_write_over_unread_data_is_kept_on_the_barrier() -> None:
    b = S.RunBuilder("run-unread")
    b.start(S.node("a"), S.node("b", S.port(0, "a")), S.node("c", S.port(0, "a")))
    b.solve("a", ("a",))
    b.evaluate("a", 0, (), 1)
    barrier = next(x for x in Replay(b.events).final_state().barriers() if x.node_id == "a")
    assert (barrier.remaining, barrier.readers_done) == (2, ()), "two readers, from the graph"
    b.take("a", ("a",))
    b.emit(NodeStarted, "a", (1,), 0)
    b.emit(DataEmitted, "a", (1,), 0, (2,), 2, False)  # neither reader read (0,)
    [barrier] = Replay(b.events).final_state().barriers()
    assert (barrier.generation, barrier.remaining, barrier.overwritten_unread) == ((1,), 2, 2)


def test_implied_kinds_name_every_class_the_functions_answer_for() -> None:
    for events in (S.chain(), S.cycle(), S.stream_cancel_error()):
        for e in events:
            if status_change(e) is not None:
                assert type(e) in STATUS_KINDS, type(e)
            if queue_put(e) is not None:
                assert type(e) in QUEUE_PUT_KINDS, type(e)
            if queue_get(e) is not None:
                assert type(e) in QUEUE_GET_KINDS, type(e)


# ---------------------------------------------------------------- compact storage


def test_events_read_back_equal_across_blocks_and_the_cache() -> None:
    events = S.long_run(3 * BLOCK + 17)
    replay = Replay(events)
    assert list(replay.events()) == events
    assert [replay.event_at(i) for i in range(len(events) - 1, -1, -97)] == events[::-97]
    assert replay.events()[BLOCK - 2 : BLOCK + 3] == events[BLOCK - 2 : BLOCK + 3]
    assert [replay.kind_at(i) for i in range(len(events))] == [type(e) for e in events]
    assert [replay.t_ns_at(i) for i in range(len(events))] == [e.t_ns for e in events]


def test_a_value_msgpack_cannot_hold_is_kept_exactly() -> None:
    b = S.RunBuilder("run-big")
    b.start(S.node("a"))
    b.solve("a", ("a",))
    b.evaluate("a", 0, (), 2**80)  # beyond MessagePack's ints: its block goes as JSON
    k = 1
    while len(b.events) < 2 * BLOCK:
        b.evaluate("a", k, (), k)
        k += 1
    b.evaluate("a", k, (), 2**80)
    b.evaluate("a", k + 1, (), float("inf"))  # JSON would write null: kept as is
    while len(b.events) < 4 * BLOCK:
        k += 1
        b.evaluate("a", k + 1, (), k)
    replay = Replay(b.events)
    assert list(replay.events()) == b.events
    blocks = replay._store._blocks
    assert isinstance(blocks[0], bytes) and blocks[0][:1] == b"J"
    assert isinstance(blocks[1], bytes) and blocks[1][:1] == b"M"
    assert isinstance(blocks[2], list)


def test_events_are_held_in_less_than_150_bytes_each() -> None:
    blob = msgspec.json.encode(S.long_run(20_000))
    gc.collect()
    tracemalloc.start()
    try:
        decoded = msgspec.json.decode(blob, type=list[AnyEvent])  # as a reader hands them
        replay = Replay(decoded)
        del decoded  # the replay keeps its own compact copy, not the reader's events
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]  # all that was allocated and is kept
    finally:
        tracemalloc.stop()
    assert held / len(replay) < 150, held / len(replay)
