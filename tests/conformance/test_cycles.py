"""Conformance: cycles, cycle breaking by defaults and generation limits
(compatibility §3, §4, §6).

A cycle is broken by running a node whose in-cycle inputs have defaults; the defaulted
edge then lags one generation behind. Limits stop a run with ``TerminateLimitReached``
right after the limited node stores the generation that reaches the limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from flowtrace import FlowHDL, Stream, TerminateLimitReached, node
from flowtrace.core.node_base import MissingDefaultError

pytestmark = pytest.mark.timeout(10)


@node
async def Identity(x: Any) -> Any:
    return x


@node
async def Increment(x: int = 42) -> int:
    return x + 1


@node
async def ToggleFromTrue(x: bool = True) -> bool:
    return not x


@node
async def ToggleFromFalse(x: bool = False) -> bool:
    return not x


@node(multiple_outputs=True)
async def Swap(x: int = -10, y: int = 13) -> tuple[int, int]:
    return y, x


@node
async def Add(x: int, y: int) -> int:
    return x + y


# --------------------------------------------------------------------------- self loops


@pytest.mark.parametrize(("limit", "expected"), [((0,), 43), ((1,), 44), ((2,), 45)])
def test_increment_self_loop(limit: tuple[int], expected: int) -> None:
    """``Increment(x=42)`` wired to itself: the first run uses the default, each later
    run reads the previous result."""
    with FlowHDL() as f:
        f.inc = Increment(f.inc)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation={f.inc: limit})
    assert f.inc.get_data() == (expected,)
    assert f.inc.generation == limit


@pytest.mark.parametrize(
    ("toggle", "results"),
    [(ToggleFromTrue, [False, True, False]), (ToggleFromFalse, [True, False, True])],
)
def test_toggle_self_loop(toggle: Any, results: list[bool]) -> None:
    """A toggle alternates starting from the negation of its default."""
    for gen, expected in enumerate(results):
        with FlowHDL() as f:
            f.t = toggle(f.t)
        with pytest.raises(TerminateLimitReached):
            f.run_until_complete(stop_at_node_generation={f.t: (gen,)})
        assert f.t.get_data() == (expected,)


@pytest.mark.parametrize(("gen", "value", "count"), [(0, False, 1), (1, True, 2), (2, False, 3)])
def test_stateful_toggle_counter(gen: int, value: bool, count: int) -> None:
    """A stateful toggle counts its runs: result and ``count`` after limits 0, 1, 2."""

    @node
    class ToggleCounter:
        count = 0

        async def call(self, x: bool = True) -> bool:
            self.count += 1
            return not x

    with FlowHDL() as f:
        f.toggle = ToggleCounter(f.toggle)  # type: ignore[call-arg]  # @node class: python/mypy#3135
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation={f.toggle: (gen,)})
    assert f.toggle.get_data() == (value,)
    assert f.toggle.count == count


@pytest.mark.parametrize(("limit", "expected"), [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0)])
def test_stateful_accumulator_doubles(limit: int, expected: float) -> None:
    """An accumulator (default input 1) wired to itself: 1.0, 2.0, 4.0, 8.0 under global
    limits ``(0,)..(3,)``."""

    @node
    class Accumulator:
        total = 0.0

        async def call(self, x: float = 1) -> float:
            self.total += x
            return self.total

    with FlowHDL() as f:
        f.acc = Accumulator(f.acc)  # type: ignore[call-arg]  # @node class: python/mypy#3135
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete((limit,))
    assert f.acc.get_data() == (expected,)


# --------------------------------------------------------------------------- multi input


def test_plain_node_reaches_its_limit_on_first_run() -> None:
    """``Add(5, 17)`` with limit ``{add: (0,)}`` → ``(22,)`` and the limit is raised."""
    with FlowHDL() as f:
        f.add = Add(5, 17)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation={f.add: (0,)})
    assert f.add.get_data() == (22,)


def test_cycle_through_increment_and_add_with_constant() -> None:
    """``inc = Increment(add)``, ``add = Add(inc, 17)``: the default 42 breaks the cycle,
    so add's first result is 43 + 17 = 60."""
    with FlowHDL() as f:
        f.inc = Increment(f.add)
        f.add = Add(f.inc, 17)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation={f.add: (0,)})
    assert f.add.get_data() == (60,)


def test_cycle_through_increment_feeding_both_add_ports() -> None:
    """``add = Add(inc, inc)`` → 43 + 43 = 86."""
    with FlowHDL() as f:
        f.inc = Increment(f.add)
        f.add = Add(f.inc, f.inc)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation={f.add: (0,)})
    assert f.add.get_data() == (86,)


def test_increment_double_cycle_sequence_under_global_limit() -> None:
    """``Increment(value=0)`` ⇄ ``Double`` with global limit ``(3,)`` runs
    I(0)=1, D(1)=2, I(2)=3, D(3)=6, I(6)=7, D(7)=14, I(14)=15 and stops."""
    log: list[str] = []

    @node
    async def Inc(value: int = 0) -> int:
        log.append(f"Increment({value}) => {value + 1}")
        return value + 1

    @node
    async def Double(value: int) -> int:
        log.append(f"Double({value}) => {value * 2}")
        return value * 2

    with FlowHDL() as f:
        f.inc = Inc(f.dbl)
        f.dbl = Double(f.inc)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation=(3,))
    assert log == [
        "Increment(0) => 1",
        "Double(1) => 2",
        "Increment(2) => 3",
        "Double(3) => 6",
        "Increment(6) => 7",
        "Double(7) => 14",
        "Increment(14) => 15",
    ]
    assert f.inc.generation == (3,)
    assert f.dbl.generation == (2,)


# --------------------------------------------------------------------------- swap


def test_swap_through_two_identities() -> None:
    """A swap node fed back through two identities: first run uses both defaults."""
    with FlowHDL() as f:
        f.swap = Swap(f.i0, f.i1)
        f.i0 = Identity(f.swap.output(0))
        f.i1 = Identity(f.swap.output(1))
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation={f.swap: (0,)})
    assert f.swap.get_data() == (13, -10)


@pytest.mark.parametrize(("gen", "expected"), [(0, (13, -10)), (1, (-10, 13)), (2, (13, -10))])
def test_swap_wired_to_itself(gen: int, expected: tuple[int, int]) -> None:
    """A two-output swap wired to itself alternates ``(13, -10)`` / ``(-10, 13)``."""
    with FlowHDL() as f:
        f.swap = Swap(f.swap.output(0), f.swap.output(1))
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation={f.swap: (gen,)})
    assert f.swap.get_data() == expected


def test_swap_built_twice_in_two_flows() -> None:
    """The same swap graph built and run twice, in two flows, gives ``(13, -10)``."""
    for _ in range(2):
        with FlowHDL() as f:
            f.swap = Swap(f.swap.output(0), f.swap.output(1))
        with pytest.raises(TerminateLimitReached):
            f.run_until_complete(stop_at_node_generation={f.swap: (0,)})
        assert f.swap.get_data() == (13, -10)


# --------------------------------------------------------------------------- missing defaults


def test_identity_self_loop_without_default_is_missing_default() -> None:
    """A cycle with no default anywhere raises ``MissingDefaultError`` mentioning
    defaults."""
    with FlowHDL() as f:
        f.loop = Identity(f.loop)
    with pytest.raises(MissingDefaultError) as info:
        f.run_until_complete(terminate_on_node_error=True, stop_at_node_generation=(2,))
    assert "default" in str(info.value).lower()


def test_self_loop_argument_without_default_is_missing_default() -> None:
    """A two-argument node whose self-loop argument lacks a default (the other argument
    is connected to a constant) still raises ``MissingDefaultError``."""

    @node
    async def TakeForever(x: int, me: Any) -> int:
        return x

    with FlowHDL() as f:
        f.forever = TakeForever(10, f.forever)
    with pytest.raises(MissingDefaultError):
        f.run_until_complete(terminate_on_node_error=True, stop_at_node_generation=(2,))


def test_missing_default_error_names_the_cycle_members() -> None:
    """The message starts like Flowno's ("Detected a cycle without default values...")
    and names every member of the default-less cycle."""
    with FlowHDL() as f:
        f.ping = Identity(f.pong)
        f.pong = Identity(f.ping)
    with pytest.raises(MissingDefaultError) as info:
        f.run_until_complete()
    message = str(info.value)
    assert message.startswith("Detected a cycle without default values")
    assert "ping" in message
    assert "pong" in message


# --------------------------------------------------------------------- streaming partial limits


@node
async def CountLetters() -> AsyncIterator[str]:
    for ch in ["a", "b", "c"]:
        yield ch


@node
async def TakeForeverDefault(x: Any, me: Any = None) -> Any:
    return x


def make_counter_loop() -> Any:
    with FlowHDL() as f:
        f.counter = CountLetters()
        f.forever = TakeForeverDefault(f.counter, f.forever)
    return f


def test_streaming_counter_driven_by_a_looping_mono_consumer() -> None:
    """The looping mono consumer re-demands the counter each generation; with global
    limit ``(2,)`` the counter stops at ``(2,)`` holding ``("abc",)``."""
    f = make_counter_loop()
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(terminate_on_node_error=True, stop_at_node_generation=(2,))
    assert f.counter.generation == (2,)
    assert f.counter.get_data() == ("abc",)


def test_streaming_limit_inside_a_later_generation() -> None:
    """Limit ``(3, 1)``: the counter stops on the second chunk of its fourth run, with
    the previous complete result ``("abc",)`` still visible at run level 0."""
    f = make_counter_loop()
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(terminate_on_node_error=True, stop_at_node_generation=(3, 1))
    assert f.counter.generation == (3, 1)
    assert f.counter.get_data(0) == ("abc",)
    assert f.counter.get_data(1) == ("b",)


@pytest.mark.parametrize(("limit", "chunk"), [((0, 0), "a"), ((0, 1), "b"), ((0, 2), "c")])
def test_streaming_limit_before_the_first_completion(limit: tuple[int, int], chunk: str) -> None:
    """Limits ``(0, j)`` stop on chunk j of the first run: no complete result yet."""
    f = make_counter_loop()
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(terminate_on_node_error=True, stop_at_node_generation=limit)
    assert f.counter.generation == limit
    assert f.counter.get_data(0) is None
    assert f.counter.get_data(1) == (chunk,)


def test_empty_tuple_limit_means_no_limit() -> None:
    """The default limit ``()`` never stops an acyclic flow."""
    with FlowHDL() as f:
        f.x = Add(1, 2)
    f.run_until_complete(stop_at_node_generation=())
    assert f.x.get_data() == (3,)


def test_global_limit_zero_stops_at_the_first_completed_run() -> None:
    """A global ``(0,)`` stops as soon as any node (even a hidden constant) finishes."""
    with FlowHDL() as f:
        f.x = Add(1, 2)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation=(0,))


# --------------------------------------------------------------------------- streaming cycles


@node
async def StreamList(words: list[str] | None = None) -> AsyncIterator[str]:
    for w in ["a", "b"] if words is None else words:
        yield w


@node(stream_in=["chars"])
async def Upcase(chars: Stream[str]) -> AsyncIterator[str]:
    async for c in chars:
        yield c.upper()


@node(stream_in=["chars"])
async def Reversed(chars: Stream[str]) -> list[str]:
    items = [c async for c in chars]
    return items[::-1]


@pytest.mark.parametrize(
    ("gen", "expected"),
    [(0, ["B", "A"]), (1, ["A", "B"]), (2, ["B", "A"]), (3, ["A", "B"])],
)
def test_streaming_toggle_through_upcase_and_reverse(gen: int, expected: list[str]) -> None:
    """list → stream → upper-case stream → reversed list → back: the reverser alternates."""
    with FlowHDL() as f:
        f.words = StreamList(f.reverse)
        f.upper = Upcase(f.words)
        f.reverse = Reversed(f.upper)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation={f.reverse: (gen,)})
    assert f.reverse.get_data() == (expected,)


@node(stream_in=["words"])
async def JoinReverse(words: Stream[str]) -> str:
    items = [w async for w in words]
    return " ".join(items[::-1])


@node
async def Split(sentence: str) -> list[str]:
    return sentence.split()


@pytest.mark.parametrize("gen", range(6))
def test_streaming_toggle_through_join_and_split(gen: int) -> None:
    """stream of words → joined in reverse → split → back: alternates
    ``["b", "a"]`` / ``["a", "b"]`` for six generations."""
    with FlowHDL() as f:
        f.words = StreamList(f.split)
        f.joined = JoinReverse(f.words)
        f.split = Split(f.joined)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation={f.split: (gen,)})
    assert f.split.get_data() == ((["b", "a"] if gen % 2 == 0 else ["a", "b"]),)


@node
async def StreamTwo(words: list[str] | None = None) -> AsyncIterator[str]:
    for w in ["a", "b"] if words is None else words:
        yield w


@node(stream_in=["stream"])
async def Collect(stream: Stream[str]) -> list[str]:
    return [w async for w in stream]


@pytest.mark.parametrize("gen", [0, 1])
def test_two_node_streaming_cycle_keeps_every_chunk(gen: int) -> None:
    """StreamTwo (default on the mono back edge) ⇄ Collect: ``["a", "b"]`` in
    generation 0 and again in generation 1 (no chunk lost in later generations)."""
    with FlowHDL() as f:
        f.stream = StreamTwo(f.collect)
        f.collect = Collect(f.stream)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation={f.collect: (gen,)})
    assert f.collect.get_data() == (["a", "b"],)


@node
async def StreamTwoNoDefault(words: list[str]) -> AsyncIterator[str]:
    for w in words:
        yield w


@node(stream_in=["stream"])
async def CollectOrDefault(stream: Stream[str] | None = None) -> list[str]:
    if stream is None:
        return ["a", "b"]
    return [w async for w in stream]


@pytest.mark.parametrize("gen", [0, 1])
def test_two_node_streaming_cycle_with_default_on_the_stream_edge(gen: int) -> None:
    """The default sits on the stream edge: the collector's first run is defaulted to
    ``["a", "b"]``; its second run reads the streamed ``a``, ``b``."""
    with FlowHDL() as f:
        f.stream = StreamTwoNoDefault(f.collect)
        f.collect = CollectOrDefault(f.stream)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation={f.collect: (gen,)})
    assert f.collect.get_data() == (["a", "b"],)


def test_source_only_stream_into_collector() -> None:
    """A stream of ``a, b, c`` collected into a list, limit ``{collector: (0,)}``."""

    @node
    async def Chunks(chunks: list[str] | None = None) -> AsyncIterator[str]:
        for c in chunks or ["a", "b", "c"]:
            yield c

    with FlowHDL() as f:
        f.stream = Chunks()
        f.joined = Collect(f.stream)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation={f.joined: (0,)})
    assert f.joined.get_data(0) == (["a", "b", "c"],)


# --------------------------------------------------------------------------- exact logs


def test_mono_two_node_cycle_log() -> None:
    """``A(x=None) ⇄ B(x)``, limit ``{A: (2,)}``: exactly ``A, B, A, B, A``."""
    log: list[str] = []

    @node
    async def A(x: Any = None) -> Any:
        log.append("A")
        return x

    @node
    async def B(x: Any) -> Any:
        log.append("B")
        return x

    with FlowHDL() as f:
        f.a = A(f.b)
        f.b = B(f.a)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete({f.a: (2,)})
    assert log == ["A", "B", "A", "B", "A"]


def test_mono_to_streaming_cycle_log() -> None:
    """Mono ``A(final_value=None)`` ⇄ streaming ``B`` (three chunks with log points
    before each yield and at the end), limit ``{A: (2,)}``."""
    log: list[str] = []

    @node
    async def A(final_value: Any = None) -> Any:
        log.append("A")
        return final_value

    @node
    async def B(value: Any) -> AsyncIterator[str]:
        log.append("B0")
        yield "0 "
        log.append("B1")
        yield "1 "
        log.append("B2")
        yield "2 "
        log.append("B3")

    with FlowHDL() as f:
        f.a = A(f.b)
        f.b = B(f.a)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete({f.a: (2,)})
    assert log == ["A", "B0", "B1", "B2", "B3", "A", "B0", "B1", "B2", "B3", "A"]
    assert f.a.get_data() == ("0 1 2 ",)


def test_stream_in_to_streaming_cycle_interleaves_chunk_by_chunk() -> None:
    """Stream-in ``A(xs=None)`` ⇄ streaming ``B``: after A's defaulted first run, A and
    B alternate chunk by chunk; limit ``{A: (2,)}`` gives the exact log."""
    log: list[str] = []

    @node(stream_in=["xs"])
    async def A(xs: Stream[str] | None = None) -> str:
        log.append("A.start")
        if xs is not None:
            async for x in xs:
                log.append(f"A{x.strip()}")
        log.append("A.done")
        return "hello"

    @node
    async def B(x: Any) -> AsyncIterator[str]:
        log.append("B0")
        yield "0 "
        log.append("B1")
        yield "1 "
        log.append("B2")
        yield "2 "
        log.append("B3")

    with FlowHDL() as f:
        f.a = A(f.b)
        f.b = B(f.a)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete({f.a: (2,)})
    one_round = ["B0", "A.start", "A0", "B1", "A1", "B2", "A2", "B3", "A.done"]
    assert log == ["A.start", "A.done", *one_round, *one_round]


def test_consumers_of_the_limiting_output_do_not_run() -> None:
    """The limit is checked before consumers are notified: when ``a`` reaches its limit
    its consumer never runs."""
    ran: list[str] = []

    @node
    async def Source() -> int:
        ran.append("a")
        return 1

    @node
    async def Sink(x: int) -> int:
        ran.append("b")
        return x

    with FlowHDL() as f:
        f.a = Source()
        f.b = Sink(f.a)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation={f.a: (0,)})
    assert ran == ["a"]
    assert f.b.get_data() is None
