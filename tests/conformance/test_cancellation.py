"""Conformance: stream cancellation (compatibility §5).

``await stream.cancel()`` tells the producer that this consumer wants no more data of the
current generation: ``StreamCancelled`` is thrown into the producer's generator at its
next chunk boundary, the generation ends for *all* consumers of that producer, and when
the exception escapes a pass-through node it propagates to that node's own stream inputs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from flowtrace import FlowHDL, Stream, StreamCancelled, TerminateLimitReached, node

pytestmark = pytest.mark.timeout(10)


def counting_source(events: list[str], n: int, *, catch: bool = False, final: Any = None) -> Any:
    """A source yielding ``0..n-1`` that records ``yield_i``, ``cancelled``,
    ``finally``; with ``catch`` it swallows the cancel and ends (with ``final`` as
    explicit final value when given)."""

    @node
    async def Source() -> AsyncIterator[int]:
        try:
            for i in range(n):
                events.append(f"yield_{i}")
                yield i
        except StreamCancelled:
            events.append("cancelled")
            if not catch:
                raise
            if final is not None:
                raise StopAsyncIteration(final) from None
        finally:
            events.append("finally")

    return Source


def cancelling_consumer(received: list[Any], at: Any) -> Any:
    """A stream consumer that records items and cancels after receiving ``at``; it
    returns the sum of what it received."""

    @node(stream_in=["xs"])
    async def Consume(xs: Stream[Any]) -> Any:
        async for x in xs:
            received.append(x)
            if x == at:
                await xs.cancel()
                break
        return sum(received)

    return Consume


@node
async def Ident(x: Any) -> Any:
    return x


# --------------------------------------------------------------------------- direct consumer


def test_cancel_after_first_item_then_break() -> None:
    """Cancelling after item 0 of ``0, 1, 2`` and breaking: the consumer got ``[0]``;
    the source yielded 0 and saw the cancellation before the run ended."""
    events: list[str] = []
    received: list[int] = []
    with FlowHDL() as f:
        f.src = counting_source(events, 3)()
        f.sink = cancelling_consumer(received, 0)(f.src)
    f.run_until_complete()
    assert received == [0]
    assert events == ["yield_0", "cancelled", "finally"]


def test_cancel_at_third_of_ten() -> None:
    """Cancelling at the third of ten items: exactly 3 consumed, at least 3 yielded."""
    events: list[str] = []
    received: list[int] = []
    with FlowHDL() as f:
        f.src = counting_source(events, 10)()
        f.sink = cancelling_consumer(received, 2)(f.src)
    f.run_until_complete()
    assert received == [0, 1, 2]
    assert sum(1 for e in events if e.startswith("yield_")) >= 3
    assert "cancelled" in events
    assert f.sink.get_data() == (3,)


def test_natural_completion_without_cancel() -> None:
    """Without a cancel the consumer reads ``[0, 1, 2]``."""
    events: list[str] = []
    received: list[int] = []
    with FlowHDL() as f:
        f.src = counting_source(events, 3)()
        f.sink = cancelling_consumer(received, "never")(f.src)
    f.run_until_complete()
    assert received == [0, 1, 2]
    assert "cancelled" not in events


def test_two_plain_consumers_both_read_everything() -> None:
    """Two non-cancelling consumers of ``a, b`` both get ``["a", "b"]``."""

    @node
    async def AB() -> AsyncIterator[str]:
        yield "a"
        yield "b"

    @node(stream_in=["xs"])
    async def Col(xs: Stream[str]) -> list[str]:
        return [x async for x in xs]

    with FlowHDL() as f:
        f.src = AB()
        f.c1 = Col(f.src)
        f.c2 = Col(f.src)
    f.run_until_complete()
    assert f.c1.get_data() == (["a", "b"],)
    assert f.c2.get_data() == (["a", "b"],)


def test_cancel_after_natural_exhaustion_is_harmless() -> None:
    """Cancelling once the stream has ended does nothing: items ``["a", "b"]``."""

    @node
    async def AB() -> AsyncIterator[str]:
        yield "a"
        yield "b"

    @node(stream_in=["xs"])
    async def ReadAllThenCancel(xs: Stream[str]) -> list[str]:
        items = [x async for x in xs]
        await xs.cancel()
        return items

    with FlowHDL() as f:
        f.src = AB()
        f.sink = ReadAllThenCancel(f.src)
    f.run_until_complete()
    assert f.sink.get_data() == (["a", "b"],)


def test_reading_again_after_cancel_ends_the_stream() -> None:
    """A consumer that keeps reading after cancelling gets ``StopAsyncIteration``."""
    log: list[str] = []

    @node
    async def Many() -> AsyncIterator[int]:
        for i in range(10):
            yield i

    @node(stream_in=["xs"])
    async def ReadCancelRead(xs: Stream[int]) -> None:
        log.append(f"read_{await anext(xs)}")
        await xs.cancel()
        log.append("cancelled")
        try:
            extra = await anext(xs)
            log.append(f"extra_{extra}")
        except StopAsyncIteration:
            log.append("stop_0")

    with FlowHDL() as f:
        f.src = Many()
        f.sink = ReadCancelRead(f.src)
    f.run_until_complete()
    assert log == ["read_0", "cancelled", "stop_0"]


# --------------------------------------------------------------------------- producer handling


def test_producer_catching_the_cancel_and_returning_completes() -> None:
    """A producer that catches ``StreamCancelled`` and returns ends normally."""
    events: list[str] = []
    received: list[int] = []
    with FlowHDL() as f:
        f.src = counting_source(events, 5, catch=True)()
        f.sink = cancelling_consumer(received, 1)(f.src)
    f.run_until_complete()
    assert received == [0, 1]
    assert "cancelled" in events


def test_producer_final_value_after_cancel_reaches_mono_consumer() -> None:
    """A producer that catches the cancel and ends with
    ``StopAsyncIteration(("final",))``: its mono consumer receives ``("final",)``."""
    events: list[str] = []
    received: list[int] = []
    with FlowHDL() as f:
        f.src = counting_source(events, 10, catch=True, final=("final",))()
        f.stream_sink = cancelling_consumer(received, 0)(f.src)
        f.mono = Ident(f.src)
    f.run_until_complete()
    assert f.mono.get_data() == (("final",),)


def test_cancelled_at_value_reaches_mono_consumer() -> None:
    """``raise StopAsyncIteration(("cancelled_at", 2))`` in the handler → the mono
    consumer gets ``(("cancelled_at", 2),)``."""
    events: list[str] = []
    received: list[int] = []
    with FlowHDL() as f:
        f.src = counting_source(events, 10, catch=True, final=("cancelled_at", 2))()
        f.stream_sink = cancelling_consumer(received, 2)(f.src)
        f.mono = Ident(f.src)
    f.run_until_complete()
    assert received == [0, 1, 2]
    assert f.mono.get_data() == (("cancelled_at", 2),)


def test_unhandled_cancel_in_simple_producer_is_not_an_error() -> None:
    """A producer with no handler just ends; the consumer that cancelled at 2 returns
    ``0 + 1 + 2``."""

    @node
    async def Plain() -> AsyncIterator[int]:
        for i in range(10):
            yield i

    received: list[int] = []
    with FlowHDL() as f:
        f.src = Plain()
        f.sink = cancelling_consumer(received, 2)(f.src)
    f.run_until_complete()
    assert f.sink.get_data() == (3,)


def test_ints_into_mono_consumer_alongside_a_cancelling_stream_consumer() -> None:
    """With a streaming consumer cancelling after its first item, a mono sibling still
    receives an int (the accumulation of what was produced)."""
    received: list[int] = []

    @node
    async def OneTwoThree() -> AsyncIterator[int]:
        for i in (1, 2, 3):
            yield i

    with FlowHDL() as f:
        f.src = OneTwoThree()
        f.stream_sink = cancelling_consumer(received, 1)(f.src)
        f.mono = Ident(f.src)
    f.run_until_complete()
    assert len(received) >= 1
    value = f.mono.get_data()
    assert value is not None
    assert isinstance(value[0], int)


def test_mono_sibling_gets_accumulation_up_to_the_cancel() -> None:
    """A mono sibling of a stream cancelled right after chunk ``0`` receives ``0``."""
    events: list[str] = []
    received: list[int] = []
    with FlowHDL() as f:
        f.src = counting_source(events, 5)()
        f.stream_sink = cancelling_consumer(received, 0)(f.src)
        f.mono = Ident(f.src)
    f.run_until_complete()
    assert received == [0]
    assert f.mono.get_data() == (0,)


# --------------------------------------------------------------------------- propagation


def passthrough(name: str, saw: dict[str, bool], *, manual: bool = False, scale: int = 1) -> Any:
    """A stream-in/stream-out pass-through recording whether it saw ``StreamCancelled``;
    with ``manual`` it also cancels its own input in the handler."""

    @node(stream_in=["xs"])
    async def Pass(xs: Stream[int]) -> AsyncIterator[int]:
        try:
            async for x in xs:
                yield x * scale
        except StreamCancelled:
            saw[name] = True
            if manual:
                await xs.cancel()
            raise

    return Pass


def source_seen(saw: dict[str, bool], n: int = 10) -> Any:
    @node
    async def Source() -> AsyncIterator[int]:
        try:
            for i in range(n):
                yield i
        except StreamCancelled:
            saw["source"] = True
            raise

    return Source


@pytest.mark.parametrize("manual", [False, True])
def test_cancel_propagates_through_one_pass_through(manual: bool) -> None:
    """``Source → Pass → Consume`` cancelling at element 2: the consumer got
    ``[0, 1, 2]`` (result 3); Pass *and* Source saw ``StreamCancelled`` — automatically,
    or through a manual cancel in Pass's handler."""
    saw: dict[str, bool] = {}
    received: list[int] = []
    with FlowHDL() as f:
        f.src = source_seen(saw)()
        f.pass1 = passthrough("pass1", saw, manual=manual)(f.src)
        f.sink = cancelling_consumer(received, 2)(f.pass1)
    f.run_until_complete()
    assert received == [0, 1, 2]
    assert f.sink.get_data() == (3,)
    assert saw == {"pass1": True, "source": True}


def test_cancel_propagates_through_two_pass_throughs() -> None:
    """``Source → Pass1 → Pass2 → Consume`` cancelling at element 1: all three upstream
    nodes saw ``StreamCancelled``."""
    saw: dict[str, bool] = {}
    received: list[int] = []
    with FlowHDL() as f:
        f.src = source_seen(saw)()
        f.p1 = passthrough("p1", saw)(f.src)
        f.p2 = passthrough("p2", saw)(f.p1)
        f.sink = cancelling_consumer(received, 1)(f.p2)
    f.run_until_complete()
    assert received == [0, 1]
    assert saw == {"p1": True, "p2": True, "source": True}


def test_doubling_pass_through_cancelled_at_four() -> None:
    """A doubling pass-through; the consumer cancels at 4: it saw 0, 2, 4 → 6."""
    saw: dict[str, bool] = {}
    received: list[int] = []
    with FlowHDL() as f:
        f.src = source_seen(saw)()
        f.dbl = passthrough("dbl", saw, scale=2)(f.src)
        f.sink = cancelling_consumer(received, 4)(f.dbl)
    f.run_until_complete()
    assert received == [0, 2, 4]
    assert f.sink.get_data() == (6,)


def test_buffering_pass_through_reads_ahead() -> None:
    """A pass-through that yields with one element of lag: the consumer cancelling at
    1 received ``[0, 1]`` and the pass-through consumed at least 3 inputs."""
    consumed: list[int] = []
    saw: dict[str, bool] = {}
    received: list[int] = []

    @node(stream_in=["xs"])
    async def Buffer(xs: Stream[int]) -> AsyncIterator[int]:
        held: int | None = None
        try:
            async for x in xs:
                consumed.append(x)
                if held is not None:
                    yield held
                held = x
            if held is not None:
                yield held
        except StreamCancelled:
            saw["buffer"] = True
            raise

    with FlowHDL() as f:
        f.src = source_seen(saw)()
        f.buf = Buffer(f.src)
        f.sink = cancelling_consumer(received, 1)(f.buf)
    f.run_until_complete()
    assert received == [0, 1]
    assert len(consumed) >= 3


def test_pass_through_catching_the_cancel_may_read_more_input() -> None:
    """A pass-through that catches ``StreamCancelled`` at its ``yield`` can still read
    its next input (``1`` after ``0``)."""
    after: list[int] = []

    @node
    async def Src() -> AsyncIterator[int]:
        for i in range(5):
            yield i

    @node(stream_in=["xs"])
    async def Pass(xs: Stream[int]) -> AsyncIterator[int]:
        it = aiter(xs)
        first = await anext(it)
        try:
            yield first
        except StreamCancelled:
            after.append(await anext(it))

    received: list[int] = []
    with FlowHDL() as f:
        f.src = Src()
        f.p = Pass(f.src)
        f.sink = cancelling_consumer(received, 0)(f.p)
    f.run_until_complete()
    assert received == [0]
    assert after == [1]


# --------------------------------------------------------------------------- siblings


def test_cancel_ends_the_generation_for_sibling_consumers() -> None:
    """Consumer 1 cancels after seeing 1; consumer 2 just iterates: both saw
    ``[0, 1]`` and the source saw ``StreamCancelled``."""
    saw: dict[str, bool] = {}
    first: list[int] = []
    second: list[int] = []

    @node(stream_in=["xs"])
    async def Follower(xs: Stream[int]) -> list[int]:
        async for x in xs:
            second.append(x)
        return second

    with FlowHDL() as f:
        f.src = source_seen(saw)()
        f.c1 = cancelling_consumer(first, 1)(f.src)
        f.c2 = Follower(f.src)
    f.run_until_complete()
    assert first == [0, 1]
    assert second == [0, 1]
    assert saw == {"source": True}


def test_mixed_stream_and_mono_consumers_complete() -> None:
    """A cancelling stream consumer, a plain stream consumer and a mono consumer of one
    source: the run completes, the mono consumer holds a value."""
    saw: dict[str, bool] = {}
    first: list[int] = []

    @node(stream_in=["xs"])
    async def Plain(xs: Stream[int]) -> list[int]:
        return [x async for x in xs]

    with FlowHDL() as f:
        f.src = source_seen(saw)()
        f.c1 = cancelling_consumer(first, 1)(f.src)
        f.c2 = Plain(f.src)
        f.mono = Ident(f.src)
    f.run_until_complete()
    assert f.mono.get_data() is not None
    assert f.c2.get_data() is not None


def test_diamond_with_cancel_of_both_inputs() -> None:
    """``Source → (Pass, Times10) → Consumer(a, b)`` reading alternately and cancelling
    both inputs once the total exceeds 5: result > 5."""
    saw: dict[str, bool] = {}

    @node(stream_in=["a", "b"])
    async def Both(a: Stream[int], b: Stream[int]) -> int:
        total = 0
        ia, ib = aiter(a), aiter(b)
        while total <= 5:
            try:
                total += await anext(ia)
                total += await anext(ib)
            except StopAsyncIteration:
                break
        await a.cancel()
        await b.cancel()
        return total

    with FlowHDL() as f:
        f.src = source_seen(saw)()
        f.p1 = passthrough("p1", saw)(f.src)
        f.p2 = passthrough("p2", saw, scale=10)(f.src)
        f.sink = Both(f.p1, f.p2)
    f.run_until_complete()
    result = f.sink.get_data()
    assert result is not None
    assert result[0] > 5


def test_direct_consumer_cancel_then_return_source_events() -> None:
    """The producer gets the exception before the run ends:
    ``yield_0, cancelled, finally``."""
    events: list[str] = []

    @node(stream_in=["xs"])
    async def FirstOnly(xs: Stream[int]) -> int:
        x = await anext(xs)
        await xs.cancel()
        return x

    with FlowHDL() as f:
        f.src = counting_source(events, 5)()
        f.sink = FirstOnly(f.src)
    f.run_until_complete()
    assert f.sink.get_data() == (0,)
    assert events == ["yield_0", "cancelled", "finally"]


def test_first_consumer_cancels_before_second_reads() -> None:
    """Two consumers each reading one item, one cancelling: both results are ``(0,)``."""

    @node
    async def Many() -> AsyncIterator[int]:
        for i in range(10):
            yield i

    @node(stream_in=["xs"])
    async def CancelAfterOne(xs: Stream[int]) -> int:
        x = await anext(xs)
        await xs.cancel()
        return x

    @node(stream_in=["xs"])
    async def ReadOne(xs: Stream[int]) -> int:
        return await anext(xs)

    with FlowHDL() as f:
        f.src = Many()
        f.c1 = CancelAfterOne(f.src)
        f.c2 = ReadOne(f.src)
    f.run_until_complete()
    assert f.c1.get_data() == (0,)
    assert f.c2.get_data() == (0,)


# ---------------------------------------------------------------------- cancellation in a cycle


def test_cancellation_state_is_per_generation() -> None:
    """In a cycle, a consumer that cancelled in generation 0 reads the full stream in
    generation 1."""
    consumer_log: list[str] = []
    feedback: list[Any] = []

    @node
    async def Src(prev: Any = 0) -> AsyncIterator[int]:
        feedback.append(prev)
        for i in range(3):
            yield i

    @node(stream_in=["xs"])
    class Reader:
        runs = 0

        async def call(self, xs: Stream[int]) -> int:
            consumer_log.append("start")
            got: list[int] = []
            async for x in xs:
                got.append(x)
                if self.runs == 0:
                    await xs.cancel()
                    break
            self.runs += 1
            consumer_log.append(f"done_{got}")
            return 0

    with FlowHDL() as f:
        f.src = Src(f.reader)
        f.reader = Reader(f.src)  # type: ignore[call-arg]  # @node class: python/mypy#3135
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation={f.reader: (1,)})
    assert consumer_log == ["start", "done_[0]", "start", "done_[0, 1, 2]"]
    assert feedback == [0, 0]


def test_sibling_that_has_not_read_further_sees_only_the_first_item() -> None:
    """C1 reads item 0 and cancels before C2 asks for item 1: C2 sees only item 0."""
    c2_events: list[str] = []

    @node
    async def Three() -> AsyncIterator[int]:
        for i in range(3):
            yield i

    @node(stream_in=["xs"])
    async def C1(xs: Stream[int]) -> int:
        x = await anext(xs)
        await xs.cancel()
        return x

    @node(stream_in=["xs"])
    async def C2(xs: Stream[int]) -> int:
        async for x in xs:
            c2_events.append(f"read_{x}")
        return len(c2_events)

    with FlowHDL() as f:
        f.src = Three()
        f.c1 = C1(f.src)
        f.c2 = C2(f.src)
    f.run_until_complete()
    assert c2_events == ["read_0"]
    assert f.c1.get_data() == (0,)
