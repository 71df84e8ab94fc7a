"""One way to group a trace's events by run, for every reader."""

from __future__ import annotations

from dataclasses import dataclass

from flowtrace.replay import split_runs as replay_split_runs
from flowtrace.runs import events_by_run
from flowtrace.testing.render import split_runs as render_split_runs


@dataclass(frozen=True)
class _E:
    run_id: str
    seq: int


def test_runs_keep_the_order_of_their_first_event_and_events_their_seq_order() -> None:
    mixed = [_E("b", 0), _E("a", 0), _E("b", 2), _E("a", 1), _E("b", 1)]
    grouped = events_by_run(mixed)
    assert list(grouped) == ["b", "a"]
    assert [e.seq for e in grouped["b"]] == [0, 1, 2]
    assert [e.seq for e in grouped["a"]] == [0, 1]


def test_replay_and_the_snapshot_renderer_group_runs_the_same_way() -> None:
    mixed = [_E("r2", 1), _E("r1", 0), _E("r2", 0)]
    by_replay = replay_split_runs(mixed)  # type: ignore[arg-type]
    by_render = render_split_runs(mixed)  # type: ignore[arg-type]
    assert [run for _, run in by_replay] == by_render
    assert [run_id for run_id, _ in by_replay] == ["r2", "r1"]
