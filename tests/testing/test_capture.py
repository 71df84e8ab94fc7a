"""The Capture instrument: attaches like any instrument, keeps events per run."""

from __future__ import annotations

from typing import Any

import pytest

from flowtrace import EventLoop, sleep, spawn
from flowtrace import events as ev
from flowtrace.instrument import Bus, add_default_instrument, remove_default_instrument
from flowtrace.testing import Capture

from ._samples import emit_diamond_run


async def _two_sleepers() -> str:
    async def nap(seconds: float) -> float:
        return await sleep(seconds)

    first = await spawn(nap(0.2), name="first")
    second = await spawn(nap(0.1), name="second")
    await first.join()
    await second.join()
    return "done"


def _run(**kwargs: Any) -> Any:
    return EventLoop(virtual_time=True).run_until_complete(_two_sleepers(), join=True, **kwargs)


def test_with_capture_records_every_run_inside_the_block() -> None:
    with Capture() as cap:
        assert _run() == "done"
    assert isinstance(cap, Capture)
    assert len(cap.runs) == 1
    assert cap.lines("full")[0] == "loop started: root task 0, virtual time"
    assert cap.lines("full")[-1] == "loop exited: completed, 0 tasks left"


def test_nothing_is_recorded_after_the_block() -> None:
    with Capture() as cap:
        pass
    _run()
    assert len(cap) == 0


def test_capture_passed_to_a_run_sees_only_that_run() -> None:
    cap = Capture()
    _run(instruments=[cap])
    _run()
    assert len(cap.runs) == 1


def test_a_process_default_capture_sees_every_run() -> None:
    cap = Capture()
    add_default_instrument(cap)
    try:
        _run()
        _run()
    finally:
        remove_default_instrument(cap)
    assert len(cap.runs) == 2
    # Two runs of the same program render the same order.
    assert cap.order("full", run=0) == cap.order("full", run=1)


def test_the_virtual_time_schedule_is_in_the_full_order() -> None:
    cap = Capture()
    _run(instruments=[cap])
    lines = cap.lines("full")
    assert lines.index("task 2 sleep ended") < lines.index("task 1 sleep ended")
    assert "task 1 sleeps 0.2s" in lines
    assert "task 0 returned 'done'" in lines


def test_run_selects_one_run_and_the_last_by_default() -> None:
    cap = Capture()
    emit_diamond_run(Bus("run-1", [cap]))
    Bus("run-2", [cap]).emit(ev.FlowStarted, "f", 0, ev.GraphInfo(()))
    assert len(cap.run(0)) == len(cap.events) - 1
    assert [type(e) for e in cap.run()] == [ev.FlowStarted]
    assert cap.lines("evaluations", run=-1) == ["flow started: []"]


def test_run_on_an_empty_capture_says_nothing_ran() -> None:
    with pytest.raises(LookupError, match="nothing was captured"):
        Capture().run()


def test_of_type_clear_and_iteration() -> None:
    cap = Capture()
    emit_diamond_run(Bus("run-1", [cap]))
    assert [e.node_id for e in cap.of_type(ev.NodeStarted)] == ["a", "b", "c", "d"]
    assert list(cap) == list(cap.events)
    cap.clear()
    assert len(cap) == 0 and cap.runs == []


def test_kinds_restricts_what_the_engine_builds_for_the_capture() -> None:
    cap = Capture(kinds=[ev.TaskSpawned])
    bus = Bus("run-1", [cap])
    assert bus.wants(ev.TaskSpawned) and not bus.wants(ev.SleepBegan)
    _run(instruments=[cap])
    assert {type(e) for e in cap.events} == {ev.TaskSpawned}
