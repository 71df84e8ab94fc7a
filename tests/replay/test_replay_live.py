"""Replay equals live: replaying a run's events reaches the engine's own final state.

For each flow below (and for random graphs), the run is captured in memory, replayed
with :class:`~flowtrace.replay.Replay`, and every node's status, generation, run level
and newest complete result (encoded with the run's codec) is compared with
``Flow.node_states()``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _events import Collector
from hypothesis import given, settings
from hypothesis import strategies as st

from flowtrace import FlowHDL, Stream, node
from flowtrace.replay import Replay


def run_and_compare(f: FlowHDL, **kwargs: Any) -> Replay:
    col = Collector()
    with contextlib.suppress(Exception):  # limits and errors end runs; states must agree
        f.run_until_complete(instruments=[col], **kwargs)
    replay = Replay(col.events, keyframe_interval=16)
    final = replay.final_state()
    live = f._flow.node_states()
    assert set(live) == set(final.node_ids())
    for node_id, view in live.items():
        replayed = final.node(node_id)
        output = list(replayed.output) if replayed.output is not None else None
        assert (replayed.status, replayed.generation, replayed.run_level, output) == (
            view.status,
            view.generation,
            view.run_level,
            view.data,
        ), node_id
    return replay


@node
async def One() -> int:
    return 1


@node
async def Inc(x: int = 0) -> int:
    return x + 1


@node
async def Add(a: int = 0, b: int = 0) -> int:
    return a + b + 1


@node
async def Words(n: int) -> AsyncIterator[str]:
    for i in range(3 + n):
        yield f"w{i}"


@node(stream_in=["s"])
async def TakeTwo(s: Stream[str]) -> str:
    out = []
    async for w in s:
        out.append(w)
        if len(out) == 2:
            await s.cancel()
            break
    return "".join(out)


@node
async def Fails(x: int) -> int:
    raise ValueError(f"{x} is odd")


def test_chain() -> None:
    with FlowHDL() as f:
        f.a = One()
        f.b = Inc(f.a)
        f.c = Add(f.a, f.b)
    replay = run_and_compare(f)
    assert replay.final_state().outcome == "completed"


def test_cycle_with_a_generation_limit() -> None:
    with FlowHDL() as f:
        f.b = Inc(f.c)
        f.c = Inc(f.b)
    replay = run_and_compare(f, stop_at_node_generation=(3,))
    assert replay.cycle_break_seqs, "the cycle was broken by a default"
    assert replay.final_state().outcome == "limit"
    assert not replay.error_seqs and not replay.final_state().errors, (
        "a generation limit ends a run normally: no error to jump to"
    )


def test_stream_cancelled_by_its_consumer() -> None:
    with FlowHDL() as f:
        f.a = One()
        f.w = Words(f.a)
        f.t = TakeTwo(f.w)
    replay = run_and_compare(f)
    assert replay.cancel_seqs


def test_error() -> None:
    with FlowHDL() as f:
        f.a = One()
        f.e = Fails(f.a)
    replay = run_and_compare(f)
    assert replay.error_seqs
    assert replay.final_state().statuses()["e"] == "error"


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_random_graphs(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 6), label="nodes")
    names = [f"n{i}" for i in range(n)]
    wiring: list[tuple[int | None, int | None]] = []
    for _ in range(n):
        sources = st.one_of(st.none(), st.integers(0, n - 1))
        wiring.append((data.draw(sources), data.draw(sources)))
    cyclic = any(s is not None and s >= i for i, pair in enumerate(wiring) for s in pair)
    with FlowHDL() as f:
        for i, (a, b) in enumerate(wiring):
            args = [getattr(f, names[s]) if s is not None else 0 for s in (a, b)]
            setattr(f, names[i], Add(*args))
    run_and_compare(f, stop_at_node_generation=(2,) if cyclic else ())


@pytest.mark.parametrize("interval", [1, 5])
def test_keyframes_do_not_change_the_final_state_of_a_real_run(interval: int) -> None:
    with FlowHDL() as f:
        f.b = Inc(f.c)
        f.c = Inc(f.b)
    col = Collector()
    with pytest.raises(Exception):  # noqa: B017 - the generation limit ends the run
        f.run_until_complete(stop_at_node_generation=(4,), instruments=[col])
    a = Replay(col.events, keyframe_interval=interval).final_state().final_summary()
    b = Replay(col.events, keyframe_interval=10_000).final_state().final_summary()
    assert a == b
