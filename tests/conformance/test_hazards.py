"""Regression tests for Flowno's known hazards (compatibility §9 "free to improve";
issues 3 and 4): flowtrace ends every one of these runs with the right result or a
clear error, never a hang.

Every test is bounded by the module timeout; a hang fails the test instead of the suite.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from flowtrace import (
    DeadlockError,
    Event,
    FlowHDL,
    Stream,
    StreamCancelled,
    TerminateLimitReached,
    current_flow,
    node,
    sleep,
)

pytestmark = pytest.mark.timeout(10)


@node
async def Ident(x: Any) -> Any:
    return x


@node
async def Inc(x: int) -> int:
    return x + 1


# --------------------------------------------------------------------------- gather-time errors


def test_multi_output_node_returning_a_non_tuple_raises() -> None:
    """Flowno stored the non-tuple and hung when a consumer indexed it; flowtrace ends
    the run with a ``TypeError`` naming the node."""

    @node(multiple_outputs=True)
    async def NotATuple() -> Any:
        return 5

    with FlowHDL() as f:
        f.bad = NotATuple()
        f.use = Ident(f.bad.output(1))
    with pytest.raises(TypeError) as info:
        f.run_until_complete()
    assert "bad" in str(info.value)


def test_out_of_range_output_index_fails_fast() -> None:
    """``output(5)`` of a two-output node is refused at finalization or raised as a node
    error at run time, naming the consumer and the producer — never a hang."""

    @node(multiple_outputs=True)
    async def Two() -> tuple[int, int]:
        return 1, 2

    with pytest.raises(Exception) as info:
        with FlowHDL() as f:
            f.two = Two()
            f.use = Ident(f.two.output(5))
        f.run_until_complete()
    assert not isinstance(info.value, DeadlockError)
    assert "use" in str(info.value)
    assert "two" in str(info.value)


def test_mono_output_into_stream_input_reads_a_one_item_stream() -> None:
    """A mono producer wired into a ``stream_in`` port without default: Flowno killed
    the consumer task and hung; flowtrace defines the edge (DESIGN §12.2) — the stream
    holds one item, the producer's result."""

    @node
    async def Mono() -> int:
        return 3

    @node(stream_in=["xs"])
    async def Reader(xs: Stream[int]) -> list[int]:
        return [x async for x in xs]

    with FlowHDL() as f:
        f.mono = Mono()
        f.reader = Reader(f.mono)
    f.run_until_complete()
    assert f.reader.get_data() == ([3],)


def test_list_chunks_concatenate_into_the_final_value() -> None:
    """Flowno reset its accumulator on list chunks (two chunks gave ``None`` and a hung
    mono consumer); flowtrace concatenates lists (DESIGN §12.2)."""

    @node
    async def Lists() -> AsyncIterator[list[int]]:
        yield [1]
        yield [2]

    with FlowHDL() as f:
        f.src = Lists()
        f.use = Ident(f.src)
    f.run_until_complete()
    assert f.use.get_data() == ([1, 2],)


def test_uncombinable_chunks_make_the_mono_consumer_fail_clearly() -> None:
    """Chunks that cannot be combined (dicts) leave no final value: the mono consumer
    fails with a message telling to end with ``raise StopAsyncIteration(value)``."""

    @node
    async def Dicts() -> AsyncIterator[dict[str, int]]:
        yield {"a": 1}
        yield {"b": 2}

    with FlowHDL() as f:
        f.src = Dicts()
        f.use = Ident(f.src)
    with pytest.raises(Exception, match="StopAsyncIteration") as info:
        f.run_until_complete()
    assert "use" in str(info.value)


def test_binary_tree_with_mono_joins_feeding_stream_inputs_never_hangs() -> None:
    """Flowno's "known concurrency bug": a streaming source forked by 4 levels of
    streaming pass-throughs (16 leaves), reduced by 4 levels of ``Join`` nodes with two
    stream inputs and a mono output. From the second level on, Joins' stream inputs are
    fed by mono outputs. Flowno hung; flowtrace (mono → stream edges read a one-item
    stream) completes: every leaf streams 0+1+2, so the root sums 16 * 3 = 48."""

    @node
    async def Source() -> AsyncIterator[int]:
        for i in range(3):
            yield i

    @node(stream_in=["xs"])
    async def Fork(xs: Stream[int]) -> AsyncIterator[int]:
        async for x in xs:
            yield x

    @node(stream_in=["a", "b"])
    async def Join(a: Stream[int], b: Stream[int]) -> int:
        total = 0
        async for x in a:
            total += x
        async for y in b:
            total += y
        return total

    with FlowHDL() as f:
        level: list[Any] = [Source()]
        for _ in range(4):
            level = [Fork(p) for p in level for _ in range(2)]
        assert len(level) == 16
        while len(level) > 1:
            level = [Join(level[i], level[i + 1]) for i in range(0, len(level), 2)]
        f.root = level[0]
    f.run_until_complete()
    assert f.root.get_data() == (48,)


# --------------------------------------------------------------------------- stalls and runaways


def test_producer_swallowing_cancel_then_consumer_reads_again() -> None:
    """The producer catches ``StreamCancelled`` and keeps yielding; the cancelling
    consumer reads again. Flowno left the consumer stalled forever; flowtrace ends the
    reader's stream as soon as the producer reacted (here: yielded again), so the second
    read ends."""

    @node
    async def Stubborn() -> AsyncIterator[int]:
        i = 0
        while i < 5:
            with contextlib.suppress(StreamCancelled):
                yield i
            i += 1

    @node(stream_in=["xs"])
    async def CancelThenRead(xs: Stream[int]) -> list[Any]:
        got: list[Any] = [await anext(xs)]
        await xs.cancel()
        try:
            got.append(await anext(xs))
        except StopAsyncIteration:
            got.append("stop")
        return got

    with FlowHDL() as f:
        f.src = Stubborn()
        f.reader = CancelThenRead(f.src)
    f.run_until_complete()
    assert f.reader.get_data() == ([0, "stop"],)


def test_cancel_while_sibling_waits_runs_a_bounded_number_of_generations(timing: Any) -> None:
    """``Source → {C1, C2}``: both read item 0; C2 then waits for item 1 while C1 sleeps
    briefly and cancels. Flowno re-ran source and consumers hundreds of times; flowtrace
    runs each exactly once (the source aborts the run if it is re-run more than 10
    times, so a runaway fails fast)."""
    u = timing.unit()
    runs = {"source": 0, "c1": 0, "c2": 0}
    c2_events: list[str] = []

    @node
    async def Source() -> AsyncIterator[int]:
        runs["source"] += 1
        if runs["source"] > 10:
            raise RuntimeError("runaway re-execution of Source")
        for i in range(3):
            yield i

    @node(stream_in=["xs"])
    async def C1(xs: Stream[int]) -> int:
        runs["c1"] += 1
        first = await anext(xs)
        await sleep(0.5 * u)
        await xs.cancel()
        return first

    @node(stream_in=["xs"])
    async def C2(xs: Stream[int]) -> int:
        runs["c2"] += 1
        first = await anext(xs)
        c2_events.append(f"read_{first}")
        try:
            c2_events.append(f"read_{await anext(xs)}")
        except StopAsyncIteration:
            c2_events.append("stop")
        return first

    with timing.new_hdl() as f:
        f.src = Source()
        f.c1 = C1(f.src)
        f.c2 = C2(f.src)
    timing.run(f)
    assert runs == {"source": 1, "c1": 1, "c2": 1}
    assert f.c1.get_data() == (0,)
    assert f.c2.get_data() == (0,)
    # C2's pending read was served before C1's cancel reached the source
    assert c2_events == ["read_0", "read_1"]


# --------------------------------------------------------------------------- determinism


_BREAKER_SCRIPT = textwrap.dedent(
    """
    import sys
    junk = [object() for _ in range(int(sys.argv[1]) * 37)]
    from flowtrace import FlowHDL, TerminateLimitReached, node
    log = []

    @node
    async def A(x: int = 0) -> int:
        log.append("A")
        return x + 1

    @node
    async def B(x: int = 0) -> int:
        log.append("B")
        return x + 1

    with FlowHDL() as f:
        f.a = A(f.b)
        f.b = B(f.a)
    try:
        f.run_until_complete(stop_at_node_generation={f.a: (2,)})
    except TerminateLimitReached:
        pass
    print(",".join(log))
    """
)


@pytest.mark.timeout(60)
def test_cycle_breaker_choice_is_deterministic_across_hash_seeds(tmp_path: Path) -> None:
    """When both members of a two-node cycle have defaults, the same one breaks the
    cycle in every process, whatever ``PYTHONHASHSEED`` and allocation pattern."""
    script = tmp_path / "breaker.py"
    script.write_text(_BREAKER_SCRIPT)
    outputs = set()
    for seed in range(5):
        env = {**os.environ, "PYTHONHASHSEED": str(seed * 7919 + 1)}
        done = subprocess.run(
            [sys.executable, str(script), str(seed)],
            capture_output=True,
            text=True,
            env=env,
            timeout=20,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        outputs.add(done.stdout.strip())
    assert len(outputs) == 1, outputs
    (log,) = outputs
    assert log.startswith(("A", "B"))


# --------------------------------------------------------------------------- scale


def test_reverse_chain_of_1200_nodes_has_no_recursion_error() -> None:
    """A 1,200-node chain declared sink-first (all forward references): Flowno's
    recursive solver raised ``RecursionError``; flowtrace's iterative one finishes."""
    n = 1200
    with FlowHDL() as f:
        for i in range(n - 1):
            setattr(f, f"n{i}", Inc(getattr(f, f"n{i + 1}")))
        setattr(f, f"n{n - 1}", Inc(0))
    f.run_until_complete()
    assert f.n0.get_data() == (n,)


@pytest.mark.parametrize("width", [9, 1000])
def test_wide_sibling_fan_in_completes(width: int) -> None:
    """One source, ``width`` sibling increments, one n-ary sink: Flowno livelocked from
    9 siblings on; flowtrace completes (also at 1,000)."""

    @node
    async def Src() -> int:
        return 1

    @node
    async def SumAll(*xs: int) -> int:
        return sum(xs)

    with FlowHDL() as f:
        f.src = Src()
        siblings = [Inc(f.src) for _ in range(width)]
        f.sink = SumAll(*siblings)
    f.run_until_complete()
    assert f.sink.get_data() == (2 * width,)


@pytest.mark.parametrize("width", [27, 128])
def test_binary_tree_reduction_of_shared_siblings_completes(width: int) -> None:
    """Siblings of one source reduced by a binary tree of adders: Flowno hung for some
    widths (27, 128, …); flowtrace completes."""

    @node
    async def Src() -> int:
        return 1

    @node
    async def Add2(a: int, b: int) -> int:
        return a + b

    with FlowHDL() as f:
        f.src = Src()
        level: list[Any] = [Inc(f.src) for _ in range(width)]
        while len(level) > 1:
            nxt = [Add2(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        f.root = level[0]
    f.run_until_complete()
    assert f.root.get_data() == (2 * width,)


# --------------------------------------------------------------------------- run lifecycle


def test_a_flow_can_run_twice() -> None:
    """Flowno's second ``run_until_complete`` raised ``KeyError``; flowtrace runs again,
    from empty data stores (DESIGN §12.2)."""
    with FlowHDL() as f:
        f.out = Inc(Inc(1))
    f.run_until_complete()
    assert f.out.get_data() == (3,)
    f.run_until_complete()
    assert f.out.get_data() == (3,)
    assert f.out.generation == (0,)


def test_current_flow_is_reset_after_a_node_error() -> None:
    """After a run ends with a node error, ``current_flow()`` is ``None``."""

    @node
    async def Boom() -> int:
        raise KeyError("boom")

    with FlowHDL() as f:
        f.b = Boom()
    with pytest.raises(KeyError):
        f.run_until_complete()
    assert current_flow() is None


def test_current_flow_is_reset_after_a_generation_limit() -> None:
    """After ``TerminateLimitReached``, ``current_flow()`` is ``None``."""

    @node
    async def Count(x: int = 0) -> int:
        return x + 1

    with FlowHDL() as f:
        f.c = Count(f.c)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation={f.c: (3,)})
    assert current_flow() is None
    assert f.c.get_data() == (4,)


def test_node_error_propagates_unchanged_with_other_nodes_sleeping(timing: Any) -> None:
    """A node error ends the run with the same exception object even while a sibling
    is asleep."""
    err = ValueError("bad")
    u = timing.unit()

    @node
    async def Fail() -> int:
        raise err

    @node
    async def Slow() -> int:
        await sleep(3 * u)
        return 1

    with timing.new_hdl() as f:
        f.slow = Slow()
        f.fail = Fail()
    with pytest.raises(ValueError) as info:
        timing.run(f)
    assert info.value is err
    assert current_flow() is None


# --------------------------------------------------------------------------- stream faults


def test_multi_output_streaming_node_delivers_each_ports_values() -> None:
    """Flowno fed both consumers port 0's values; flowtrace gives each port its own."""

    @node(multiple_outputs=True)
    async def PlusMinus() -> AsyncIterator[tuple[int, int]]:
        for i in range(1, 4):
            yield (i, -i)

    @node(stream_in=["xs"])
    async def Collect(xs: Stream[int]) -> list[int]:
        return [x async for x in xs]

    with FlowHDL() as f:
        f.pm = PlusMinus()
        f.pos = Collect(f.pm.output(0))
        f.neg = Collect(f.pm.output(1))
    f.run_until_complete()
    assert f.pos.get_data() == ([1, 2, 3],)
    assert f.neg.get_data() == ([-1, -2, -3],)


def test_no_chunk_is_skipped_when_a_consumer_starts_a_new_generation_late(timing: Any) -> None:
    """A streaming node cycles with a collector that pulls one chunk per time unit; a
    side consumer starts each run 2.5 units late, when the producer is already several
    chunks into the generation. Flowno jumped to the producer's newest chunk on the
    first read of a new generation; flowtrace delivers every chunk of the generation it
    reads."""
    u = timing.unit()
    slow_runs: list[list[str]] = []

    @node
    async def Letters(prev: Any = None) -> AsyncIterator[str]:
        for ch in "abc":
            yield ch

    @node(stream_in=["xs"])
    async def Fast(xs: Stream[str]) -> str:
        got = []
        async for x in xs:
            await sleep(u)
            got.append(x)
        return "".join(got)

    @node(stream_in=["xs"])
    async def Slow(xs: Stream[str]) -> int:
        await sleep(2.5 * u)
        got = [x async for x in xs]
        slow_runs.append(got)
        return len(got)

    with timing.new_hdl() as f:
        f.letters = Letters(f.fast)
        f.fast = Fast(f.letters)
        f.slow = Slow(f.letters)
    with pytest.raises(TerminateLimitReached):
        timing.run(f, stop_at_node_generation={f.slow: (1,)})
    assert len(slow_runs) == 2
    assert slow_runs == [["a", "b", "c"], ["a", "b", "c"]]


# --------------------------------------------------------------------------- termination


def test_waiting_on_an_event_nobody_sets_is_a_deadlock_error() -> None:
    """Flowno has no deadlock detection (a node waiting on an event nobody sets blocks
    forever); flowtrace raises ``DeadlockError`` naming the waiting node."""

    @node
    async def Waiter() -> int:
        await Event().wait()
        return 1

    with FlowHDL() as f:
        f.stuck = Waiter()
    with pytest.raises(DeadlockError) as info:
        f.run_until_complete()
    assert "stuck" in str(info.value)
    assert current_flow() is None


def test_flow_end_hook_fires_on_abnormal_ends() -> None:
    """Flowno calls ``on_flow_end`` only on normal completion; flowtrace calls it on
    every end — here after a generation limit and after a node error."""
    from flowtrace.core.flow.instrumentation import FlowInstrument

    class Ends(FlowInstrument):
        def __init__(self) -> None:
            super().__init__()
            self.ends = 0

        def on_flow_end(self, flow: Any) -> None:
            self.ends += 1

    @node
    async def Count(x: int = 0) -> int:
        return x + 1

    @node
    async def Boom() -> int:
        raise KeyError("boom")

    ends = Ends()
    with FlowHDL() as f:
        f.c = Count(f.c)
    with FlowHDL() as g:
        g.b = Boom()
    with ends:
        with pytest.raises(TerminateLimitReached):
            f.run_until_complete(stop_at_node_generation={f.c: (1,)})
        assert ends.ends == 1
        with pytest.raises(KeyError):
            g.run_until_complete()
        assert ends.ends == 2


def test_terminate_on_node_error_false_lets_independent_nodes_finish() -> None:
    """Flowno ignored ``terminate_on_node_error``; flowtrace honours ``False``: nodes
    that do not depend on the failing one finish, then ``NodeExecutionError`` is raised
    with the node's exception as ``__cause__``."""
    from flowtrace import NodeExecutionError

    err = ValueError("first")

    @node
    async def Boom() -> int:
        raise err

    @node
    async def Fine() -> int:
        return 7

    with FlowHDL() as f:
        f.boom = Boom()
        f.after = Inc(f.boom)
        f.fine = Inc(Fine())
    with pytest.raises(NodeExecutionError) as info:
        f.run_until_complete(terminate_on_node_error=False)
    assert info.value.__cause__ is err
    assert f.fine.get_data() == (8,)
    assert f.after.get_data() is None


def test_mixed_int_and_float_chunks_add() -> None:
    """Flowno reset its accumulator when an int chunk met a float chunk; flowtrace adds
    numbers of any kind (DESIGN §12.2)."""

    @node
    async def Mixed() -> AsyncIterator[float]:
        yield 1
        yield 2.0

    with FlowHDL() as f:
        f.src = Mixed()
        f.use = Ident(f.src)
    f.run_until_complete()
    assert f.use.get_data() == (3.0,)
