"""Streams (compatibility §5) and the stream faults that compatibility §9 lists, fixed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from flowtrace import DeadlockError, FlowHDL, Stream, StreamCancelled, node, sleep
from flowtrace.engine.streams import ChunkLog


@node
async def Words(sentence: str = "hello world") -> AsyncIterator[str]:
    for w in sentence.split():
        yield w + " "


@node(stream_in=["xs"])
async def Collect(xs: Stream[Any]) -> list[Any]:
    return [x async for x in xs]


@node(stream_in=["xs"])
async def Upper(xs: Stream[str]) -> AsyncIterator[str]:
    async for x in xs:
        yield x.upper()


@node
async def Mono(x: Any) -> Any:
    return x


def test_pipeline_with_stream_and_mono_consumers() -> None:
    """The worked trace of compatibility §4."""
    with FlowHDL() as f:
        f.src = Words("a b")
        f.up = Upper(f.src)
        f.col = Collect(f.up)
        f.mono = Mono(f.up)
    f.run_until_complete()
    assert f.src.get_data() == ("a b ",)
    assert f.up.get_data() == ("A B ",)
    assert f.col.get_data() == (["A ", "B "],)
    assert f.mono.get_data() == ("A B ",)


def test_a_streaming_node_without_consumers_stops_after_one_item() -> None:
    with FlowHDL() as f:
        f.src = Words("x y z")
    f.run_until_complete()
    assert f.src.generation == (0, 0)
    assert f.src.get_data(0) is None
    assert f.src.get_data(1) == ("x ",)


def test_explicit_final_value_and_accumulation_rules() -> None:
    @node
    async def Explicit() -> AsyncIterator[str]:
        yield "partial"
        raise StopAsyncIteration("full")

    @node
    async def Lists() -> AsyncIterator[list[int]]:
        yield [1]
        yield [2]
        yield [3]

    @node
    async def Numbers() -> AsyncIterator[float]:
        yield 1
        yield 2.5

    with FlowHDL() as f:
        f.a = Mono(Explicit())
        f.b = Mono(Lists())
        f.c = Mono(Numbers())
    f.run_until_complete()
    assert f.a.get_data() == ("full",)
    assert f.b.get_data() == ([1, 2, 3],)
    assert f.c.get_data() == (3.5,)


def test_each_port_of_a_multi_output_stream_delivers_its_own_values() -> None:
    """§6 item 6: Flowno gave port 0's values to every reader."""

    @node(multiple_outputs=True)
    async def Pairs() -> AsyncIterator[tuple[int, int]]:
        for i in range(3):
            yield i, -i

    with FlowHDL() as f:
        f.p = Pairs()
        f.left = Collect(f.p.output(0))
        f.right = Collect(f.p.output(1))
    f.run_until_complete()
    assert f.left.get_data() == ([0, 1, 2],)
    assert f.right.get_data() == ([0, -1, -2],)
    assert f.p.get_data() == (3, -3)


def test_a_late_reader_gets_every_item_of_the_current_generation() -> None:
    """§6 item 7: no jump to the newest item; a reader that starts late reads from the
    first item of the generation."""

    @node(stream_in=["xs"])
    async def Late(xs: Stream[Any]) -> list[Any]:
        await sleep(5)
        return [x async for x in xs]

    @node(stream_in=["xs"])
    async def Fast(xs: Stream[Any]) -> list[Any]:
        return [x async for x in xs]

    with FlowHDL() as f:
        f.src = Words("a b c d")
        f.late = Late(f.src)
        f.fast = Fast(f.src)
    f.run_until_complete(virtual_time=True)
    assert f.late.get_data() == (["a ", "b ", "c ", "d "],)
    assert f.fast.get_data() == (["a ", "b ", "c ", "d "],)


def test_multi_consumer_races_are_deterministic_on_virtual_time() -> None:
    order: list[str] = []

    @node
    async def Src() -> AsyncIterator[str]:
        for item in ("alpha", "beta", "gamma"):
            await sleep(0.01)
            yield item

    def reader(name: str, delay: float) -> Any:
        @node(stream_in=["xs"])
        async def Reader(xs: Stream[str]) -> list[str]:
            got = []
            async for x in xs:
                await sleep(delay)
                order.append(f"{name}:{x}")
                got.append(x)
            return got

        return Reader

    with FlowHDL() as f:
        f.src = Src()
        f.fast = reader("fast", 0.001)(f.src)
        f.slow = reader("slow", 0.05)(f.src)
    f.run_until_complete(virtual_time=True)
    assert f.fast.get_data() == (["alpha", "beta", "gamma"],)
    assert f.slow.get_data() == (["alpha", "beta", "gamma"],)
    first = list(order)
    order.clear()
    f.run_until_complete(virtual_time=True)
    assert order == first


def test_memory_follows_the_slowest_reader_not_the_stream_length() -> None:
    peak: list[int] = []

    @node
    async def Many() -> AsyncIterator[int]:
        for i in range(2000):
            yield i

    @node(stream_in=["xs"])
    async def Count(xs: Stream[int]) -> int:
        n = 0
        async for _ in xs:
            n += 1
            log = f.src._chunk_log
            assert isinstance(log, ChunkLog)
            peak.append(log.retained())
        return n

    with FlowHDL() as f:
        f.src = Many()
        f.count = Count(f.src)
    f.run_until_complete()
    assert f.count.get_data() == (2000,)
    assert max(peak) <= 2


def test_mono_producer_into_a_stream_port_is_a_one_item_stream() -> None:
    """The mono→stream edge is defined (Flowno: MissingDefaultError in the task, hang);
    the "known concurrency bug" tree of Joins completes."""

    @node
    async def One() -> int:
        return 1

    @node
    async def Split(xs: Any) -> AsyncIterator[Any]:
        yield xs
        yield xs

    @node(stream_in=["a", "b"])
    async def Join(a: Stream[int], b: Stream[int]) -> int:
        return sum([x async for x in a]) + sum([y async for y in b])

    with FlowHDL() as f:
        f.j1 = Join(Split(One()), Split(One()))
        f.j2 = Join(Split(One()), Split(One()))
        f.top = Join(f.j1, f.j2)
    f.run_until_complete()
    assert f.j1.get_data() == (4,)
    assert f.top.get_data() == (8,)


def test_producer_error_ends_the_run_naming_the_producer() -> None:
    err = RuntimeError("producer broke")

    @node
    async def Breaks() -> AsyncIterator[int]:
        yield 1
        raise err

    with FlowHDL() as f:
        f.src = Breaks()
        f.col = Collect(f.src)
    with pytest.raises(RuntimeError) as info:
        f.run_until_complete()
    assert info.value is err


def test_a_reader_that_can_never_be_woken_raises_deadlock() -> None:
    """The producer blocks forever after its first item: the stalled reader and the
    blocked producer are both named instead of a silent hang."""
    from flowtrace import Event

    never = Event()

    @node
    async def Stuck() -> AsyncIterator[int]:
        yield 1
        await never.wait()
        yield 2

    with FlowHDL() as f:
        f.src = Stuck()
        f.col = Collect(f.src)
    with pytest.raises(DeadlockError) as info:
        f.run_until_complete()
    text = str(info.value)
    assert "'col' stalled reading input 0" in text
    assert "'src' running, blocked on Event" in text


def test_a_cycle_without_defaults_through_a_stream_is_reported() -> None:
    from flowtrace import MissingDefaultError

    @node(stream_in=["xs"])
    async def Echo(xs: Stream[Any]) -> Any:
        return [x async for x in xs]

    @node
    async def Again(x: Any) -> AsyncIterator[Any]:
        yield x

    with FlowHDL() as f:
        f.echo = Echo(f.src)
        f.src = Again(f.echo)
    with pytest.raises(MissingDefaultError, match="echo: Echo"):
        f.run_until_complete()


def test_stream_cancelled_is_an_exception_with_the_stream() -> None:
    exc = StreamCancelled()
    assert str(exc) == "Stream was cancelled by consumer"
    assert exc.stream is None


def test_streaming_cycle_interleaving_is_the_pinned_log() -> None:
    """docs/compatibility.md: ``A(xs: Stream = None)`` ⇄ streaming ``B``, limit {A: (2,)}."""
    from flowtrace import TerminateLimitReached

    log: list[str] = []

    @node(stream_in=["xs"])
    async def A(xs: Stream[str] | None = None) -> str:
        log.append("A.start")
        if xs is not None:
            async for x in xs:
                log.append(f"A{x.strip()}")
        log.append("A.done")
        return "a"

    @node
    async def B(x: str) -> AsyncIterator[str]:
        for i in range(3):
            log.append(f"B{i}")
            yield f"{i} "
        log.append("B3")

    with FlowHDL() as f:
        f.a = A(f.b)
        f.b = B(f.a)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete({f.a: (2,)})
    one = ["B0", "A.start", "A0", "B1", "A1", "B2", "A2", "B3", "A.done"]
    assert log == ["A.start", "A.done", *one, *one]
    assert f.b.get_data() == ("0 1 2 ",)
