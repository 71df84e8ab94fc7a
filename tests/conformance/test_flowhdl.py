"""Conformance: graph construction with ``FlowHDL`` (compatibility §1, §6).

Pinned: placeholders before finalization, draft → finalized twins, multi-output wiring,
forward references, anonymous (nested) nodes, finalization errors with their message
fragments, node classes reused across two flows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from flowtrace import FlowHDL, TerminateLimitReached, node
from flowtrace.core.node_base import (
    DraftNode,
    DraftOutputPortRef,
    FinalizedNode,
    NodePlaceholder,
)

pytestmark = pytest.mark.timeout(10)


@node
async def Answer() -> int:
    return 42


@node(multiple_outputs=True)
async def TwoValues() -> tuple[int, int]:
    return 42, -101


@node
async def Ident(x: Any = None) -> Any:
    return x


@node
async def Need(x: Any) -> Any:
    return x


@node
async def Add(x: int, y: int = 0) -> int:
    return x + y


@node
async def Double(x: int) -> int:
    return x * 2


@node(multiple_outputs=True)
async def Swap(x: int = -10, y: int = 13) -> tuple[int, int]:
    return y, x


# --------------------------------------------------------------------------- placeholders


def test_unassigned_attribute_is_a_named_placeholder_until_finalized() -> None:
    """Inside an open view an unknown attribute reads as a ``NodePlaceholder`` carrying
    the attribute's name; once the view is finalized it raises ``AttributeError``."""
    f = FlowHDL()
    f.__enter__()
    ref = f.not_yet
    assert isinstance(ref, NodePlaceholder)
    assert ref.name == "not_yet"
    f.__exit__(None, None, None)
    with pytest.raises(AttributeError):
        _ = f.still_not_there


def test_unknown_attribute_after_empty_block_raises() -> None:
    """An empty block finalizes too: reading any public name afterwards fails."""
    with FlowHDL() as f:
        pass
    with pytest.raises(AttributeError):
        _ = f.anything


def test_underscore_attributes_are_plain_python_attributes() -> None:
    """Names starting with ``_`` bypass the node table."""
    with FlowHDL() as f:
        f._private = 5
        assert f._private == 5
        f.answer = Answer()
    assert f._private == 5


def test_drafts_inside_the_block_become_finalized_nodes_after_it() -> None:
    """A bound attribute is a ``DraftNode`` inside the block and a ``FinalizedNode``
    after it; a no-input node returning 42 stores ``(42,)``."""
    with FlowHDL() as f:
        f.answer = Answer()
        assert isinstance(f.answer, DraftNode)
    assert isinstance(f.answer, FinalizedNode)
    f.run_until_complete()
    assert f.answer.get_data() == (42,)


def test_self_references_build_and_outputs_of_drafts_are_port_refs() -> None:
    """Self-referencing nodes (whole node or ``.output(0)`` of a placeholder) build
    without error, and ``draft.output(i)`` is a ``DraftOutputPortRef``."""
    with FlowHDL() as f:
        f.a = Ident(f.a)
        f.b = Swap(f.b, f.b.output(1))
        f.c = Ident(f.c.output(0))
        assert isinstance(f.a, DraftNode)
        assert isinstance(f.a.output(0), DraftOutputPortRef)
        assert isinstance(f.b.output(1), DraftOutputPortRef)
        unknown = f.zzz
        assert isinstance(unknown, NodePlaceholder)
        assert unknown.name == "zzz"


# --------------------------------------------------------------------------- multi-output


def test_multiple_outputs_are_stored_as_the_returned_tuple() -> None:
    """A ``multiple_outputs=True`` node returning ``42, -101`` stores ``(42, -101)``."""
    with FlowHDL() as f:
        f.pair = TwoValues()
    f.run_until_complete()
    assert f.pair.get_data() == (42, -101)


def test_consumers_of_output_0_and_output_1_get_their_element() -> None:
    """``.output(0)`` / ``.output(1)`` wire the individual elements."""
    with FlowHDL() as f:
        f.pair = TwoValues()
        f.first = Ident(f.pair.output(0))
        f.second = Ident(f.pair.output(1))
    f.run_until_complete()
    assert f.pair.get_data(0) == (42, -101)
    assert f.first.get_data(0) == (42,)
    assert f.second.get_data(0) == (-101,)


def test_two_outputs_of_one_node_feed_one_adder() -> None:
    """``Add(t.output(0), t.output(1))`` over ``(42, 10)`` gives ``(52,)``."""

    @node(multiple_outputs=True)
    async def FortyTwoTen() -> tuple[int, int]:
        return 42, 10

    with FlowHDL() as f:
        f.t = FortyTwoTen()
        f.total = Add(f.t.output(0), f.t.output(1))
    f.run_until_complete(terminate_on_node_error=True)
    assert f.total.get_data() == (52,)


def test_single_output_node_returning_a_tuple_wraps_it() -> None:
    """A single-output node's tuple result is one value: ``return (1, 2)`` → ``((1, 2),)``."""

    @node
    async def Tup() -> tuple[int, int]:
        return (1, 2)

    with FlowHDL() as f:
        f.t = Tup()
    f.run_until_complete()
    assert f.t.get_data() == ((1, 2),)


# --------------------------------------------------------------------------- wiring


def test_wiring_is_visible_on_finalized_nodes() -> None:
    """A source has no input ports and lists its consumer; the consumer's port 0 points
    at (source, output 0)."""

    @node
    async def Ten() -> int:
        return 10

    with FlowHDL() as f:
        f.src = Ten()
        f.dst = Ident(f.src)

    assert dict(f.src._input_ports) == {}
    assert list(f.src.get_output_nodes()) == [f.dst]
    connected = f.dst._input_ports[0].connected_output
    assert connected.node is f.src
    assert connected.port_index == 0


def test_forward_reference_resolves_at_finalization() -> None:
    """Using ``f.inp`` before it is assigned works: both nodes hold ``(42,)``."""
    with FlowHDL() as f:
        f.out = Ident(f.inp)
        f.inp = Answer()
    f.run_until_complete()
    assert isinstance(f.out, FinalizedNode)
    assert f.inp.get_data(0) == (42,)
    assert f.out.get_data(0) == (42,)


def test_forward_references_wire_ports_in_order() -> None:
    """``Add(f.a, f.b)`` defined before ``f.a`` and ``f.b``: port 0 ← a, port 1 ← b."""
    with FlowHDL() as f:
        f.result = Add(f.a, f.b)
        f.a = Answer()
        f.b = Ident(8)
    ports = f.result._input_ports
    assert sorted(ports) == [0, 1]
    assert ports[0].connected_output.node is f.a
    assert ports[1].connected_output.node is f.b
    f.run_until_complete()
    assert f.result.get_data() == (50,)


def test_constant_arguments_become_hidden_constant_nodes() -> None:
    """Plain values (including ``None``) are wrapped in hidden ``Constant`` nodes."""
    from flowtrace.core.node_base import Constant

    with FlowHDL() as f:
        f.n = Ident(None)
    producer = f.n._input_ports[0].connected_output.node
    assert "Constant" in repr(producer)
    assert issubclass(Constant, DraftNode)
    f.run_until_complete()
    assert f.n.get_data() == (None,)


# --------------------------------------------------------------------------- cycles via HDL


def test_identity_self_loop_with_default_hits_a_global_limit() -> None:
    """``f.a = Ident(f.a)`` (default ``None``) with global limit ``(10,)`` raises
    ``TerminateLimitReached`` with the node at generation ``(10,)``."""
    with FlowHDL() as f:
        f.a = Ident(f.a)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete((10,))
    assert f.a.generation == (10,)


def test_two_identities_in_a_cycle_hit_a_global_limit() -> None:
    """A two-node cycle of defaulted identities stops with ``TerminateLimitReached``."""
    with FlowHDL() as f:
        f.even = Ident(f.odd)
        f.odd = Ident(f.even)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation=(10,))


# --------------------------------------------------------------------------- anonymous nodes


def test_nested_anonymous_identities() -> None:
    """``Ident(Ident(42))`` and a triple nesting both give ``(42,)``."""
    with FlowHDL() as f:
        f.two = Ident(Ident(42))
        f.three = Ident(Ident(Ident(42)))
    f.run_until_complete()
    assert f.two.get_data(0) == (42,)
    assert f.three.get_data(0) == (42,)


def test_orphan_statement_node_is_part_of_the_flow() -> None:
    """A bare ``Add(1, 2)`` statement still runs; the named node gets ``(42,)``."""
    ran: list[int] = []

    @node
    async def Noted(x: int, y: int) -> int:
        ran.append(x + y)
        return x + y

    with FlowHDL() as f:
        Noted(1, 2)
        f.result = Ident(42)
    f.run_until_complete()
    assert f.result.get_data() == (42,)
    assert ran == [3]


def test_anonymous_nodes_inside_a_cycle() -> None:
    """``start = Need(Double(Add(1, start)))`` (only ``Add``'s ``y=0`` is a default)
    computes 2, 6, 14; a limit ``{start: (2,)}`` stops with ``(14,)``."""
    with FlowHDL() as f:
        f.start = Need(Double(Add(1, f.start)))
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(stop_at_node_generation={f.start: (2,)})
    assert f.start.get_data() == (14,)


def test_one_anonymous_node_feeds_two_named_consumers() -> None:
    """``s = Add(5, 3)`` (anonymous) feeding ``Ident`` and ``Double`` → 8 and 16."""
    with FlowHDL() as f:
        s = Add(5, 3)
        f.same = Ident(s)
        f.twice = Double(s)
    f.run_until_complete()
    assert f.same.get_data() == (8,)
    assert f.twice.get_data() == (16,)


def test_anonymous_stream_into_named_sum() -> None:
    """An anonymous streaming source ``0..4`` into a stream-in sum → ``(10,)``."""

    @node
    async def Numbers() -> AsyncIterator[int]:
        for i in range(5):
            yield i

    @node(stream_in=["xs"])
    async def StreamSum(xs: Any) -> int:
        total = 0
        async for x in xs:
            total += x
        return total

    with FlowHDL() as f:
        f.total = StreamSum(Numbers())
    f.run_until_complete()
    assert f.total.get_data() == (10,)


def test_deep_nesting_and_two_paths_and_defaults() -> None:
    """``Ident(Double(Add(Ident(5), 3)))`` → 16; two paths from ``Add(2, 3)`` → 10 and 6
    (``Double`` and ``Add(.., 1)``); ``Ident(WithDefault())`` → the default 42."""

    @node
    async def WithDefault(v: int = 42) -> int:
        return v

    with FlowHDL() as f:
        f.deep = Ident(Double(Add(Ident(5), 3)))
        shared = Add(2, 3)
        f.p1 = Double(shared)
        f.p2 = Add(shared, 1)
        f.dflt = Ident(WithDefault())
    f.run_until_complete()
    assert f.deep.get_data() == (16,)
    assert f.p1.get_data() == (10,)
    assert f.p2.get_data() == (6,)
    assert f.dflt.get_data() == (42,)


def test_error_in_anonymous_node_propagates_unchanged() -> None:
    """An anonymous node raising ``ValueError("Test error")`` ends the run with that
    very exception."""
    boom = ValueError("Test error")

    @node
    async def Explode() -> int:
        raise boom

    with FlowHDL() as f:
        f.out = Ident(Explode())
    with pytest.raises(ValueError, match="Test error") as info:
        f.run_until_complete()
    assert info.value is boom


# --------------------------------------------------------------------------- finalization errors


def test_reference_never_defined_names_it() -> None:
    """A placeholder whose attribute is never assigned fails at the end of the block
    with ``AttributeError`` mentioning the name."""
    with pytest.raises(AttributeError, match="bar"), FlowHDL() as f:
        f.foo = Ident(f.bar)


def test_reference_to_non_node_value_names_it() -> None:
    """A placeholder bound to a non-node value (``f.baz = 999``) is an
    ``AttributeError`` mentioning ``baz``."""
    with pytest.raises(AttributeError, match="baz"), FlowHDL() as f:
        f.foo = Ident(f.baz)
        f.baz = 999


def test_unconnected_port_without_default_is_rejected() -> None:
    """A two-parameter node called with one argument (second has no default):
    ``AttributeError`` containing "is not connected and has no default value"."""

    @node
    async def Two(a: int, b: int) -> int:
        return a + b

    expected = "is not connected and has no default value"
    with pytest.raises(AttributeError, match=expected), FlowHDL() as f:
        f.two = Two(1)


def test_keyword_arguments_are_type_errors() -> None:
    """Node constructors accept positional arguments only (checked outside any FlowHDL
    block so no half-built draft is left behind)."""
    with pytest.raises(TypeError):
        Add(1, y=2)


def test_too_many_positional_arguments_are_a_type_error() -> None:
    """More arguments than parameters is a ``TypeError`` — at construction or, at the
    latest, when the node runs."""
    with pytest.raises(TypeError):
        with FlowHDL() as f:
            f.a = Add(1, 2, 3)
        f.run_until_complete()


def test_block_exception_is_not_suppressed() -> None:
    """An exception raised inside the ``with`` block leaves it unchanged."""
    with pytest.raises(KeyError, match="inside"), FlowHDL() as f:
        f.a = Answer()
        raise KeyError("inside")


# --------------------------------------------------------------------------- reuse


def test_node_classes_are_reusable_across_two_flows() -> None:
    """The same node classes build two independent graphs; the second (a swap node wired
    to itself, defaults ``-10, 13``, limit ``{swap: (0,)}``) gives ``(13, -10)``."""
    with FlowHDL() as f1:
        f1.answer = Ident(Answer())
    f1.run_until_complete()
    assert f1.answer.get_data() == (42,)

    with FlowHDL() as f2:
        f2.swap = Swap(f2.swap.output(0), f2.swap.output(1))
    with pytest.raises(TerminateLimitReached):
        f2.run_until_complete(stop_at_node_generation={f2.swap: (0,)})
    assert f2.swap.get_data() == (13, -10)
    # the first flow's data is untouched by the second
    assert f1.answer.get_data() == (42,)


def test_need_without_producer_data_is_not_confused_with_default() -> None:
    """A plain chain through a no-default node delivers the producer's value."""
    with FlowHDL() as f:
        f.src = Answer()
        f.need = Need(f.src)
    f.run_until_complete()
    assert f.need.get_data() == (42,)


def test_public_names_round_trip_any_value_inside_the_block() -> None:
    """Any public attribute assignment goes to the node table and reads back."""
    with FlowHDL() as f:
        f.number = 5
        assert f.number == 5
        f.answer = Answer()
    f.run_until_complete()
    assert f.answer.get_data() == (42,)


def test_reassigned_name_keeps_the_first_draft_in_the_flow() -> None:
    """Re-assigning a name rebinds it; the first draft still runs as an anonymous node."""
    ran: list[int] = []

    @node
    async def Noted(x: int) -> int:
        ran.append(x)
        return x

    with FlowHDL() as f:
        f.x = Noted(1)
        f.x = Noted(2)
    f.run_until_complete()
    assert f.x.get_data() == (2,)
    assert sorted(ran) == [1, 2]


# ------------------------------------------------------------------ Flow and FlowHDL internals


@node(multiple_outputs=True)
async def LeftCenterRight() -> tuple[str, str, str]:
    return ("Left", "Center", "Right")


def test_flow_accepts_drafts_and_connections_between_them() -> None:
    """``Flow()`` constructs; ``add_node``/``add_nodes`` accept drafts (idempotently);
    ``draft.output(0).connect(other.input(0))`` wires two drafts."""
    from flowtrace import Flow

    flow = Flow()
    first = Ident()
    second = Ident()
    flow.add_node(first)
    flow.add_nodes([first, second])
    first.output(0).connect(second.input(0))


def test_manual_enter_exit_with_a_node_injected_into_the_table() -> None:
    """A node placed straight into ``_nodes`` of a manually entered view is finalized
    and runs on the view's ``_flow``: ``("Left", "Center", "Right")``."""
    hdl = FlowHDL()
    ctx = hdl.__enter__()
    ctx._nodes["lcr"] = LeftCenterRight()
    ctx.__exit__(None, None, None)
    finalized = hdl._nodes["lcr"]
    hdl._flow.run_until_complete()
    assert finalized.get_data() == ("Left", "Center", "Right")


def test_self_looping_incrementer_on_the_underlying_flow() -> None:
    """``f.n = Looper(f.n.output(0))`` (default 0) run through ``f._flow`` with limit
    ``{n: (1,)}``: ``TerminateLimitReached`` and ``(2,)``."""

    @node
    async def Looper(x: int = 0) -> int:
        return x + 1

    with FlowHDL() as f:
        f.n = Looper(f.n.output(0))
    with pytest.raises(TerminateLimitReached):
        f._flow.run_until_complete(stop_at_node_generation={f.n: (1,)})
    assert f.n.get_data() == (2,)


def test_two_outputs_concatenated_by_a_multi_output_node() -> None:
    """Outputs 0 and 1 of the three-output node joined by a one-element multi-output
    node: ``("LeftCenter",)``."""

    @node(multiple_outputs=True)
    async def Append(x: str = "", y: str = "") -> tuple[str]:
        return (x + y,)

    with FlowHDL() as f:
        f.lcr = LeftCenterRight()
        f.joined = Append(f.lcr.output(0), f.lcr.output(1))
    f.run_until_complete()
    assert f.joined.get_data() == ("LeftCenter",)
