"""Stream cancellation (compatibility §5) and its hazards (compatibility §9)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from flowtrace import FlowHDL, Stream, StreamCancelled, node, sleep
from flowtrace.events import Event, StreamCancelRequested
from flowtrace.events import StreamCancelled as StreamCancelledEvent
from flowtrace.instrument import InstrumentBase


class Rec(InstrumentBase):
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)


def make_source(log: list[str], n: int = 5) -> Any:
    @node
    async def Source() -> AsyncIterator[int]:
        try:
            for i in range(n):
                log.append(f"yield_{i}")
                yield i
        except StreamCancelled:
            log.append("cancelled")
            raise
        finally:
            log.append("finally")

    return Source


def test_cancel_then_return_throws_into_the_source_before_the_run_ends() -> None:
    log: list[str] = []

    @node(stream_in=["xs"])
    async def TakeOne(xs: Stream[int]) -> int:
        async for x in xs:
            await xs.cancel()
            return x
        return -1

    with FlowHDL() as f:
        f.src = make_source(log)()
        f.take = TakeOne(f.src)
    f.run_until_complete()
    assert f.take.get_data() == (0,)
    assert log == ["yield_0", "cancelled", "finally"]
    assert f.src.get_data() == (0,)


def test_reading_after_cancel_ends_the_stream() -> None:
    seen: list[Any] = []

    @node(stream_in=["xs"])
    async def Reader(xs: Stream[int]) -> list[Any]:
        async for x in xs:
            seen.append(x)
            if x == 2:
                await xs.cancel()
        seen.append("stop")
        return seen

    with FlowHDL() as f:
        f.src = make_source([], 10)()
        f.r = Reader(f.src)
    f.run_until_complete()
    assert seen == [0, 1, 2, "stop"]


def test_a_producer_that_ignores_the_cancel_does_not_hang_its_reader() -> None:
    """§6 item 9: Flowno leaves the cancelling reader stalled forever."""
    ignored: list[int] = []

    @node
    async def Stubborn() -> AsyncIterator[int]:
        for i in range(4):
            try:
                yield i
            except StreamCancelled:
                ignored.append(i)

    @node(stream_in=["xs"])
    async def Reader(xs: Stream[int]) -> list[int]:
        got = []
        async for x in xs:
            got.append(x)
            if x == 1:
                await xs.cancel()
        return got

    with FlowHDL() as f:
        f.src = Stubborn()
        f.r = Reader(f.src)
    f.run_until_complete()
    assert f.r.get_data() == ([0, 1],)
    assert ignored == [1]


def test_cancellation_ends_the_generation_for_sibling_readers() -> None:
    log: list[str] = []

    @node(stream_in=["xs"])
    async def Canceller(xs: Stream[int]) -> list[int]:
        got = []
        async for x in xs:
            got.append(x)
            if x == 1:
                await xs.cancel()
        return got

    with FlowHDL() as f:
        f.src = make_source(log, 5)()
        f.c1 = Canceller(f.src)
        f.c2 = Collect(f.src)
    f.run_until_complete()
    assert f.c1.get_data() == ([0, 1],)
    assert f.c2.get_data() == ([0, 1],)
    assert "cancelled" in log


@node(stream_in=["xs"])
async def Collect(xs: Stream[Any]) -> list[Any]:
    return [x async for x in xs]


def test_cancellation_propagates_upstream_through_pass_throughs() -> None:
    log: list[str] = []
    saw: list[str] = []

    def make_pass(name: str) -> Any:
        @node(stream_in=["xs"])
        async def Pass(xs: Stream[int]) -> AsyncIterator[int]:
            try:
                async for x in xs:
                    yield x
            except StreamCancelled:
                saw.append(name)
                raise

        return Pass

    @node(stream_in=["xs"])
    async def Consume(xs: Stream[int]) -> int:
        got = 0
        async for x in xs:
            got += 1
            if x == 1:
                await xs.cancel()
        return got

    rec = Rec()
    with FlowHDL() as f:
        f.src = make_source(log, 10)()
        f.p1 = make_pass("p1")(f.src)
        f.p2 = make_pass("p2")(f.p1)
        f.c = Consume(f.p2)
    f.run_until_complete(instruments=[rec])
    assert saw == ["p2", "p1"]
    assert "cancelled" in log
    requests = [e for e in rec.events if isinstance(e, StreamCancelRequested)]
    assert [(e.consumer, e.producer, e.propagated) for e in requests] == [
        ("c", "p2", False),
        ("p2", "p1", True),
        ("p1", "src", True),
    ]
    thrown = [e for e in rec.events if isinstance(e, StreamCancelledEvent)]
    assert [(e.producer, e.requested_by, e.handled) for e in thrown] == [
        ("p2", ("c",), False),
        ("p1", ("p2",), False),
        ("src", ("p1",), False),
    ]


def test_no_runaway_when_one_reader_cancels_while_another_waits() -> None:
    """§6 item 3: Flowno re-ran the source and both readers hundreds of times."""
    runs = {"src": 0, "c1": 0, "c2": 0}

    @node
    async def Src() -> AsyncIterator[int]:
        runs["src"] += 1
        for i in range(5):
            await sleep(0.005)
            yield i

    @node(stream_in=["xs"])
    async def C1(xs: Stream[int]) -> int:
        runs["c1"] += 1
        async for x in xs:
            await sleep(0.01)
            await xs.cancel()
            return x
        return -1

    @node(stream_in=["xs"])
    async def C2(xs: Stream[int]) -> list[int]:
        runs["c2"] += 1
        return [x async for x in xs]

    with FlowHDL() as f:
        f.src = Src()
        f.c1 = C1(f.src)
        f.c2 = C2(f.src)
    f.run_until_complete(virtual_time=True)
    assert runs == {"src": 1, "c1": 1, "c2": 1}
    assert f.c1.get_data() == (0,)
    assert f.c2.get_data() == ([0, 1, 2],)


def test_cancel_with_an_explicit_final_value() -> None:
    @node
    async def Src() -> AsyncIterator[int]:
        i = 0
        try:
            while True:
                yield i
                i += 1
        except StreamCancelled:
            raise StopAsyncIteration(("cancelled_at", i)) from None

    @node(stream_in=["xs"])
    async def Stop(xs: Stream[int]) -> int:
        async for x in xs:
            if x == 2:
                await xs.cancel()
                return x
        return -1

    @node
    async def Final(x: Any) -> Any:
        return x

    with FlowHDL() as f:
        f.src = Src()
        f.stop = Stop(f.src)
        f.final = Final(f.src)
    f.run_until_complete()
    assert f.final.get_data() == (("cancelled_at", 2),)


def test_cancelling_a_finished_generation_is_harmless() -> None:
    @node(stream_in=["xs"])
    async def Late(xs: Stream[int]) -> list[int]:
        got = [x async for x in xs]
        await xs.cancel()
        return got

    with FlowHDL() as f:
        f.src = make_source([], 2)()
        f.late = Late(f.src)
    f.run_until_complete()
    assert f.late.get_data() == ([0, 1],)
