"""Conformance: the ``@node`` decorator and the node model (compatibility §1).

Pinned: every decorator form yields a node class whose calls build ``DraftNode``s;
ports and defaults come from the signature; single-output wrapping vs multiple outputs;
stateful classes keep state across runs; ``DraftNode`` can be subclassed directly;
decoration- and run-time errors of the documented types.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from flowtrace import DraftNode, FlowHDL, Stream, TerminateLimitReached, node

pytestmark = pytest.mark.timeout(10)


@node
async def Scale(x: float, factor: float = 2.0) -> float:
    return x * factor


@node(multiple_outputs=True)
async def DivMod(a: int, b: int) -> tuple[int, int]:
    return a // b, a % b


@node
async def Letters(word: str) -> AsyncIterator[str]:
    for ch in word:
        yield ch


@node(stream_in=["chunks"])
async def Joiner(chunks: Stream[str], sep: str = "") -> str:
    return sep.join([c async for c in chunks])


@node
class Tally:
    seen = 0

    async def call(self, item: Any) -> int:
        self.seen += 1
        return self.seen


def test_every_decorator_form_builds_draft_nodes() -> None:
    """Plain, multi-output, streaming, stream-in and stateful node classes all build
    ``DraftNode`` instances."""
    # A @node class: mypy ignores class decorators (python/mypy#3135).
    for draft in (Scale(1.0), DivMod(7, 2), Letters("ab"), Joiner(None), Tally(1)):  # type: ignore[call-arg]
        assert isinstance(draft, DraftNode)


def test_decorator_with_empty_parentheses_and_explicit_false() -> None:
    """``@node()`` and ``@node(multiple_outputs=False)`` behave like bare ``@node``."""

    @node()
    async def A(x: int) -> int:
        return x + 1

    @node(multiple_outputs=False)
    async def B(x: int) -> int:
        return x * 10

    with FlowHDL() as f:
        f.a = A(1)
        f.b = B(f.a)
    f.run_until_complete()
    assert f.a.get_data() == (2,)
    assert f.b.get_data() == (20,)


def test_all_node_kinds_in_one_flow() -> None:
    """Mono with default, multi-output, streaming, stream-in (with default separator)
    and stateful nodes produce their documented results."""
    with FlowHDL() as f:
        f.scaled = Scale(3.0)
        f.dm = DivMod(17, 5)
        f.letters = Letters("abc")
        f.joined = Joiner(f.letters, "-")
        f.tally = Tally(f.joined)  # type: ignore[call-arg]  # @node class: python/mypy#3135
    f.run_until_complete()
    assert f.scaled.get_data() == (6.0,)
    assert f.dm.get_data() == (3, 2)
    assert f.joined.get_data() == ("a-b-c",)
    assert f.letters.get_data() == ("abc",)
    assert f.tally.get_data() == (1,)


def test_none_default_is_a_real_default() -> None:
    """A parameter defaulting to ``None`` may stay unconnected."""

    @node
    async def Maybe(x: Any = None) -> str:
        return "none" if x is None else "value"

    with FlowHDL() as f:
        f.m = Maybe()
    f.run_until_complete()
    assert f.m.get_data() == ("none",)


def test_plain_def_decorates_but_fails_when_run() -> None:
    """A non-async function decorates fine; running it raises ``TypeError`` out of the
    run."""

    @node
    def NotAsync() -> int:
        return 1

    with FlowHDL() as f:
        f.n = NotAsync()
    with pytest.raises(TypeError):
        f.run_until_complete()


def test_stateful_call_must_take_self_first() -> None:
    """A stateful class whose ``call`` does not start with ``self`` is rejected at
    decoration time with ``ValueError("First parameter must be 'self'")``."""
    with pytest.raises(ValueError, match="First parameter must be 'self'"):

        @node
        class Bad:
            async def call(this, x: int) -> int:
                return x


def test_multiple_outputs_on_a_class_fails_at_decoration() -> None:
    """``@node(multiple_outputs=True)`` accepts functions only; on a class it fails
    when decorating (Flowno: ``AttributeError``)."""
    with pytest.raises((AttributeError, TypeError)):

        @node(multiple_outputs=True)
        class Pair:
            async def call(self) -> tuple[int, int]:
                return 1, 2


def test_stateful_class_keeps_its_state_across_runs() -> None:
    """An accumulator class with ``total = 0.0`` and default input 1, wired to itself,
    gives 1.0, 2.0, 4.0, 8.0 for generations 0..3."""

    @node
    class Acc:
        total = 0.0

        async def call(self, x: float = 1) -> float:
            self.total += x
            return self.total

    for limit, expected in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0)]:
        with FlowHDL() as f:
            f.acc = Acc(f.acc)  # type: ignore[call-arg]  # @node class: python/mypy#3135
        with pytest.raises(TerminateLimitReached):
            f.run_until_complete(stop_at_node_generation=(limit,))
        assert f.acc.get_data() == (expected,)


def test_stateful_counter_alone_and_with_a_constant() -> None:
    """A stateful counter run once → ``(1,)``; an accumulator of constant 2.5 →
    ``(2.5,)``."""

    @node
    class Counter:
        count = 0

        async def call(self) -> int:
            self.count += 1
            return self.count

    @node
    class Acc:
        total = 0.0

        async def call(self, x: float) -> float:
            self.total += x
            return self.total

    with FlowHDL() as f:
        f.c = Counter()
        f.acc = Acc(2.5)  # type: ignore[call-arg]  # @node class: python/mypy#3135
    f.run_until_complete()
    assert f.c.get_data() == (1,)
    assert f.acc.get_data() == (2.5,)


def test_finalized_stateful_node_forwards_user_state() -> None:
    """After finalization ``f.node.attr`` reads and writes the user's state."""

    @node
    class Holder:
        count = 10

        async def call(self) -> int:
            return self.count

    with FlowHDL() as f:
        f.h = Holder()
    assert f.h.count == 10
    f.h.count = 20
    f.run_until_complete()
    assert f.h.get_data() == (20,)
    assert f.h.count == 20


def test_repr_uses_the_original_name() -> None:
    """Drafts are named after the function or class (``Scale#k``, ``Tally#k``)."""
    assert "Scale" in repr(Scale(1.0))
    assert "Tally" in repr(Tally(0))  # type: ignore[call-arg]  # @node class: python/mypy#3135


def test_mutable_class_state_is_not_shared_between_instances() -> None:
    """Flowno assigned class attributes by reference, so two instances shared one list;
    flowtrace gives each instance its own copy."""

    @node
    class Bag:
        items: list[int] = []  # noqa: RUF012

        async def call(self, x: int) -> int:
            self.items.append(x)
            return len(self.items)

    with FlowHDL() as f:
        f.a = Bag(1)  # type: ignore[call-arg]  # @node class: python/mypy#3135
        f.b = Bag(2)  # type: ignore[call-arg]  # @node class: python/mypy#3135
    f.run_until_complete()
    assert f.a.get_data() == (1,)
    assert f.b.get_data() == (1,)
    assert f.a.items == [1]
    assert f.b.items == [2]


def test_unknown_stream_in_names_are_ignored() -> None:
    """Names in ``stream_in`` that are not parameters are silently ignored."""

    @node(stream_in=["nope"])
    async def Plain(x: int) -> int:
        return x * 3

    assert list(Plain._minimum_run_level) == [0]
    with FlowHDL() as f:
        f.p = Plain(2)
    f.run_until_complete()
    assert f.p.get_data() == (6,)
