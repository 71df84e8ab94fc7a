"""The node model: decorator forms, ports, data store visibility, stateful nodes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from flowtrace import DraftNode, FlowHDL, Stream, node
from flowtrace.engine.node import Constant, FinalizedNode, OriginalCall


@node
async def Scale(x: float, factor: float = 2.0) -> float:
    return x * factor


@node(multiple_outputs=True)
async def DivMod(a: int, b: int) -> tuple[int, int]:
    return a // b, a % b


@node(stream_in=["chunks"])
async def Joiner(chunks: Stream[str], sep: str = "") -> str:
    return sep.join([c async for c in chunks])


@node
async def Letters(word: str) -> AsyncIterator[str]:
    for ch in word:
        yield ch


def test_decorator_derives_ports_defaults_and_run_levels() -> None:
    assert Scale._param_names == ["x", "factor"]
    assert Scale._default_values == {1: 2.0}
    assert Scale._minimum_run_level == [0, 0]
    assert Joiner._minimum_run_level == [1, 0]
    assert Joiner._default_values == {1: ""}
    assert Letters._is_stream_func is True
    assert Scale._is_stream_func is False
    assert isinstance(Scale._original_call, OriginalCall)
    assert Scale._original_call.func_name == "Scale"


def test_positional_function_wins_over_multiple_outputs_keyword() -> None:
    async def Pair() -> tuple[int, int]:
        return 1, 2

    cls = node(Pair, multiple_outputs=True)  # type: ignore[call-overload]
    assert cls._wrap_single is True


def test_multiple_outputs_rejects_classes_at_decoration() -> None:
    with pytest.raises(AttributeError):

        @node(multiple_outputs=True)
        class Nope:
            async def call(self) -> int:
                return 1


def test_construction_errors() -> None:
    with pytest.raises(TypeError, match="positional"):
        Scale(x=1.0)
    with pytest.raises(TypeError, match="takes 2"):
        Scale(1.0, 2.0, 3.0)


def test_stateful_class_needs_self_first() -> None:
    with pytest.raises(ValueError, match="First parameter must be 'self'"):

        @node
        class Bad:
            async def call(x) -> int:
                return 1


def test_stateful_state_is_copied_per_instance() -> None:
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
    assert f.a.items == [1]
    assert f.b.items == [2]
    assert repr(f.a).startswith("Bag#")


def test_draft_reprs_and_constants() -> None:
    with FlowHDL() as f:
        f.s = Scale(3.0)
    const = f.s._input_ports[0].connected_output.node
    assert isinstance(const._draft_node, Constant)
    assert const.node_id == "Constant#0"
    f.run_until_complete()
    assert f.s.get_data() == (6.0,)
    assert const.get_data() == (3.0,)


def test_draft_get_data_is_not_available() -> None:
    with pytest.raises(NotImplementedError):
        Scale(1.0).get_data()


def test_push_and_get_data_visibility() -> None:
    """The worked example of compatibility §2."""
    n = Scale(1.0)._blank_finalized()
    assert n.generation is None and n.get_data(0) is None
    n.push_data(("x",), 1)
    n.push_data(("y",), 1)
    assert n.generation == (0, 1)
    assert n.get_data(0) is None
    assert n.get_data(1) == ("y",)
    n.push_data(("xy",), 0)
    assert n.generation == (0,)
    assert n.get_data(0) == ("xy",)
    assert n.get_data(1) is None
    n.push_data(("z",), 1)
    assert n.generation == (1, 0)
    assert n.get_data(0) == ("xy",)
    assert n.get_data(1) == ("z",)
    assert n.get_data(2) is None
    with pytest.raises(ValueError, match="run level 2"):
        n.push_data(("w",), 2)


def test_finalized_node_forwards_user_attributes() -> None:
    @node
    class Holder:
        count = 3

        async def call(self) -> int:
            return self.count

    with FlowHDL() as f:
        f.h = Holder()
    assert isinstance(f.h, FinalizedNode)
    f.h.count = 9
    draft: Any = f.h._draft_node  # Holder's class attributes are mixed in at run time
    assert draft.count == 9
    f.run_until_complete()
    assert f.h.get_data() == (9,)
    with pytest.raises(AttributeError):
        _ = f.h.missing_attribute


def test_draftnode_subclass_defaults_come_from_call() -> None:
    class AddOne(DraftNode[Any]):
        async def call(self, x: int = 41) -> tuple[int]:
            return (x + 1,)

    assert AddOne._default_values == {0: 41}
    with FlowHDL() as f:
        f.n = AddOne()
    f.run_until_complete()
    assert f.n.get_data() == (42,)


def test_varargs_function_node_takes_any_number_of_inputs() -> None:
    @node
    async def Total(*xs: int) -> int:
        return sum(xs)

    with FlowHDL() as f:
        f.t = Total(1, 2, 3, 4)
    f.run_until_complete()
    assert f.t.get_data() == (10,)


def test_multiple_outputs_streaming_node_keeps_tuples() -> None:
    with FlowHDL() as f:
        f.dm = DivMod(17, 5)
        f.q = Scale(f.dm.output(0), 1)
        f.r = Scale(f.dm.output(1), 1)
    f.run_until_complete()
    assert f.dm.get_data() == (3, 2)
    assert f.q.get_data() == (3,)
    assert f.r.get_data() == (2,)
