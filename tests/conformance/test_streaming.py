"""Conformance: streaming nodes and stream consumers (compatibility §1, §5).

A streaming node is an async generator: each ``yield`` is a run-level-1 chunk and the end
of the generator stores the run-level-0 result (accumulated str/int/float chunks, or the
value of an explicit ``raise StopAsyncIteration(value)``). Stream consumers pull; every
consumer sees every chunk at its own pace; mono consumers drive producers to completion.

Timing-dependent scenarios run on the loop's virtual time when the engine offers it
(see ``conftest.py``); delays are expressed in time units.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from flowtrace import Flow, FlowHDL, Stream, azip, node, sleep

pytestmark = pytest.mark.timeout(10)


@node
async def Ident(x: Any) -> Any:
    return x


@node
async def Upper(x: str) -> str:
    return x.upper()


@node(stream_in=["items"])
async def CollectList(items: Stream[Any]) -> list[Any]:
    return [item async for item in items]


# --------------------------------------------------------------------------- basics


def test_bare_flow_with_one_mono_node() -> None:
    """A ``Flow`` used directly with one blank-finalized node runs it: ``(42,)``."""

    @node
    async def FortyTwo() -> int:
        return 42

    flow = Flow()
    n = FortyTwo()._blank_finalized()
    flow.add_node(n)
    flow.run_until_complete()
    assert n.get_data() == (42,)


def test_streaming_node_without_consumers_stops_after_its_first_chunk() -> None:
    """Nobody pulls a consumer-less streaming node again: it holds its first chunk at
    run level 1 and no run-level-0 result, and the run ends normally."""

    @node(multiple_outputs=True)
    async def Once() -> AsyncIterator[tuple[int]]:
        yield (10,)

    flow = Flow()
    n = Once()._blank_finalized()
    flow.add_node(n)
    flow.run_until_complete()
    assert n.get_data(0) is None
    assert n.get_data(1) == (10,)


def test_mono_chain() -> None:
    """``"hello world"`` → upper-case → ``("HELLO WORLD",)``."""
    with FlowHDL() as f:
        f.src = Ident("hello world")
        f.up = Upper(f.src)
    f.run_until_complete()
    assert f.up.get_data() == ("HELLO WORLD",)


def test_stream_in_node_prepends_each_upper_cased_word() -> None:
    """Five streamed words into a stream-in node that prepends each upper-cased word:
    ``("BAR FOO ABC WORLD HELLO",)``; a global limit ``(2,)`` is never reached."""

    @node
    async def Words() -> AsyncIterator[str]:
        for w in ["hello", "world", "abc", "foo", "bar"]:
            yield w

    @node(stream_in=["words"])
    async def PrependUpper(words: Stream[str]) -> str:
        out: list[str] = []
        async for w in words:
            out.insert(0, w.upper())
        return " ".join(out)

    with FlowHDL() as f:
        f.words = Words()
        f.sentence = PrependUpper(f.words)
    f.run_until_complete(stop_at_node_generation=(2,))
    assert f.sentence.get_data() == ("BAR FOO ABC WORLD HELLO",)


def test_mono_consumer_of_a_stream_receives_the_accumulated_final_value() -> None:
    """A mono consumer of a word-streaming node drives it to completion and gets the
    concatenated sentence."""

    @node
    async def Sentence() -> AsyncIterator[str]:
        for w in ["hello", " ", "world"]:
            yield w

    with FlowHDL() as f:
        f.words = Sentence()
        f.up = Upper(f.words)
    f.run_until_complete()
    assert f.words.get_data() == ("hello world",)
    assert f.up.get_data() == ("HELLO WORLD",)


# --------------------------------------------------------------------------- explicit finals


def test_explicit_final_value_reaches_a_mono_consumer() -> None:
    """``raise StopAsyncIteration(sentence)`` sets the final value seen by mono nodes."""

    @node
    async def Talk() -> AsyncIterator[str]:
        yield "hel"
        yield "lo"
        raise StopAsyncIteration("hello world")

    with FlowHDL() as f:
        f.talk = Talk()
        f.up = Upper(f.talk)
    f.run_until_complete()
    assert f.up.get_data() == ("HELLO WORLD",)
    assert f.talk.get_data() == ("hello world",)


def test_explicit_final_after_one_chunk_overrides_the_accumulation() -> None:
    """One chunk ``"goodbye"`` then final ``"hello"``: the identity gets ``("hello",)``."""

    @node
    async def Bye() -> AsyncIterator[str]:
        yield "goodbye"
        raise StopAsyncIteration("hello")

    with FlowHDL() as f:
        f.src = Bye()
        f.out = Ident(f.src)
    f.run_until_complete()
    assert f.out.get_data() == ("hello",)


def test_explicit_final_with_two_mono_consumers() -> None:
    """Chunk ``"partial"`` + final ``"full"``: both mono consumers get ``("full",)``."""

    @node
    async def Partial() -> AsyncIterator[str]:
        yield "partial"
        raise StopAsyncIteration("full")

    with FlowHDL() as f:
        f.src = Partial()
        f.a = Ident(f.src)
        f.b = Ident(f.src)
    f.run_until_complete()
    assert f.a.get_data() == ("full",)
    assert f.b.get_data() == ("full",)


def test_multi_output_explicit_final_is_a_tuple_of_ports() -> None:
    """A multiple-output streaming node's explicit final is the tuple of port values."""

    @node(multiple_outputs=True)
    async def Both() -> AsyncIterator[tuple[str, int]]:
        yield ("x", 1)
        raise StopAsyncIteration(("done", 2))

    with FlowHDL() as f:
        f.both = Both()
        f.first = Ident(f.both.output(0))
        f.second = Ident(f.both.output(1))
    f.run_until_complete()
    assert f.first.get_data() == ("done",)
    assert f.second.get_data() == (2,)


def test_multi_output_explicit_final_must_be_a_tuple() -> None:
    """A non-tuple explicit final of a multiple-output generator is a ``ValueError``."""

    @node(multiple_outputs=True)
    async def Wrong() -> AsyncIterator[tuple[str, int]]:
        yield ("x", 1)
        raise StopAsyncIteration("not a tuple")

    with FlowHDL() as f:
        f.wrong = Wrong()
        f.out = Ident(f.wrong.output(0))
    with pytest.raises(ValueError):
        f.run_until_complete()


def test_running_sum_stream_with_explicit_final_completes() -> None:
    """Counter ``0..3`` → stream-in/stream-out running sum (explicit final) → printer;
    and the same with a one-chunk counter: both runs complete."""
    for count in (4, 1):
        seen: list[int] = []

        @node
        async def Counter(n: int) -> AsyncIterator[int]:
            for i in range(n):
                yield i

        @node(stream_in=["xs"])
        async def RunningSum(xs: Stream[int]) -> AsyncIterator[int]:
            total = 0
            async for x in xs:
                total += x
                yield total
            raise StopAsyncIteration(total)

        @node(stream_in=["xs"])
        async def Printer(xs: Stream[int]) -> None:
            async for x in xs:
                seen.append(x)  # noqa: B023

        with FlowHDL() as f:
            f.counter = Counter(count)
            f.sums = RunningSum(f.counter)
            f.printer = Printer(f.sums)
        f.run_until_complete()
        expected = [sum(range(k + 1)) for k in range(count)]
        assert seen == expected
        assert f.sums.get_data() == (expected[-1],)


# --------------------------------------------------------------------------- accumulation


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        (["hello", " world"], "hello world"),
        ([0, 1, 2], 3),
        ([0.5, 0.25], 0.75),
    ],
)
def test_str_int_float_chunks_accumulate(chunks: list[Any], expected: Any) -> None:
    """Without an explicit final, str/int/float chunks are summed into the rl0 result."""

    @node
    async def Emit() -> AsyncIterator[Any]:
        for c in chunks:
            yield c

    with FlowHDL() as f:
        f.src = Emit()
        f.out = Ident(f.src)
    f.run_until_complete()
    assert f.src.get_data() == (expected,)
    assert f.out.get_data() == (expected,)


# --------------------------------------------------------------------------- pipelines


@node
async def Words(words: list[str] | None = None) -> AsyncIterator[str]:
    for w in ["hello", "world"] if words is None else words:
        yield w


@node(stream_in=["words"])
async def UpcaseStream(words: Stream[str]) -> AsyncIterator[str]:
    async for w in words:
        yield w.upper()


@node(stream_in=["words"])
async def ReverseSentence(words: Stream[str]) -> str:
    items = [w async for w in words]
    return " ".join(reversed(items))


@node
async def Listify(sentence: str) -> list[str]:
    return sentence.split()


def test_words_upcase_reverse_pipeline() -> None:
    """``Words → Upcase → ReverseSentence`` → ``("WORLD HELLO",)``."""
    with FlowHDL() as f:
        f.words = Words()
        f.upper = UpcaseStream(f.words)
        f.reverse = ReverseSentence(f.upper)
    f.run_until_complete()
    assert f.reverse.get_data() == ("WORLD HELLO",)


def test_words_pipeline_closed_into_a_loop() -> None:
    """Feeding the reversed sentence back through ``Listify`` flips it again:
    ``{reverse: (1,)}`` → ``("HELLO WORLD",)``."""
    from flowtrace import TerminateLimitReached

    with FlowHDL() as f:
        f.words = Words(f.listify)
        f.upper = UpcaseStream(f.words)
        f.reverse = ReverseSentence(f.upper)
        f.listify = Listify(f.reverse)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation={f.reverse: (1,)})
    assert f.reverse.get_data() == ("HELLO WORLD",)


def test_stateful_streaming_class() -> None:
    """A stateful class whose ``call`` is an async generator yields ``"abc"`` three
    times into a collector."""

    @node
    class Repeat:
        text = "abc"

        async def call(self) -> AsyncIterator[str]:
            for _ in range(3):
                yield self.text

    with FlowHDL() as f:
        f.rep = Repeat()
        f.col = CollectList(f.rep)
    f.run_until_complete()
    assert f.col.get_data() == (["abc", "abc", "abc"],)


def test_stateful_stream_in_accumulator() -> None:
    """A stateful stream-in node sums ``1.0, 2.0, 3.0``: ``((6.0, 3),)`` with its
    instance state ``total == 6.0`` and ``count == 3``."""

    @node
    async def Floats() -> AsyncIterator[float]:
        for x in (1.0, 2.0, 3.0):
            yield x

    @node(stream_in=["xs"])
    class Summer:
        total = 0.0
        count = 0

        async def call(self, xs: Stream[float]) -> tuple[float, int]:
            async for x in xs:
                self.total += x
                self.count += 1
            return self.total, self.count

    with FlowHDL() as f:
        f.src = Floats()
        f.summer = Summer(f.src)  # type: ignore[call-arg]  # @node class: python/mypy#3135
    f.run_until_complete()
    assert f.summer.get_data() == ((6.0, 3),)
    assert f.summer.total == 6.0
    assert f.summer.count == 3


def test_azip_pipeline_of_two_ranges(timing: Any) -> None:
    """Two sleeping ranges ``0..2`` and ``100..102`` zipped piecewise with ``azip`` and
    summed: ``(306,)``."""
    u = timing.unit()

    @node
    async def Range(start: int, stop: int) -> AsyncIterator[int]:
        for i in range(start, stop + 1):
            await sleep(u)
            yield i

    @node(stream_in=["left", "right"])
    async def AddPiecewise(left: Stream[int], right: Stream[int]) -> AsyncIterator[int]:
        async for a, b in azip(left, right):
            yield a + b

    @node(stream_in=["xs"])
    async def Sum(xs: Stream[int]) -> int:
        total = 0
        async for x in xs:
            total += x
        return total

    with timing.new_hdl() as f:
        f.left = Range(0, 2)
        f.right = Range(100, 102)
        f.added = AddPiecewise(f.left, f.right)
        f.total = Sum(f.added)
    timing.run(f)
    assert f.total.get_data() == (306,)


def test_chunking_with_explicit_anext() -> None:
    """Four numbers (explicit final) → a pairing node reading with ``anext`` (its fifth
    read ends the stream) → a node summing the two pairs element-wise (its third read
    ends the stream) → ``((2, 4),)``."""
    ends: list[str] = []

    @node
    async def Four() -> AsyncIterator[int]:
        for x in (1, 2, 1, 2):
            yield x
        raise StopAsyncIteration(6)

    @node(stream_in=["xs"])
    async def Pairs(xs: Stream[int]) -> AsyncIterator[tuple[int, int]]:
        for _ in range(2):
            a = await anext(xs)
            b = await anext(xs)
            yield (a, b)
        try:
            await anext(xs)
        except StopAsyncIteration:
            ends.append("pairs")

    @node(stream_in=["pairs"])
    async def SumPairs(pairs: Stream[tuple[int, int]]) -> tuple[int, int]:
        p1 = await anext(pairs)
        p2 = await anext(pairs)
        try:
            await anext(pairs)
        except StopAsyncIteration:
            ends.append("sum")
        return (p1[0] + p2[0], p1[1] + p2[1])

    with FlowHDL() as f:
        f.four = Four()
        f.pairs = Pairs(f.four)
        f.sum = SumPairs(f.pairs)
    f.run_until_complete()
    assert f.sum.get_data() == ((2, 4),)
    assert sorted(ends) == ["pairs", "sum"]


def test_stream_object_attributes() -> None:
    """A ``Stream`` knows its consumer port (``input.node``, ``input.port_index``), its
    producer port (``output``) and its run level (1); ``aiter(stream)`` is the stream."""
    seen: dict[str, Any] = {}

    @node
    async def Src() -> AsyncIterator[int]:
        yield 1

    @node(stream_in=["xs"])
    async def Look(a: int, xs: Stream[int]) -> int:
        seen["port"] = xs.input.port_index
        seen["node"] = xs.input.node
        seen["producer"] = xs.output.node
        seen["run_level"] = xs.run_level
        seen["aiter_is_self"] = aiter(xs) is xs
        return sum([x async for x in xs])

    with FlowHDL() as f:
        f.src = Src()
        f.look = Look(0, f.src)
    f.run_until_complete()
    assert f.look.get_data() == (1,)
    assert seen["port"] == 1
    assert seen["node"] is f.look
    assert seen["producer"] is f.src
    assert seen["run_level"] == 1
    assert seen["aiter_is_self"] is True


# --------------------------------------------------------------------------- multi-consumer races


def _two_consumers(timing: Any, chunks: list[str], delays: list[list[float]]) -> list[list[str]]:
    """Run ``chunks`` into one stream consumer per entry of ``delays``; consumer ``i``
    sleeps ``delays[i][k]`` units before reading chunk ``k``. Returns what each saw."""
    u = timing.unit()
    results: list[list[str]] = [[] for _ in delays]

    @node
    async def Source() -> AsyncIterator[str]:
        for c in chunks:
            yield c

    def make_consumer(i: int) -> Any:
        @node(stream_in=["xs"])
        async def Consumer(xs: Stream[str]) -> list[str]:
            it = aiter(xs)
            k = 0
            while True:
                if k < len(delays[i]) and delays[i][k]:
                    await sleep(delays[i][k] * u)
                try:
                    item = await anext(it)
                except StopAsyncIteration:
                    break
                results[i].append(item)
                k += 1
            return results[i]

        return Consumer

    consumers = [make_consumer(i) for i in range(len(delays))]
    with timing.new_hdl() as f:
        f.src = Source()
        for i, cls in enumerate(consumers):
            setattr(f, f"c{i}", cls(f.src))
    timing.run(f)
    for i in range(len(delays)):
        assert getattr(f, f"c{i}").get_data() == (results[i],)
    return results


def test_fast_and_slow_consumer_of_one_chunk(timing: Any) -> None:
    """A fast and a slow (2.5 units) consumer of a single chunk both receive it."""
    results = _two_consumers(timing, ["only"], [[0], [2.5]])
    assert results == [["only"], ["only"]]


def test_consumers_with_small_and_large_delays(timing: Any) -> None:
    """Consumers delayed 0.5 and 2.5 units both receive the chunk."""
    results = _two_consumers(timing, ["only"], [[0.5], [2.5]])
    assert results == [["only"], ["only"]]


def test_fast_medium_slow_consumers_each_get_both_chunks_in_order(timing: Any) -> None:
    """Three consumers at different paces all see ``first, second`` in order."""
    results = _two_consumers(timing, ["first", "second"], [[0, 0], [1, 1], [2.5, 2.5]])
    assert results == [["first", "second"]] * 3


def test_mixed_per_chunk_delays(timing: Any) -> None:
    """Per-chunk mixed delays over ``alpha, beta, gamma``: both consumers get all three
    in order."""
    results = _two_consumers(timing, ["alpha", "beta", "gamma"], [[0, 2, 0], [1.5, 0, 1]])
    assert results == [["alpha", "beta", "gamma"]] * 2


def test_late_consumer_still_gets_the_chunk(timing: Any) -> None:
    """A consumer that starts reading 5 units late still gets ``quick``."""
    results = _two_consumers(timing, ["quick"], [[0], [5]])
    assert results == [["quick"], ["quick"]]


@pytest.mark.parametrize(
    ("source_delay", "c1_delay", "c2_delay"),
    [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 0.5, 1.5)],
)
def test_two_stream_consumers_log_each_event_exactly_once(
    timing: Any, source_delay: float, c1_delay: float, c2_delay: float
) -> None:
    """Under any mix of source/consumer delays each start and end marker appears once
    and each consumer logs each item exactly once."""
    u = timing.unit()
    log: list[str] = []

    @node
    async def Src() -> AsyncIterator[int]:
        log.append("source:start")
        for i in range(3):
            if source_delay:
                await sleep(source_delay * u)
            yield i
        log.append("source:end")

    def make(name: str, delay: float) -> Any:
        @node(stream_in=["xs"])
        async def C(xs: Stream[int]) -> None:
            log.append(f"{name}:start")
            async for x in xs:
                if delay:
                    await sleep(delay * u)
                log.append(f"{name}:{x}")
            log.append(f"{name}:end")

        return C

    with timing.new_hdl() as f:
        f.src = Src()
        f.c1 = make("c1", c1_delay)(f.src)
        f.c2 = make("c2", c2_delay)(f.src)
    timing.run(f)
    expected = ["source:start", "source:end"] + [
        f"{c}:{m}" for c in ("c1", "c2") for m in ("start", 0, 1, 2, "end")
    ]
    assert sorted(log) == sorted(expected)
    for c in ("c1", "c2"):
        assert [e for e in log if e.startswith(c)] == [
            f"{c}:start",
            f"{c}:0",
            f"{c}:1",
            f"{c}:2",
            f"{c}:end",
        ]


def test_stream_pipeline_with_stream_and_mono_consumers_of_a_pass_through() -> None:
    """The worked trace of spec §2.16: ``src`` yields ``a, b``; ``up`` (stream-in,
    streaming) upper-cases them; ``col`` collects ``up``'s stream and ``mono`` takes
    ``up``'s final value. Results: ``(["A", "B"],)`` and ``("AB",)``; ``src`` and ``up``
    hold ``("ab",)`` / ``("AB",)`` as their complete results."""

    @node
    async def Src() -> AsyncIterator[str]:
        yield "a"
        yield "b"

    with FlowHDL() as f:
        f.src = Src()
        f.up = UpcaseStream(f.src)
        f.col = CollectList(f.up)
        f.mono = Ident(f.up)
    f.run_until_complete()
    assert f.src.get_data() == ("ab",)
    assert f.up.get_data() == ("AB",)
    assert f.col.get_data() == (["A", "B"],)
    assert f.mono.get_data() == ("AB",)
    assert f.src.generation == (0,)
    assert f.up.generation == (0,)
